#!/bin/bash
# lrun commit: a container's layer becomes an image layer over the same
# chain, recorded as a pulled one is (DiffID, tar-split, sizes, parent,
# chain ID); -m, -a, -c; the config's history and rootfs; deletions kept
# as whiteouts; the runtime's mount points (/etc/hosts, /proc...) left out;
# a running container, frozen while its layer is read (--pause, podman's
# default) and not with --pause=false; errors.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
cfg() { L image inspect --format "$2" "$1"; }

L run --name c "$IMG" sh -c 'echo new >/new.txt; echo changed >/etc/motd; rm /bin/true; mkdir -p /srv/www; echo hi >/srv/www/index.html' >/dev/null
base_top=$(jq -r --arg id "$(ctr_field c .image)" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
run L commit -m "my message" -a "Ann Author" -c 'CMD ["cat", "/new.txt"]' -c 'ENV MODE=prod' c localhost/mine:1
is "$rc" 0 "commit exits 0"
like "$out" '^[0-9a-f]{64}'"$nl"'$' "… and prints the new image's ID"
ID=${out%"$nl"}
run L images --format '{{.Repository}}:{{.Tag}} {{.ID}}' localhost/mine:1
is "$out" "localhost/mine:1 ${ID:0:12}$nl" "the image is listed under its name"
run L run --rm localhost/mine:1
is "$rc/$out" "0/new$nl" "-c CMD: the new image runs its command, and has the container's file"
run L run --rm localhost/mine:1 sh -c 'echo $MODE; cat /etc/motd /srv/www/index.html; test -e /bin/true || echo gone'
is "$out" "prod${nl}changed${nl}hi${nl}gone$nl" "-c ENV, a change, an addition and a deletion (a whiteout) all in"

# the config
conf=$(jq -r --arg id "$ID" '.[] | select(.id == $id) | ."big-data-names"[] | select(startswith("sha256:"))' "$R/overlay-images/images.json")
is "$conf" "sha256:$ID" "the config is stored under its digest, the image ID"
C=$(L image inspect localhost/mine:1)
is "$(jq -r '.[0].Author' <<<"$C")" "Ann Author" "-a: the author"
run L history --format '{{.Comment}}' localhost/mine:1
is "$(head -1 <<<"$out")" "my message" "-m: the history entry's comment"
run L history --no-trunc --format '{{.Comment}}|{{.CreatedBy}}' localhost/mine:1
is "$(head -1 <<<"$out")" "my message|/bin/sh -c sh -c echo new >/new.txt; echo changed >/etc/motd; rm /bin/true; mkdir -p /srv/www; echo hi >/srv/www/index.html" \
	"history: the new entry first, with the comment and the container's command"
is "$(wc -l <<<"${out%$nl}")" 4 "… over the base image's three"

# the layer, recorded as a pulled one
top=$(jq -r --arg id "$ID" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
rec=$(jq -c --arg id "$top" '.[] | select(.id == $id)' "$R/overlay-layers/layers.json")
is "$(jq -r .parent <<<"$rec")" "$base_top" "the new layer's parent is the image's top layer"
diff_id=$(jq -r '.[0].RootFS.Layers[-1]' <<<"$C")
is "$(jq -r '."diff-digest"' <<<"$rec")" "$diff_id" "its diff-digest is the config's last DiffID"
is "$(jq -r '.[0].RootFS.Layers | length' <<<"$C")" 4 "rootfs: the base's three DiffIDs and the new one"
chain=$(printf '%s+%s' "$base_top" "${diff_id#sha256:}" | sha256sum | cut -c1-64)
is "$top" "$chain" "its ID is c/storage's chain ID: sha256(parent + \"+\" + DiffID)"
ok_cmd "its tar-split is kept" test -s "$R/overlay-layers/$top.tar-split.gz"
is "$(jq -r '."compressed-diff-digest"' <<<"$rec")/$(jq -r '."compressed-size" == ."diff-size"' <<<"$rec")" "$diff_id/true" \
	"compressed digest and size are the tar's (stored uncompressed)"
mkdir -p "$T/s" && L save -o "$T/s/m.tar" localhost/mine:1 && tar -C "$T/s" -xf "$T/s/m.tar"
is "sha256:$(sha256 "$T/s/${diff_id#sha256:}.tar")" "$diff_id" "save rebuilds the layer byte for byte: its digest is the DiffID"
is "$(jq -r '."diff-size"' <<<"$rec")" "$(stat -c %s "$T/s/${diff_id#sha256:}.tar")" "diff-size is the tar's size"
names=$(tar -tf "$T/s/${diff_id#sha256:}.tar" | sort | tr '\n' ' ')
like "$names" "bin/.wh.true " "the deletion is a whiteout in the layer"
unlike() { if [[ $1 =~ $2 ]]; then _tap_ok 1 "$3"; else _tap_ok 0 "$3"; fi; }
unlike "$names" "etc/hosts|etc/hostname|etc/resolv.conf|(^| )proc/|(^| )sys/|(^| )dev/" \
	"the runtime's mount points are left out"

# a running container, no name, errors
L run -d --name r "$IMG" sh -c 'echo live >/live; sleep 60' >/dev/null
sleep 0.5
run L commit -q r
is "$rc" 0 "commit of a running container"
RID=${out%"$nl"}
is "$(jq -r --arg id "$RID" '.[] | select(.id == $id) | .names // [] | length' "$R/overlay-images/images.json")" 0 \
	"without a name the image has none"
run L run --rm "$RID" cat /live
is "$out" "live$nl" "… and holds what the container wrote"
run L commit nosuch localhost/x
is "$rc" 125 "commit of no container: 125"
run L commit -c 'FROB x' c localhost/x
is "$rc" 125 "an unknown -c instruction: 125"
like "$err" "invalid instruction FROB" "… named"
run L images --format '{{.Repository}}' localhost/x
is "$out" "" "a failed commit leaves no image"

# --- --pause: the running container's cgroup frozen while the layer is read ---------------
# the freezer state is sampled as fast as the shell can while the commit runs
# (a 48 MiB layer takes long enough to be seen frozen), then again after it
if grep -q cgroup /proc/self/mountinfo; then
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		state() { grep -q 'frozen 1' "/sys/fs/cgroup/lrun/$1/cgroup.events" && echo FROZEN || echo THAWED; }
	else
		state() { cat "/sys/fs/cgroup/freezer/lrun/$1/freezer.state"; }
	fi
	P=$(L run -d "$IMG" sh -c 'busybox dd if=/dev/zero of=/big bs=1M count=48 2>/dev/null && echo >/ready; sleep 60')
	wait_for 20 L exec "$P" cat /ready >/dev/null 2>&1
	sample() { # sample ID: the states seen while the commit ($!) runs
		while kill -0 "$!" 2>/dev/null; do state "$1"; done | sort -u | tr '\n' ' '
	}
	L commit "$P" localhost/paused:1 >/dev/null & seen=$(sample "$P"); wait $!
	is "$?/$seen" "0/FROZEN THAWED " "commit of a running container: frozen while its layer is read"
	is "$(state "$P")/$(L inspect --format '{{.State.Status}}' "$P")" "THAWED/running" "… thawed after, still running"
	L commit --pause=false "$P" localhost/paused:2 >/dev/null & seen=$(sample "$P"); wait $!
	is "$?/$seen" "0/THAWED " "commit --pause=false: never frozen"
	L pause "$P" >/dev/null
	run L commit "$P" localhost/paused:3
	is "$rc/$(state "$P")/$(L inspect --format '{{.State.Status}}' "$P")" "0/FROZEN/paused" \
		"a paused container is committed and stays paused"
	L rm -f -t 0 "$P" >/dev/null
fi

done_testing
