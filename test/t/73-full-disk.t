#!/bin/bash
# A full graph root can always be emptied by lrun itself: rm, rm -f, rm -a,
# container prune and rmi -f free the objects' files first when the index
# rewrite finds no space (ENOSPC), and succeed.  cp (into a stopped or
# running container, out onto a full host filesystem), commit, build and
# volume import fail with ENOSPC (125) and leave the store, the container
# and the destination as they were.  The store is an ext4 on a loop file in
# the test's directory, filled to the last block.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 120
small_fs 48M "$T/fs"
R=$T/fs/root
L load -q -i "$FX/v1.tar" >/dev/null || bail "load"

layer_dir() { echo "$R/overlay/$(jq -r --arg n "$1" '.[] | select(.names[0] == $n) | .layer' "$R/overlay-containers/containers.json")"; }
names() { L ps -a --format '{{.Names}}' | sort | tr '\n' ' '; }

L create --name c1 "$IMG" true >/dev/null
L create --name c2 "$IMG" true >/dev/null
L run --name w1 "$IMG" true >/dev/null
L run --name w2 "$IMG" true >/dev/null
is "$(names)" "c1 c2 w1 w2 " "four containers to start with"

# ------------------------------------------------------------ rm --
ok "$(fs_fill "$(layer_dir c1)/diff/big"; echo $?)" "the filesystem is full (a container's file)"
run L create --name nope "$IMG" true
is "$rc" 125 "create on the full disk fails"
like "$err" "No space left on device" "with ENOSPC"
run L rm c1
is "$rc:$out:$err" "0:c1$nl:" "rm of the container whose file filled the disk works"
is "$(names)" "c2 w1 w2 " "c1 is gone (and the failed create left nothing)"
ok "$( [ "$(stat -f -c %a "$T/fs")" -gt 1000 ]; echo $?)" "its space is free again"


# ------------------------------------------------------------ rm -f --
ok "$(fs_fill "$(layer_dir c2)/diff/big"; echo $?)" "full again (c2's file)"
run L rm -f c2
is "$rc:$out:$err" "0:c2$nl:" "rm -f works on the full disk"

# ------------------------------------------------------------ container prune --
ok "$(fs_fill "$(layer_dir w1)/diff/big"; echo $?)" "full again (w1's file)"
run L container prune -f
is "$rc" 0 "container prune works on the full disk"
is "$(names)" "" "it removed both exited containers"

# ------------------------------------------------------------ rm -a --
for i in 1 2 3; do L create --name a$i "$IMG" true >/dev/null; done
ok "$(fs_fill "$(layer_dir a2)/diff/big"; echo $?)" "full again (a2's file)"
run L rm -a
is "$rc" 0 "rm -a works on the full disk"
is "$(names)" "" "every container is gone"

# ------------------------------------------------------------ rmi -f --
L create --name user "$IMG" true >/dev/null
ok "$(fs_fill "$T/fs/outside"; echo $?)" "full again (a file outside the store)"
run L rmi -f "$IMG"
is "$rc" 0 "rmi -f of the image (and its container) works on the full disk"
is "$(printf '%s' "$out" | grep -c '^Untagged: ')" 1 "it untags the image once"
is "$(L images -q | wc -l):$(names)" "0:" "no image and no container left"
is "$(jq -r '.[].id' "$R/overlay-layers/layers.json" | wc -l)" 0 "no layer left in layers.json"
is "$(ls "$R/overlay" | grep -vx l | wc -l)" 0 "no layer directory left"
rm -f "$T/fs/outside"*
run L load -q -i "$FX/v1.tar"
is "$rc" 0 "with space again the image loads"

# ------------------------------------------------------------ cp into a full disk --
# a copy that cannot be written whole fails (125, ENOSPC) and leaves the
# container as it was: the old file, no half file, no staging directory
H=$T/host && mkdir -p "$H/dir" && head -c 3000000 /dev/urandom >"$H/big" && echo small >"$H/dir/a" && cp "$H/big" "$H/dir/b"
tar -C "$H" -cf "$T/dir.tar" dir
L create --name s "$IMG" true >/dev/null
L run -d --name r "$IMG" sleep 120 >/dev/null
layer_tree() { (cd "$(layer_dir "$1")/diff" && find . -printf '%p %y %s %m\n' | sort | md5sum); }
for c in s r; do
	echo kept >"$H/kept" && L cp "$H/kept" $c:/tmp/kept && L cp "$H/dir/a" $c:/tmp/d
done
L cp "$H/big" r:/tmp/out
before_s=$(layer_tree s) before_r=$(layer_tree r) diff_s=$(L diff s) diff_r=$(L diff r)
ok "$(fs_fill "$T/fs/outside"; echo $?)" "full again (a file outside the store)"
for c in s r; do
	state=$([ $c = s ] && echo stopped || echo running)
	run L cp "$H/big" $c:/tmp/kept
	is "$rc" 125 "cp onto a file of a $state container on the full disk: 125"
	like "$err" "^Error: .*No space left on device" "… with ENOSPC"
	run L cp "$H/big" $c:/tmp/
	is "$rc" 125 "cp of a new file into a directory: 125"
	run L cp "$H/dir" $c:/tmp/
	is "$rc" 125 "cp of a directory: 125"
	run L cp "$H/dir/." $c:/tmp/
	is "$rc" 125 "cp of a directory's content (DIR/.): 125"
	run L cp - $c:/tmp/ <"$T/dir.tar"
	is "$rc" 125 "cp of a tar on stdin: 125"
done
is "$(layer_tree s):$(layer_tree r)" "$before_s:$before_r" "both layers hold what they held (no half file, no staging directory)"
is "$(L diff s):$(L diff r)" "$diff_s:$diff_r" "diff shows the same changes"
is "$(L exec r cat /tmp/kept /tmp/d)" "kept${nl}small" "the running container sees its old files"

# ... and out of a container onto a full host filesystem
mkdir -p "$T/small" && mount -t tmpfs -o size=1m tmpfs "$T/small" && echo old >"$T/small/f"
run L cp r:/tmp/out "$T/small/f"
is "$rc" 125 "cp out onto a full host filesystem: 125"
like "$err" "^Error: .*No space left on device" "… with ENOSPC"
run L cp r:/tmp "$T/small/"
is "$rc" 125 "cp of a directory out: 125"
run L cp r:/tmp/. "$T/small/"
is "$rc" 125 "cp of a directory's content out: 125"
is "$(cd "$T/small" && ls -A):$(cat "$T/small/f")" "f:old" "the host directory is as it was"
umount "$T/small"

# ------------------------------------------------------------ commit and build on a full disk --
images() { L images -a -q --no-trunc | sort | tr '\n' ' '; }
store_state() { echo "$(images)|$(jq -r '.[].id' "$R/overlay-layers/layers.json" | sort | tr '\n' ' ')|$(ls "$R/overlay" | sort | tr '\n' ' ')|$(ls "$R/overlay-layers" | sort | tr '\n' ' ')|$(names)"; }
rm -f "$T/fs/outside"* && head -c 1500000 /dev/zero >"$T/fs/room"
ok "$(fs_fill "$T/fs/outside"; echo $?)" "full again, then room for 1.5 MB: less than the 3 MB file"
rm -f "$T/fs/room"
before=$(store_state)
run L commit r partial
is "$rc" 125 "commit of a container whose layer does not fit: 125"
like "$err" "No space left on device" "… with ENOSPC"
is "$(store_state)" "$before" "no image, layer or layer directory left of it"
mkdir -p "$T/ctx" && cp "$H/big" "$T/ctx/big" && printf 'FROM %s\nRUN echo step > /step\nCOPY big /big\n' "$IMG" >"$T/ctx/Containerfile"
run L build -t partial "$T/ctx"
is "$rc" 125 "build whose COPY does not fit: 125"
like "$err" "No space left on device" "… with ENOSPC"
run L image exists partial
is "$rc" 1 "no image named partial"
is "$(names)" "r s " "no step container left"
vol=$(L volume create v) && echo kept >"$(L volume inspect v --format '{{.Mountpoint}}')/kept"
tar -C "$H" -cf "$T/big.tar" big dir
run L volume import v "$T/big.tar"
is "$rc" 125 "volume import of a tar that does not fit: 125"
is "$(ls -A "$R/volumes/v/_data")" kept "the volume holds what it held"
run L system check
is "$rc:$out:$err" "0::" "system check finds the store sound"
rm -f "$T/fs/outside"*
run L start s
is "$rc" 0 "with space again the stopped container starts"
is "$(L exec r cat /tmp/kept)" kept "the running one runs on"
run L commit -q r whole
is "$rc" 0 "commit works"
run L build -q -t whole "$T/ctx"
is "$rc" 0 "build works"
L rm -f r s >/dev/null
umount "$T/fs"
done_testing
