#!/bin/bash
# kill -9 at each metadata system call (rename, unlink, mkdir, symlink,
# fsync...) of create, rm, rmi: the next command finds the old state or the
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
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v strace >/dev/null || skip_all "no strace (apt-get install strace)"
command -v podman >/dev/null || skip_all "podman not installed"
[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the fixtures"
lrun_tmp
cd "$T" || bail "cd $T"
F=$T/fx
fx_servidorweb "$F" >/dev/null || bail "fixtures do not build"
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
SAMPLE=${LONG:+1}
SAMPLE=${SAMPLE:-12} # short mode: every rename, and every 12th other point

R=$T/base
lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null || bail "load"
lr create --name c1 $V2 true >/dev/null || bail "create c1"
is "$(store_problems "$R")" "" "the base store is sound"

injections=0 recovered=0 lost=0
# kill_each NAME CHECK CMD...: CMD (lr ARGS, on a copy of the base store) killed
# at each sampled point; after each, "lr ps -a" (the next command), then the
# invariants (store_problems, and lrun system check finds nothing) and CHECK
# (a function: the old or the new state, and the next command works) must hold
kill_each() {
	local what=$1 check=$2; shift 2
	R=$T/probe; rm -rf "$R"; cp -a "$T/base" "$R"
	fault_points "$T/points" "$LRUN" --root "$R" "$@"
	local total i=0 bad=0 name n problems
	total=$(wc -l <"$T/points")
	while read -r name n; do
		i=$((i + 1))
		case $name in rename*) ;; *) [ $((i % SAMPLE)) = 0 ] || continue ;; esac
		R=$T/victim; rm -rf "$R"; cp -a "$T/base" "$R"
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
	is "$bad" 0 "$what: killed at each of its $total metadata calls (sampled 1/$SAMPLE), the next command recovers"
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

kill_each "rm c1" check_rm rm c1
kill_each "rmi v1" check_rmi_v1 rmi $V1
kill_each "rmi -f v2" check_rmi_v2 rmi -f $V2
kill_each "create c2" check_create create --name c2 $V2 true

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
