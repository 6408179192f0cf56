#!/bin/bash
# Signals and early failures: exec passes signals to the process it started,
# stop and wait of a --rm container that removes itself, a bad option fails
# before anything is created, signals the caller ignored are not ignored in
# the container, the --init reaper does not show lrun's command line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# --- exec: SIGTERM to lrun exec reaches the command in the container --------
L run -d --name e1 "$IMG" sleep 300 >/dev/null || bail "run -d e1"
"$LRUN" --root "$R" exec e1 sh -c 'trap "echo got-term; exit 9" TERM; sleep 200 & wait' >"$T/exec.out" &
pid=$!
# the sleep itself (its line ends so; the shell's own line names it too, before its trap is set)
wait_for 5 sh -c "'$LRUN' --root '$R' exec e1 ps | grep -q ' sleep 200\$'" || diag "the exec'd sleep did not start"
kill -TERM "$pid"
wait "$pid"
is "$?" 9 "SIGTERM to lrun exec reaches the process: its trap's exit status comes back"
is "$(cat "$T/exec.out")" "got-term" "the trap ran inside the container"
is "$(L exec e1 ps | grep -c 'trap')" 0 "the exec'd shell is gone"
L rm -f e1 >/dev/null

# --- stop and wait of a --rm container --------------------------------------
L run -d --rm --name s1 "$IMG" sleep 30 >/dev/null || bail "run -d --rm s1"
out=$(L stop -t 1 s1 2>/dev/null)
is "$? $out" "0 s1" "stop of a --rm container prints its name, exit 0"
is "$(L ps -a --format '{{.Names}}' | grep -cx s1)" 0 "and it removed itself"
L run -d --rm --name w1 "$IMG" sh -c 'sleep 0.5; exit 3' >/dev/null || bail "run -d --rm w1"
out=$(L wait w1 2>&1)
is "$?" 0 "wait on a --rm container that removes itself: exit 0"
is "$(L ps -a --format '{{.Names}}' | grep -cx w1)" 0 "and it is gone"

# --- options that fail before anything is created ---------------------------
before=$(jq length "$R/overlay-containers/containers.json")
layers=$(jq length "$R/overlay-layers/layers.json")
L run --rm --cap-add BOGUS "$IMG" true 2>"$T/err"
is "$?" 125 "run --cap-add BOGUS: exit 125"
is "$(cat "$T/err")" 'Error: unknown capability "BOGUS"' "with the capability named"
L create --name bad --cap-drop NOPE "$IMG" true 2>/dev/null
is "$?" 125 "create --cap-drop NOPE: exit 125"
is "$(jq length "$R/overlay-containers/containers.json") $(jq length "$R/overlay-layers/layers.json")" \
	"$before $layers" "no container record or layer was made"

# --- ignored signals do not reach the container -----------------------------
out=$(nohup "$LRUN" --root "$R" run --rm "$IMG" grep SigIgn /proc/self/status 2>/dev/null)
is "$out" $'SigIgn:\t0000000000000000' "SIGHUP ignored by nohup is not ignored in the container"
out=$( (trap '' INT QUIT; "$LRUN" --root "$R" run --rm "$IMG" grep -E 'SigIgn|SigBlk' /proc/self/status) )
is "$out" $'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000' "nothing ignored or blocked by the caller or lrun"

# --- the --init reaper -------------------------------------------------------
out=$(L run --rm --init "$IMG" sh -c 'tr -s "\0" "\n" </proc/1/cmdline; cat /proc/1/comm')
is "$out" "/sbin/init
init" "--init: pid 1 shows as /sbin/init (not lrun's command line or the store's path)"
done_testing
