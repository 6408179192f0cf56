#!/bin/bash
# lrun cp: host -> container and back, for created, running and stopped
# containers, directories (with dir/. for the content), tar on stdin and
# stdout with "-", container to container, podman's errors; and the
# attacks: links the container made (absolute, relative with ../, in the
# last component and in the middle) never lead cp to the host, and a tar
# on stdin cannot climb out with ../.
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
is "$(cat "$T/hostonly/secret")" secret "a link as the last component is replaced, its host target untouched"
run L cp "$H/dir" evil:/root-link/
ok_cmd "a link to / is the container's root" test -f "$(ctr_layer_dir evil)/diff/dir/sub/f"
printf 'x' >"$T/esc-src" && tar -C "$T" -cf "$T/esc.tar" --transform 's|esc-src|../../../../../tmp/lrun-cp-escaped|' esc-src
run L cp - evil:/ <"$T/esc.tar"
is "$rc" 125 "a tar on stdin with ../ is refused"
ok_cmd "… nothing escaped" test ! -e /tmp/lrun-cp-escaped
is "$(mounts_below "$R" | wc -l)" 0 "no mount left behind"

done_testing
