#!/bin/bash
# lrun diff of a container (A/C/D against its image, the runtime's empty
# mount points left out, -l for the newest, --format json as podman) and
# lrun export (the container's filesystem as a tar, running or stopped,
# -o FILE written whole or not at all), and mount/unmount of a container's
# root on the host, counted in mountpoints.json as c/storage does.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

L run --name d "$IMG" sh -c 'touch /newfile; rm /etc/passwd' >/dev/null
run L diff d
is "$rc/$out" "0/C /etc${nl}D /etc/passwd${nl}A /newfile$nl" "diff CONTAINER: podman's A/C/D, no /etc/hosts or /proc"
run L diff --format json -l
is "$(jq -c '[.added, .changed, .deleted]' <<<"$out")" '[["/newfile"],["/etc"],["/etc/passwd"]]' \
	"diff -l --format json: the newest container, podman's keys"
run L container diff d "$IMG"
is "$rc" 0 "container diff CONTAINER IMAGE"
like "$out" "A /newfile" "… against the image"
run L diff nosuch
is "$rc" 125 "diff of nothing known: 125"

# --- export ------------------------------------------------------------------------------
L export d >"$T/d.tar"
is "$?" 0 "export to stdout"
names=$(tar -tf "$T/d.tar")
like "$names" "(^|$nl)newfile$nl" "the container's new file is in"
if [[ $names =~ (^|$nl)etc/passwd$nl ]]; then ok 1 "its deletion is applied"; else ok 0 "its deletion is applied"; fi
like "$names" "(^|$nl)bin/busybox$nl" "the image's files are in"
run L export -o "$T/o.tar" d
is "$rc/$(tar -tf "$T/o.tar" | sort | md5sum)" "0/$(tar -tf "$T/d.tar" | sort | md5sum)" "-o FILE: the same tar"
L run -d --name live "$IMG" sh -c 'echo live >/live; sleep 60' >/dev/null
wait_for 5 test -n "$(L exec live cat /live 2>/dev/null)"
L export live >"$T/live.tar"
is "$(tar -xOf "$T/live.tar" live)" "live" "export of a running container"
if tar -tf "$T/live.tar" | grep -q '^proc/.'; then ok 1 "… without its /proc"; else ok 0 "… without its /proc"; fi
run L export -o "$T/none.tar" nosuch
is "$rc" 125 "export of no container: 125"
ok_cmd "… leaves no file" test ! -e "$T/none.tar"
L export d | cat >/dev/null
is "${PIPESTATUS[0]}" 0 "export to a pipe works"

# --- mount / unmount --------------------------------------------------------------------------
L create --name m "$IMG" true >/dev/null
run L mount m
P=${out%"$nl"}
is "$rc/$P" "0/$(ctr_layer_dir m)/merged" "mount prints the container's merged directory"
ok_cmd "… where its root is" test -x "$P/bin/busybox"
is "$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" 1 "… mounted on the host"
L mount m >/dev/null
is "$(jq -c '.[] | [.path, .count]' "$R/overlay-layers/mountpoints.json")" "[\"$P\",2]" "a second mount counts 2 in mountpoints.json"
run L mount
is "$out" "$(ctr_field m .id | cut -c1-12) $P$nl" "mount without arguments lists the mounted containers"
run L umount m
is "$rc/$out/$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" "0/$(ctr_field m .id)$nl/1" "one unmount of two: still mounted"
run L unmount m
is "$rc/$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" "0/0" "the last unmount unmounts"
is "$(cat "$R/overlay-layers/mountpoints.json")" "[]" "… and the count goes"
run L mount nosuch
is "$rc" 125 "mount of no container: 125"
is "$(mounts_below "$R" | wc -l)" 0 "no mount left behind"

done_testing
