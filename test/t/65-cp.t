#!/bin/bash
# lrun cp: host -> container and back, for created, running and stopped
# containers, directories (with dir/. for the content), tar on stdin and
# stdout with "-", container to container, podman's errors; and the
# attacks: links the container made (absolute, relative with ../, in the
# last component and in the middle) never lead cp to the host, and a tar
# on stdin cannot climb out with ../.  As podman's cp: a link as the last
# name is followed inside the container (out of it and onto it), a stopped
# container's volumes and binds are where the copy goes, a tmpfs starts
# with the image's content (tmpcopyup), --overwrite, -a=false, podman's
# messages for stdin/stdout misuse; a link on the host is never replaced;
# a --pid=host container is copied into and out of as any other.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
H=$T/host && mkdir -p "$H/dir/sub" && echo one >"$H/file" && echo two >"$H/dir/sub/f" && chmod 640 "$H/file"

# --- a created container (never started): through its layer ----------------------------
L create --name c "$IMG" sh >/dev/null
run L cp "$H/file" c:/tmp/
is "$rc/$out/$err" "0//" "cp FILE c:/tmp/ into a created container"
run L cp c:/tmp/file "$T/back"
is "$rc/$(cat "$T/back")/$(stat -c %a "$T/back")" "0/one/640" "… and back out: content and mode"
is "$(cat "$(ctr_layer_dir c)/diff/tmp/file")" one "the file is in the container's layer"
run L cp "$H/dir" c:/tmp/
is "$rc/$(cat "$(ctr_layer_dir c)/diff/tmp/dir/sub/f")" "0/two" "a directory into a directory: DIR/name"
run L cp "$H/dir/." c:/tmp/
is "$rc/$(cat "$(ctr_layer_dir c)/diff/tmp/sub/f")" "0/two" "DIR/. copies what it holds"
run L cp "$H/dir" c:/newdir
is "$rc/$(cat "$(ctr_layer_dir c)/diff/newdir/sub/f")" "0/two" "a directory to a new name"
L create --name w -w /tmp "$IMG" true >/dev/null
run L cp "$H/file" w:relative.txt
is "$rc/$(cat "$(ctr_layer_dir w)/diff/tmp/relative.txt")" "0/one" "a relative container path is under the working directory"
run L cp "$H/file" c:/etc/renamed
is "$(cat "$(ctr_layer_dir c)/diff/etc/renamed")" one "to a new name in an existing directory"
is "$(stat -c %u:%g "$(ctr_layer_dir c)/diff/etc/renamed")" "0:0" "files from the host belong to root in the container"
chown 1042:1043 "$H/file"
L cp --archive=false "$H/file" c:/etc/kept >/dev/null
is "$(stat -c %u:%g "$(ctr_layer_dir c)/diff/etc/kept")" "1042:1043" "--archive=false keeps the host's owners"

# --- errors as podman's --------------------------------------------------------------------
run L cp "$H/nope" c:/tmp
is "$rc" 125 "a missing host file: 125"
like "$err" "^Error: \"$H/nope\" could not be found on the host" "… podman's message"
run L cp "$H/file" c:/IdoNotExist/
is "$rc/$err" "125/Error: \"/IdoNotExist/\" could not be found on container c: no such file or directory$nl" \
	"a missing container directory: podman's message"
run L cp c:/nope "$T/x"
is "$rc/$err" "125/Error: \"/nope\" could not be found on container c: no such file or directory$nl" \
	"a missing container file: podman's message"
run L cp "$H/dir" c:/etc/passwd
is "$rc/$err" "125/Error: destination must be a directory when copying a directory$nl" "a directory onto a file"
run L cp c:/etc "$H/file"
is "$rc/$err" "125/Error: destination must be a directory when copying a directory$nl" "… and the other way"
run L cp nosuch:/etc "$T/x"
is "$rc" 125 "no such container: 125"
run L cp "$H/file" "$T/y"
is "$rc" 125 "two host paths are refused"

# --- running: through /proc/PID/root, mounts included ------------------------------------
L run -d --name r --tmpfs /scratch "$IMG" sleep 60 >/dev/null
run L cp "$H/file" r:/scratch/f
is "$rc/$(L exec r cat /scratch/f)" "0/one" "into a running container's tmpfs"
run L cp r:/etc "$T/etcout"
is "$rc/$(cat "$T/etcout/hostname")" "0/$(L exec r cat /etc/hostname)" "a directory out of a running container"

# --- tar on stdin and stdout ----------------------------------------------------------------
L cp r:/scratch/f - >"$T/out.tar"
is "$?/$(tar -tf "$T/out.tar")/$(tar -xOf "$T/out.tar")" "0/f/one" "cp CTR:FILE - writes a tar"
L cp c:/tmp/dir - >"$T/out2.tar"
is "$(tar -tf "$T/out2.tar" | sort | tr '\n' ' ')" "dir/ dir/sub/ dir/sub/f " "… a directory with its name"
tar -C "$H" --owner=1042 --group=1043 --numeric-owner -cf "$T/a.tar" file dir
run L cp - r:/scratch/ <"$T/a.tar"
is "$rc/$(L exec r sh -c 'cat /scratch/dir/sub/f; stat -c %u:%g /scratch/file' 2>/dev/null)" "0/two${nl}1042:1043" \
	"cp - CTR:DIR extracts a tar, owners as the tar says"
run L cp - r:/scratch/none <"$T/a.tar"
is "$rc" 125 "… into a directory only"

# --- container to container ----------------------------------------------------------------
run L cp c:/etc/renamed r:/scratch/from-c
is "$rc/$(L exec r cat /scratch/from-c)" "0/one" "container to container"
L stop -t 0 r >/dev/null 2>&1
run L cp r:/etc/hostname "$T/h2"
is "$rc" 0 "out of a stopped container"

# --- attacks: links the container made -----------------------------------------------------
mkdir -p "$T/hostonly" && echo secret >"$T/hostonly/secret"
L run --name evil "$IMG" sh -c "mkdir -p $T/hostonly; ln -s $T/hostonly /abs; ln -s ../../../../../../../..$T/hostonly /rel;
	mkdir -p /d; ln -s $T/hostonly/secret /d/file; ln -s / /root-link" >/dev/null 2>&1
run L cp evil:/abs/secret "$T/got1"
is "$rc" 125 "cp out through an absolute link to a host path: not found"
ok_cmd "… nothing read from the host" test ! -e "$T/got1"
run L cp evil:/rel/secret "$T/got2"
is "$rc" 125 "… through a relative link climbing with ../"
run L cp evil:/d "$T/gotd"
is "$(readlink "$T/gotd/file")" "$T/hostonly/secret" "a link inside a copied directory is copied as a link"
ok_cmd "… its target not read" test -L "$T/gotd/file"
run L cp "$H/file" evil:/abs/planted
ok_cmd "cp in through an absolute link does not write the host" test ! -e "$T/hostonly/planted"
is "$(cat "$(ctr_layer_dir evil)/diff$T/hostonly/planted" 2>/dev/null)" one "… it lands inside the container"
run L cp "$H/file" evil:/rel/planted2
ok_cmd "… nor through a relative one" test ! -e "$T/hostonly/planted2"
run L cp "$H/file" evil:/d/file
is "$(cat "$T/hostonly/secret")" secret "a link as the last component is followed inside the container, its host target untouched"
run L cp "$H/dir" evil:/root-link/
ok_cmd "a link to / is the container's root" test -f "$(ctr_layer_dir evil)/diff/dir/sub/f"
printf 'x' >"$T/esc-src" && tar -C "$T" -cf "$T/esc.tar" --transform 's|esc-src|../../../../../tmp/lrun-cp-escaped|' esc-src
run L cp - evil:/ <"$T/esc.tar"
is "$rc" 125 "a tar on stdin with ../ is refused"
ok_cmd "… nothing escaped" test ! -e /tmp/lrun-cp-escaped

# --- links followed as podman's cp follows them ----------------------------------------------
L run --name ln "$IMG" sh -c 'mkdir -p /tmp/sub /tmp/d1; echo c0 >/tmp/c0; cd /tmp/sub && ln -s .. weirdlink;
	ln -s /tmp/nonesuch1 /tmp/d1/x; ln -s "file*" /copyme' >/dev/null
run L cp ln:/tmp/sub/weirdlink "$T/wl"
is "$rc/$(cat "$T/wl/c0" 2>&1)" "0/c0" "cp out of a link to ..: the directory it points to"
run L cp "$H/file" ln:/tmp/d1/x
is "$rc/$(cat "$(ctr_layer_dir ln)/diff/tmp/nonesuch1" 2>&1)" "0/one" "cp onto a dangling link: the file is made where it points"
ok_cmd "… the link stays" test -L "$(ctr_layer_dir ln)/diff/tmp/d1/x"
run L cp "$H/file" ln:/tmp/d1/y/
is "$rc/$err" "125/Error: \"/tmp/d1/y/\" could not be found on container ln: no such file or directory$nl" \
	"a destination DIR/ that does not exist: podman's message"
run L cp ln:/copyme "$T/cm"
is "$rc/$err" "125/Error: \"/copyme\" could not be found on container ln: no such file or directory$nl" \
	"a link to a name that is not there: not found (no glob)"
ok_cmd "… nothing copied" test ! -e "$T/cm"
run L cp ln:no-such "$T/ns"
is "$rc/$err" "125/Error: \"no-such\" could not be found on container ln: no such file or directory$nl" \
	"a relative path (under the working directory): the message names it as written"
run L cp ln:/tmp/. c:/tmp/fromln
is "$rc/$(cat "$(ctr_layer_dir c)/diff/tmp/fromln/c0" 2>&1)" "0/c0" "container to container, DIR/.: what it holds"

# --- a stopped container's volumes and binds; a tmpfs's copy-up -----------------------------
mkdir -p "$T/bindm"
L volume create cpv1 >/dev/null && L volume create cpv2 >/dev/null
L create --name vc -v cpv1:/tmp/volume -v cpv2:/tmp/volume/sub -v "$T/bindm:/tmp/volume/mount" "$IMG" sh >/dev/null
run L cp "$H/file" vc:/tmp/volume/sub
is "$rc/$(ls "$R/volumes/cpv2/_data")/$(ls "$R/volumes/cpv1/_data")" "0/file/" \
	"cp into a created container's volume (mounted in another volume): that volume, no mount point in the other"
run L cp "$H/file" vc:/tmp/volume/mount
is "$rc/$(cat "$T/bindm/file" 2>&1)" "0/one" "… and into its bind mount"
run L cp vc:/tmp/volume/sub/file "$T/fromvol"
is "$rc/$(cat "$T/fromvol" 2>&1)" "0/one" "… and out of the volume"
L create --name tc --mount type=tmpfs,dst=/etc "$IMG" sleep 60 >/dev/null
run L cp "$H/file" tc:/etc/
L start tc >/dev/null
run L exec tc cat /etc/file /etc/passwd
like "$rc/$out" "^0/one${nl}root:" "cp into a created container's tmpfs mount point: the tmpfs starts with it and the image's files"
run L run --rm --tmpfs /etc:notmpcopyup "$IMG" ls /etc/passwd
is "$rc" 1 "--tmpfs DIR:notmpcopyup: an empty tmpfs"

# --- --overwrite, -a=false, stdin and stdout --------------------------------------------------
L run -d --name ow "$IMG" sh -c 'mkdir /tmp/foo; echo bar >/tmp/bar; sleep 60' >/dev/null
wait_for 5 L exec ow cat /tmp/bar >/dev/null 2>&1
mkdir -p "$T/ow" && echo hostfoo >"$T/ow/foo"
run L cp "$T/ow/foo" ow:/tmp
is "$rc/$err" "125/Error: copying \"/tmp\": error creating \"/tmp/foo\": open /tmp/foo: file exists$nl" \
	"a file onto a directory: refused without --overwrite"
run L cp --overwrite "$T/ow/foo" ow:/tmp
is "$rc/$(L exec ow cat /tmp/foo)" "0/hostfoo" "… replaced with --overwrite"
mkdir "$T/ow/bar"
run L cp ow:/tmp/bar "$T/ow"
is "$rc/$err" "125/Error: copying \"/tmp/bar\": error creating \"/bar\": open /bar: file exists$nl" \
	"out: a file onto a host directory: refused"
run L cp --overwrite ow:/tmp/bar "$T/ow"
is "$rc/$(cat "$T/ow/bar")" "0/bar" "… replaced with --overwrite"
echo mine >"$T/ow/real" && ln -s "$T/ow/real" "$T/ow/lnk"
run L cp ow:/tmp/bar "$T/ow/lnk"
is "$rc/$(readlink "$T/ow/lnk")/$(cat "$T/ow/real")" "0/$T/ow/real/bar" "a host link as destination is written through, not replaced"
L cp ow:/tmp/bar /dev/stdout 2>"$T/ow/err" | cat >/dev/null
is "${PIPESTATUS[0]}/$(cat "$T/ow/err")" '125/Error: invalid destination: "/dev/stdout" must be a directory or a regular file' \
	"cp to /dev/stdout on a pipe: podman's refusal"
is "$(readlink /dev/stdout)" /proc/self/fd/1 "… the host's /dev/stdout is untouched"
echo notatar | L cp - ow:/tmp 2>"$T/ow/err"
is "$?/$(cat "$T/ow/err")" "125/Error: source must be a (compressed) tar archive when copying from stdin" "stdin that is no tar"
tar -C "$H" -cf "$T/ow/in.tar" file
L cp - ow:/tmp/none <"$T/ow/in.tar" 2>"$T/ow/err"
is "$?/$(cat "$T/ow/err")" "125/Error: destination must be a directory when copying from stdin" "stdin into no directory"
echo owned >"$T/ow/owned" && chown 1234:2345 "$T/ow/owned"
run L cp -a=false "$T/ow/owned" ow:/tmp/
is "$rc/$(L exec ow ls -ln /tmp/owned | awk '{print $3, $4}')" "0/1234 2345" "cp -a=false (pflag's short form): the host's owners kept"

# --- a container in the host's pid namespace (--pid=host) ----------------------------------
L run --pid=host -d --name ph "$IMG" sleep 60 >/dev/null
is "$(L exec ph cat /proc/1/comm)" "$(cat /proc/1/comm)" "--pid=host: the container sees the host's pid 1"
run L cp "$H/file" ph:/tmp/hostfile
is "$rc/$(L exec ph cat /tmp/hostfile)" "0/one" "cp into a --pid=host container"
run L cp ph:/tmp/hostfile "$T/ph-back"
is "$rc/$(cat "$T/ph-back")" "0/one" "… and back out"
run L rm -t 0 -f ph
is "$rc/$out" "0/ph$nl" "… it is removed"
run L run --rm --pid=bogus "$IMG" true
is "$rc/$err" "125/Error: invalid --pid \"bogus\": use private, host or container:NAME$nl" "a bad --pid: 125"

is "$(mounts_below "$R" | wc -l)" 0 "no mount left behind"

done_testing
