#!/bin/bash
# kill -9 at each metadata system call (rename, unlink, mkdir, symlink,
# fsync...) of create, rm, rm -a, container prune, rmi, load, pull, run,
# run --rm, save: the next
# command finds the old state or the
# new one, never a leak or a stray (a layer nothing uses, a temp file, a
# container directory without a record), and the store stays readable by
# podman.  The kill is strace's fault injection (SIGKILL at the entry of the
# Nth such call of lrun's main thread).  Short mode: a sample of the points
# (every rename, and some others); LONG=1: every point.  The last line of
# the output counts injections / recovered / lost.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/faults.sh"
. "$here/../lib/registry.sh"
command -v strace >/dev/null || skip_all "no strace (apt-get install strace)"
faults_start
# short mode: 3 points a command (its first and last rename, a point
# between); LONG=1: every point

R=$T/base
lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null || bail "load"
lr create --name c1 $V2 true >/dev/null || bail "create c1"
is "$(store_problems "$R")" "" "the base store is sound"
R=$T/base-v1 # for load and pull: v1 only
lr load -q -i "$F/v1.tar" >/dev/null || bail "load v1"

injections=0 recovered=0 lost=0
# kill_each NAME CHECK CMD...: CMD (lr ARGS, on a copy of the base store) killed
# at each sampled point; after each, "lr ps -a" (the next command), then the
# invariants (store_problems, and lrun system check finds nothing) and CHECK
# (a function: the old or the new state, and the next command works) must hold
kill_each() {
	local what=$1 check=$2; shift 2
	R=$T/probe; rm -rf "$R"; cp -a "$BASE" "$R"
	fault_points "$T/points" "$LRUN" --root "$R" "$@"
	local total i=0 bad=0 name n problems first last mid tried=0
	total=$(wc -l <"$T/points")
	first=$(grep -n '^rename' "$T/points" | head -1 | cut -d: -f1)
	last=$(grep -n '^rename' "$T/points" | tail -1 | cut -d: -f1)
	mid=$(( (total + 1) / 2 ))
	while read -r name n; do
		i=$((i + 1))
		[ -n "${LONG:-}" ] || [ "$i" = "$first" ] || [ "$i" = "$last" ] || [ "$i" = "$mid" ] || continue
		tried=$((tried + 1))
		R=$T/victim; rm -rf "$R"; cp -a "$BASE" "$R"
		fault_kill "$name" "$n" "$LRUN" --root "$R" "$@"
		injections=$((injections + 1))
		lr ps -a >/dev/null 2>"$T/next.err"
		problems=$(store_problems "$R"; cat "$T/next.err"; lr system check 2>&1
			"$check" 2>&1 && store_problems "$R")
		if [ -z "$problems" ]; then
			recovered=$((recovered + 1))
		else
			lost=$((lost + 1)) bad=$((bad + 1))
			diag "$what killed at $name #$n (point $i of $total):"$'\n'"$problems"
		fi
	done <"$T/points"
	is "$bad" 0 "$what: killed at $tried of its $total metadata calls, the next command recovers"
}

# after rm c1: c1 is there (and starts) or gone; a new c1 can be made
check_rm() {
	if lr container exists c1; then lr mount c1 >/dev/null && lr umount c1 >/dev/null || echo "c1 does not mount"
	else lr create --name c1 $V2 true >/dev/null || echo "create c1 again failed"; fi
}
# after rmi: the image is there or gone, nothing in between
check_rmi_v1() {
	if lr image exists $V1; then lr create $V1 true >/dev/null || echo "v1 is listed but does not create"; fi
	lr create $V2 true >/dev/null || echo "v2 does not create"
}
# after rmi -f v2: c1 goes first, then v2 (as podman does): never v2 without c1
check_rmi_v2() {
	lr image exists $V2 || ! lr container exists c1 || echo "v2 is gone, c1 is there"
	if lr container exists c1; then lr mount c1 >/dev/null && lr umount c1 >/dev/null || echo "c1 does not mount"; fi

	lr load -q -i "$F/v2.tar" >/dev/null || echo "load v2 again failed"
	lr create $V2 true >/dev/null || echo "v2 loaded again does not create"
}
check_create() {
	if lr container exists c2; then lr mount c2 >/dev/null && lr umount c2 >/dev/null || echo "c2 does not mount"
	else lr create --name c2 $V2 true >/dev/null || echo "create c2 again failed"; fi
}

check_load() {
	if lr image exists $V2; then lr create $V2 true >/dev/null || echo "v2 is listed but does not create"; fi
	lr load -q -i "$F/v2.tar" >/dev/null || echo "load v2 again failed"
	lr create $V2 true >/dev/null || echo "v2 loaded again does not create"
}
check_pull() {
	if lr image exists $PULLED; then lr create $PULLED true >/dev/null || echo "the pulled v2 does not create"; fi
	lr pull -q $PULLED >/dev/null || echo "pull v2 again failed"
	lr create $PULLED true >/dev/null || echo "v2 pulled again does not create"
}
check_run() {
	lr rm -f r1 >/dev/null 2>&1
	lr run --network none --name r1 $V2 true || echo "run r1 again failed"
}
check_run_rm() {
	lr rm -a -f >/dev/null || echo "rm -a -f failed"
	lr run --network none --rm $V2 true || echo "run --rm again failed"
}
# after save -o: the archive is there whole or not at all; the next save to
# the same path leaves no temp file of the killed one
check_save() {
	[ ! -e "$T/out.tar" ] || tar -xOf "$T/out.tar" manifest.json >/dev/null 2>&1 || echo "out.tar is torn"
	lr save -q -o "$T/out.tar" $V2 >/dev/null || echo "save again failed"
	ls -A "$T" | grep -F "out.tar.tmp-"
	rm -f "$T/out.tar"
}

BASE=$T/base
kill_each "rm c1" check_rm rm c1
kill_each "rmi v1" check_rmi_v1 rmi $V1
kill_each "rmi -f v2" check_rmi_v2 rmi -f $V2
kill_each "create c2" check_create create --name c2 $V2 true
kill_each "run" check_run run --network none --name r1 $V2 true
kill_each "run --rm" check_run_rm run --network none --rm $V2 true
kill_each "save" check_save save -o "$T/out.tar" $V2
# rm -a and container prune remove many containers with one write of each index
R=$T/base-many; cp -a "$T/base" "$R"
for i in 2 3 4 5; do lr create --name c$i $V2 true >/dev/null; done
R=$T/probe; rm -rf "$R"; cp -a "$T/base-many" "$R"
strace -qq -o "$T/rm-a.trace" -e trace=renameat "$LRUN" --root "$R" rm -a >/dev/null
is "$(grep -c 'containers.json"' "$T/rm-a.trace"):$(grep -c 'layers.json"' "$T/rm-a.trace")" "1:2" \
	"rm -a of 5 containers: containers.json written once, layers.json twice (not 3 writes a container)"
check_rm_all() {
	lr rm -a >/dev/null || echo "rm -a again failed"
	[ "$(lr ps -aq | wc -l)" = 0 ] || echo "containers left"
}
BASE=$T/base-many
kill_each "rm -a" check_rm_all rm -a
kill_each "container prune" check_rm_all container prune -f
# rmi of many (rmi A B C, rmi -a, image prune -a) writes each index once a
# step for all: images.json once, layers.json twice (incomplete, records;
# the collectable flags are there since the layers were made), not once and
# 1 + 2 a layer per image
R=$T/base-images; lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null || bail "load"
fx_busybox_rootfs "$T/imp" || bail "rootfs"
for i in 1 2 3 4; do
	echo "$i" >"$T/imp/etc/marker" && fx_layer_tar "$T/imp" "$T/imp$i.tar" && lr import -q "$T/imp$i.tar" imp:$i >/dev/null ||
		bail "import $i"
done
lr tag imp:1 imp:one >/dev/null
R=$T/probe; rm -rf "$R"; cp -a "$T/base-images" "$R"
strace -qq -o "$T/rmi-a.trace" -e trace=renameat "$LRUN" --root "$R" rmi -a >/dev/null
is "$(grep -c 'images.json"' "$T/rmi-a.trace"):$(grep -c 'layers.json"' "$T/rmi-a.trace"):$(lr images -qa | wc -l)" "1:2:0" \
	"rmi -a of 6 images: images.json written once, layers.json twice"
R=$T/probe; rm -rf "$R"; cp -a "$T/base-images" "$R"
strace -qq -o "$T/rmi.trace" -e trace=renameat "$LRUN" --root "$R" rmi imp:2 imp:3 $V2 imp:one >/dev/null
is "$(grep -c 'images.json"' "$T/rmi.trace"):$(grep -c 'layers.json"' "$T/rmi.trace"):$(lr images -q | wc -l)" "1:2:3" \
	"rmi of 3 images and a name: the same"
check_rmi_all() {
	lr rmi -a >/dev/null || echo "rmi -a again failed"
	[ "$(lr images -qa | wc -l)" = 0 ] || echo "images left"
	lr load -q -i "$F/v2.tar" >/dev/null && lr create $V2 true >/dev/null || echo "v2 loaded again does not create"
}
BASE=$T/base-images
kill_each "rmi -a" check_rmi_all rmi -a
BASE=$T/base-v1
kill_each "load" check_load load -q -i "$F/v2.tar"
at_exit reg_cleanup
if why=$(reg_check skopeo) && [ -z "$why" ] && reg_start main "$T/registry" &&
	reg_push "docker-archive:$F/v2.tar" "docker://127.0.0.1:$REG_PORT/servidorweb:v2"; then
	PULLED=127.0.0.1:$REG_PORT/servidorweb:v2
	kill_each "pull" check_pull pull -q $PULLED
else
	skip "pull: no registry (${why:-it does not start})"
fi
BASE=$T/base

# podman reads a store a kill left, once the next command ran
R=$T/victim
run podman_store "$R" images --format '{{.ID}}'
is "$rc" 0 "podman reads the store after a kill and the next command"

# ---- strays of a killed command that holds no lock: config.json of update
R=$T/base
id=$(lr inspect --format '{{.Id}}' c1)
fault_kill renameat 1 "$LRUN" --root "$R" update --memory 64m c1
ls "$R/overlay-containers/$id/userdata"/.tmp-config.json-* >/dev/null 2>&1
ok $? "update killed before its rename leaves userdata/.tmp-config.json-PID"
lr update --memory 32m c1 >/dev/null
is "$(ls -A "$R/overlay-containers/$id/userdata" | grep -c '^\.tmp-')" 0 "the next update of c1 removes it (its writer is dead)"

# ---- a leaked layer keeps no container's name: two layers never share one
cp "$R/overlay-containers/containers.json" "$T/containers.json.c1"
lr create --name c3 $V2 true >/dev/null
jq 'map(select(.names[0] != "c3"))' "$T/containers.json.c1" >/dev/null
# a store an older lrun left: c3's record gone, its layer kept (not collectable)
jq '[.[] | select(.names[0] != "c3")]' "$R/overlay-containers/containers.json" >"$T/c.json" &&
	cp "$T/c.json" "$R/overlay-containers/containers.json"
jq '[.[] | if .flags then .flags |= del(."lrun.collectable") | if .flags == {} then del(.flags) else . end else . end]' \
	"$R/overlay-layers/layers.json" >"$T/l.json" && cp "$T/l.json" "$R/overlay-layers/layers.json"
lr create --name c3 $V2 true >/dev/null
is "$(jq '[.[].names // [] | .[] | select(. == "c3-layer")] | length' "$R/overlay-layers/layers.json")" 1 \
	"a second c3 takes the name c3-layer from the leaked layer: one layer has it"
run podman_store "$R" images --format '{{.ID}}'
is "$rc" 0 "podman reads that store"

note "fault injection: $injections injections, $recovered recovered, $lost lost"
done_testing
