#!/bin/bash
# A full graph root can always be emptied by lrun itself: rm, rm -f, rm -a,
# container prune and rmi -f free the objects' files first when the index
# rewrite finds no space (ENOSPC), and succeed.  The store is an ext4 on a
# loop file in the test's directory, filled to the last block.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 60
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
umount "$T/fs"
done_testing
