#!/bin/bash
# Volumes as podman has them: volume create|ls|inspect|rm|prune|exists (the
# local driver, -o type=tmpfs|bind, labels), under the graph root as
# volumes/NAME/_data; -v NAME:/dst[:ro], anonymous -v /dst, --mount
# type=bind|volume|tmpfs, --tmpfs, --volumes-from, rm -v, run --rm, the
# copy-up of the image's content into a new volume, duplicate destinations,
# and the volumes in system df (-v, --format).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# --- volume create / ls / inspect / exists ---------------------------------------------
run L volume ls --noheading
is "$rc/$out" "0/" "volume ls: nothing at first"
run L volume create --label l=one -l flag myvol
is "$rc/$out/$err" "0/myvol$nl/" "volume create prints the name"
ok_cmd "the volume is volumes/myvol/_data under the graph root" test -d "$R/volumes/myvol/_data"
run L volume create myvol
is "$rc/$err" "125/Error: volume with name myvol already exists: volume already exists$nl" "create twice: podman's error"
run L volume create --ignore myvol
is "$rc/$out" "0/myvol$nl" "--ignore: the existing volume"
run L volume create 'bad name'
is "$rc" 125 "a bad name is refused"
like "$err" 'names must match' "… with podman's rule"
run L volume create -o type=bind -o device=/bogus bv
is "$rc/$err" "125/Error: invalid volume option device for driver 'local': stat /bogus: no such file or directory$nl" \
	"a bind volume's device must exist"
run L volume create -o foo=bar ov
is "$rc/$err" "125/Error: invalid mount option foo for driver 'local': invalid argument$nl" "an unknown option is refused"
ok_cmd "a refused volume leaves no directory" test ! -e "$R/volumes/bv"
run L volume ls
is "$out" "DRIVER      VOLUME NAME${nl}local       myvol$nl" "volume ls: podman's table"
run L volume inspect myvol
is "$rc" 0 "volume inspect exits 0"
is "$(jq -r '.[0] | [.Name, .Driver, .Mountpoint, .Scope, .Labels.l, .Labels.flag, .MountCount, .NeedsCopyUp, .NeedsChown] | join(",")' <<<"$out")" \
	"myvol,local,$R/volumes/myvol/_data,local,one,,0,true,true" "inspect: podman's fields"
like "$out" "^\[$nl     \{$nl          \"Name\": \"myvol\"," "… indented as podman's"
run L volume ls --format json
is "$(jq -r '.[0].Labels.l' <<<"$out")" one "ls --format json: labels"
run L volume ls --format '{{.Name}} {{.Driver}}' --filter label=l=one
is "$out" "myvol local$nl" "ls --format and --filter label="
run L volume ls -q --filter name=nomatch
is "$out" "" "--filter name= with no match"
run L volume exists myvol
is "$rc" 0 "volume exists: 0 for a volume"
run L volume exists nope
is "$rc/$out/$err" "1//" "… 1, silently, for none"
run L volume rm nope
is "$rc/$err" "1/Error: no volume with name \"nope\" found: no such volume$nl" "rm of no volume: podman's error and 1"
run L volume rm -f nope
is "$rc/$out/$err" "0//" "rm -f of no volume: silent"

# --- run -v NAME:/dst, :ro, copy-up -------------------------------------------------------
run L run --rm -v myvol:/vol "$IMG" sh -c 'echo hello >/vol/f'
is "$rc" 0 "run -v myvol:/vol"
is "$(cat "$R/volumes/myvol/_data/f")" hello "what the container wrote is in _data"
run L volume inspect --format '{{.NeedsCopyUp}} {{.NeedsChown}}' myvol
is "$out" "true false$nl" "nothing in the image at /vol: NeedsCopyUp stays, NeedsChown is done"
run L run --rm -v myvol:/vol:ro "$IMG" sh -c 'cat /vol/f; touch /vol/g'
is "$rc" 1 ":ro: the write fails"
like "$err" 'Read-only file system' "… read-only"
is "$out" "hello$nl" "… the volume is readable"
printf '#!/bin/sh\necho ran\n' >"$R/volumes/myvol/_data/script" && chmod 755 "$R/volumes/myvol/_data/script"
run L run --rm -v myvol:/vol:noexec,z "$IMG" /vol/script
is "$rc/$out/$err" "126//Error: lrun: open executable: Permission denied: OCI permission denied$nl" \
	":noexec: a script on the volume cannot run: 126, podman's message"
run L run --rm -v myvol:/vol:z "$IMG" /vol/script
is "$rc/$out" "0/ran$nl" "… without it, it runs"
rm "$R/volumes/myvol/_data/script"
L volume create cu >/dev/null
run L run --rm -v cu:/etc "$IMG" true
ok_cmd "copy-up: the image's /etc fills a new volume" test -f "$R/volumes/cu/_data/passwd"
run L volume inspect --format '{{.NeedsCopyUp}}' cu
is "$out" "false$nl" "… and NeedsCopyUp is false"
run L run --rm -v autovol:/data "$IMG" sh -c 'echo x >/data/y'
is "$rc/$(cat "$R/volumes/autovol/_data/y")" "0/x" "-v with an unknown name creates the volume"
run L run --rm -v "autovol:/a" -v "autovol:/b" "$IMG" cat /a/y /b/y
is "$out" "x${nl}x$nl" "one volume at two places"

# a link in the image cannot make copy-up read the host: resolved inside the image
mkdir -p "$T/hostonly" "$T/esc" && echo secret >"$T/hostonly/secret"
ln -s "$T/hostonly" "$T/esc/abs" && ln -s ../../../../../../../../"$T/hostonly" "$T/esc/rel"
mkdir "$T/esc/d" && echo in-d >"$T/esc/d/f" && chmod 710 "$T/esc/d"
tar -C "$T/esc" --owner=123 --group=45 --numeric-owner -cf "$T/esc.tar" abs rel d &&
	L import "$T/esc.tar" localhost/esc:1 >/dev/null 2>&1 || bail "import esc"
L create --name esc -v cu2:/abs -v cu3:/rel -v cu4:/d localhost/esc:1 /none >/dev/null 2>&1
is "$(stat -c '%a %u:%g' "$R/volumes/cu4/_data") $(cat "$R/volumes/cu4/_data/f")" "710 123:45 in-d" \
	"copy-up: the volume's root takes the owner and mode of the image's directory, and its content"
ok_cmd "copy-up through an absolute link in the image stays inside it" test ! -e "$R/volumes/cu2/_data/secret"
ok_cmd "… and through a relative one with ../" test ! -e "$R/volumes/cu3/_data/secret"
ok_cmd "… the volumes were made" test -d "$R/volumes/cu3/_data"
L rm esc >/dev/null

# --- anonymous volumes, rm -v, --rm -------------------------------------------------------
run L run --name anon -v /myvol "$IMG" sh -c 'echo a >/myvol/f'
anon=$(L volume ls -q | grep -E '^[0-9a-f]{64}$')
like "$anon" '^[0-9a-f]{64}$' "-v /dst makes an anonymous volume with a 64-hex name"
is "$(cat "$R/volumes/$anon/_data/f" 2>/dev/null)" a "… holding what the container wrote"
run L volume inspect --format '{{.Anonymous}}' "$anon"
is "$out" "true$nl" "… marked Anonymous"
L rm -v anon >/dev/null
ok_cmd "rm -v removes the container's anonymous volume" test ! -e "$R/volumes/$anon"
run L run --rm -v /scratch "$IMG" true
is "$(L volume ls -q | grep -cE '^[0-9a-f]{64}$')" 0 "run --rm removes its anonymous volumes"
L run --name keep -v /k "$IMG" true >/dev/null
L rm keep >/dev/null
is "$(L volume ls -q | grep -cE '^[0-9a-f]{64}$')" 1 "rm without -v keeps the anonymous volume"

# --- --mount, --tmpfs, bind and tmpfs volumes -----------------------------------------------
mkdir -p "$T/h" && echo hostfile >"$T/h/f"
run L run --rm --mount "type=bind,source=$T/h,target=/h,readonly" "$IMG" sh -c 'cat /h/f; touch /h/g'
is "$rc/$out" "1/hostfile$nl" "--mount type=bind,readonly"
run L run --rm --mount type=volume,source=myvol,target=/m "$IMG" cat /m/f
is "$out" "hello$nl" "--mount type=volume"
run L run --rm --mount type=tmpfs,target=/t,tmpfs-size=1m "$IMG" sh -c 'grep " /t " /proc/mounts'
like "$out" '^tmpfs /t tmpfs rw,nosuid,nodev,.*size=1024k' "--mount type=tmpfs,tmpfs-size"
run L run --rm --tmpfs /t:size=2m "$IMG" sh -c 'grep " /t " /proc/mounts'
like "$out" 'size=2048k' "--tmpfs /t:size=2m"
L volume create -o type=tmpfs -o device=tmpfs -o o=size=3m tv >/dev/null
run L run --rm -v tv:/vol "$IMG" sh -c 'grep " /vol " /proc/mounts'
like "$out" '^tmpfs /vol tmpfs .*size=3072k' "a volume made with -o type=tmpfs is a tmpfs"
L volume create -o type=bind -o device="$T/h" bindvol >/dev/null
run L run --rm -v bindvol:/b "$IMG" cat /b/f
is "$out" "hostfile$nl" "a volume made with -o type=bind binds its device"
run L run --rm --mount type=nfs,target=/x "$IMG" true
is "$rc" 125 "--mount of an unknown type is refused"

# --- duplicate destinations ---------------------------------------------------------------
run L run --rm -v "$T/h:/a" -v "$T/h:/a" "$IMG" true
is "$rc" 0 "the same mount twice is fine"
run L run --rm -v "$T/h:/a" --tmpfs /a "$IMG" true
is "$rc/$err" "125/Error: /a: duplicate mount destination$nl" "two mounts on one destination: podman's error"
run L run --rm -v vol1:/v -v vol2:/v "$IMG" true
is "$rc/$err" "125/Error: /v: duplicate mount destination$nl" "… for volumes too (podman 4.3.1's words)"
run L run --rm -v "$T/h:/b" -v "$T:/b" "$IMG" true
is "$rc/$err" "125/Error: /b: duplicate mount destination$nl" "… two binds"
run L run --rm --tmpfs /t --tmpfs /t:ro "$IMG" true
is "$rc/$err" "125/Error: /t: duplicate mount destination$nl" "… two tmpfs"
run L run --rm --tmpfs /t --tmpfs /t "$IMG" true
is "$rc" 0 "… the same tmpfs twice is fine"
ok_cmd "a refused run makes no volume" test ! -e "$R/volumes/vol1"

# --- --volumes-from -------------------------------------------------------------------------
L create --name src -v myvol:/from -v "$T/h:/hostdir" "$IMG" true >/dev/null
run L run --rm --volumes-from src "$IMG" cat /from/f /hostdir/f
is "$out" "hello${nl}hostfile$nl" "--volumes-from: the other container's volumes and binds"
run L run --rm --volumes-from src:ro "$IMG" sh -c 'touch /from/z'
is "$rc" 1 "--volumes-from CTR:ro mounts them read-only"

# --- in use, rm -f, prune ------------------------------------------------------------------
run L volume rm myvol
src_id=$(ctr_field src .id)
is "$rc/$err" "2/Error: volume myvol is being used by the following container(s): $src_id: volume is being used$nl" \
	"rm of a volume in use: podman's error and 2"
run L system df --format '{{.Type}}:{{.Total}}:{{.Active}}'
is "$(sed -n 3p <<<"$out")" "Local Volumes:$(L volume ls -q | wc -l):1" "system df counts the volumes, one in use"
run L system df -v
like "$out" "${nl}myvol  +1  +[0-9.]+B$nl" "system df -v: the volume's links and size"
like "$out" "Local Volumes space usage:" "… in its section"
run L volume rm -f myvol
is "$rc/$out" "0/myvol$nl" "rm -f removes the volume and its container"
run L ps -a --format '{{.Names}}'
is "$(grep -c '^src$' <<<"$out")" 0 "… the container went"
L volume create -l p=1 p1 >/dev/null
L volume create p2 >/dev/null
L create --name user -v p2:/p "$IMG" true >/dev/null
run L volume prune --filter label=p=1 <<<"n"
like "$out" "The following volumes will be removed:${nl}p1$nl" "prune asks and lists (with --filter)"
ok_cmd "… answered no, nothing goes" test -d "$R/volumes/p1"
run L volume prune -f
like "$out" "${nl}p1$nl" "prune -f removes unused volumes"
unlike() { if [[ $1 =~ $2 ]]; then ok 1 "$3"; else ok 0 "$3"; fi; }
unlike "$out" "(^|$nl)p2$nl" "… not one in use"
run L volume prune -f
is "$out" "" "a second prune removes nothing"
L rm user >/dev/null
run L volume rm -a
is "$rc" 0 "volume rm -a"
is "$(L volume ls -q)" "" "… leaves no volume"
is "$(ls "$R/volumes")" "" "… and no directory"

# --- volume export, import, mount, unmount ----------------------------------------------
L volume create ex1 >/dev/null && L volume create ex2 >/dev/null
L run --rm -v ex1:/data "$IMG" sh -c 'echo hello >/data/test; mkdir /data/d; echo x >/data/d/f' >/dev/null
run L volume export ex1 --output="$T/ex1.tar"
is "$rc/$(tar -tf "$T/ex1.tar" | sort | tr '\n' ' ')" "0/d/ d/f test " "volume export -o FILE: the volume's content as a tar"
L volume export ex1 | cmp -s - "$T/ex1.tar"
ok $? "… the same tar on stdout"
run L volume import ex2 - <"$T/ex1.tar"
is "$rc/$(L run --rm -v ex2:/data "$IMG" cat /data/test /data/d/f)" "0/hello${nl}x" "volume import VOL -: the tar's content in the volume"
run L volume export nosuch
is "$rc/$err" "125/Error: no such volume nosuch$nl" "export of no volume: podman's message"
run L volume import ex2 "$T/none.tar"
is "$rc/$err" "125/Error: open $T/none.tar: no such file or directory$nl" "import of no file: podman's message"
printf 'not a tar' >"$T/junk"
run L volume import ex2 "$T/junk"
is "$rc" 125 "import of something that is no tar: 125"
tar -C "$T" -cf "$T/esc.tar" --transform 's|junk|../../../../../../tmp/lrun-vol-escaped|' junk
run L volume import ex2 "$T/esc.tar"
is "$rc/$(test -e /tmp/lrun-vol-escaped && echo escaped)" "125/" "a tar with ../ is refused, nothing written outside the volume"
run L volume mount ex1
is "$rc/$out" "0/$R/volumes/ex1/_data$nl" "volume mount: where the volume's content is"
run L volume unmount ex1
is "$rc/$out" "0/ex1$nl" "volume unmount: its name"
run L volume mount nosuch
is "$rc/$err" "125/Error: no volume with name \"nosuch\" found: no such volume$nl" "mount of no volume: 125"
L volume rm ex1 ex2 >/dev/null

# --- the image's VOLUMEs: --image-volume bind (default), tmpfs, ignore; containers.conf --------
mkdir -p "$T/vimg" && printf 'FROM %s\nRUN mkdir /data && echo seed >/data/seed\nVOLUME /data\n' "$IMG" >"$T/vimg/Containerfile"
L build -q -t localhost/volimg:1 "$T/vimg" >/dev/null
is "$(L volume ls -q)" "" "a build's RUN steps make no volume"
run L run --name iv localhost/volimg:1 sh -c 'echo more >>/data/seed'
vol=$(L volume ls -q)
is "$rc/$(wc -l <<<"$vol")/$(cat "$R/volumes/$vol/_data/seed" 2>&1)" "0/1/seed${nl}more" \
	"an image's VOLUME: an anonymous volume, filled from the image"
L rm -v iv >/dev/null
is "$(L volume ls -q)" "" "… rm -v removes it"
run L run --rm --image-volume tmpfs localhost/volimg:1 sh -c 'mount | grep " /data "; cat /data/seed'
like "$rc/$out" "^0/tmpfs on /data type tmpfs .*${nl}seed$nl" "--image-volume tmpfs: a tmpfs (with the image's content)"
run L run --rm --image-volume ignore localhost/volimg:1 sh -c 'mount | grep -c " /data "'
is "$out/$(L volume ls -q)" "0$nl/" "--image-volume ignore: no mount, no volume"
L volume create named >/dev/null
L run --rm -v named:/data localhost/volimg:1 true
is "$(L volume ls -q)" "named" "a -v on the VOLUME's path takes its place"
L volume rm named >/dev/null
run L run --rm --image-volume bogus localhost/volimg:1 true
is "$rc/$err" "125/Error: invalid --image-volume \"bogus\": use bind, tmpfs or ignore$nl" "a bad --image-volume: 125"
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n[engine]\nimage_volume_mode = "tmpfs"\n' >"$T/containers.conf"
fstype='grep " /data " /proc/mounts | cut -d" " -f3'
run env CONTAINERS_CONF="$T/containers.conf" $TO "$LRUN" --root "$R" run --rm localhost/volimg:1 sh -c "$fstype"
is "$rc/$out/$(L volume ls -q)" "0/tmpfs$nl/" "containers.conf's image_volume_mode (\$CONTAINERS_CONF): tmpfs"
run env CONTAINERS_CONF="$T/containers.conf" $TO "$LRUN" --root "$R" run --rm --image-volume bind localhost/volimg:1 sh -c "$fstype"
is "$rc/$out" "0/$(df --output=fstype "$R" | tail -1)$nl" "… --image-volume bind wins over it"
printf '[engine]\nimage_volume_mode = "bogus"\n' >"$T/containers.conf"
run env CONTAINERS_CONF="$T/containers.conf" $TO "$LRUN" --root "$R" run --rm localhost/volimg:1 true
is "$rc/$err" "125/Error: containers.conf: invalid image_volume_mode \"bogus\": use bind, tmpfs or ignore$nl" \
	"… a bad one: 125"

done_testing
