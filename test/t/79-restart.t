#!/bin/bash
# --restart acted on: on-failure[:N], always, unless-stopped; RestartCount
# in inspect; stop and rm end the restarts, kill does not (podman 4.3); a
# user's start counts from 0 again; --rm with a policy is refused.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
state() { L inspect --format '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' "$1"; }

run L run --rm --restart always "$IMG" true
is "$rc:$err" "125:Error: the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"$nl" \
	"--rm with --restart always: podman's refusal"

L run -d --name f2 --network none --restart on-failure:2 "$IMG" sh -c 'echo x; exit 3' >/dev/null
wait_for 10 sh -c '[ "$("$0" --root "$1" inspect --format "{{.RestartCount}} {{.State.Status}}" f2)" = "2 exited" ]' "$LRUN" "$R"
sleep 1
is "$(state f2)" "2 exited 3" "on-failure:2, exit 3: started twice more, then left exited"
is "$(L logs f2)" "x${nl}x${nl}x" "  three runs in the log"

L run -d --name f0 --network none --restart on-failure "$IMG" true >/dev/null
L wait f0 >/dev/null
sleep 0.5
is "$(state f0)" "0 exited 0" "on-failure, exit 0: no restart"

run L run --name att --network none --restart on-failure:1 "$IMG" sh -c 'echo y; exit 4'
is "$rc:$out" "4:y$nl" "an attached run with a policy: its own status"
wait_for 10 sh -c '[ "$("$0" --root "$1" inspect --format "{{.RestartCount}}" att)" = 1 ]' "$LRUN" "$R"
L wait att >/dev/null
is "$(L logs att)" "y${nl}y" "  then restarted (detached) once"

L run -d --name al --restart always "$IMG" sh -c 'sleep 0.3; exit 1' >/dev/null
wait_for 10 sh -c '[ "$("$0" --root "$1" inspect --format "{{.RestartCount}}" al)" -ge 3 ]' "$LRUN" "$R"
ok $? "always (on the bridge network): restarted again and again"
run L stop -t 0 al
is "$rc" 0 "stop of an always container"
n=$(L inspect --format '{{.RestartCount}}' al)
sleep 2
is "$(L inspect --format '{{.RestartCount}} {{.State.Status}}' al)" "$n exited" "  stop ended the restarts (the count stays)"
L start al >/dev/null
is "$(L inspect --format '{{.RestartCount}}' al)" "0" "a user's start: the count starts again"
L run -d --name kl --network none --restart always "$IMG" sleep 20 >/dev/null
L kill kl >/dev/null
wait_for 10 sh -c '[ "$("$0" --root "$1" inspect --format "{{.RestartCount}} {{.State.Status}}" kl)" = "1 running" ]' "$LRUN" "$R"
ok $? "kill does not end the restarts (podman 4.3)"
run L rm -f al kl
is "$rc" 0 "rm -f of an always container"
sleep 1
run L container exists al
is "$rc" 1 "  it stays removed"

L run -d --name us --network none --restart unless-stopped "$IMG" sh -c 'exit 2' >/dev/null
wait_for 10 sh -c '[ "$("$0" --root "$1" inspect --format "{{.RestartCount}}" us)" -ge 1 ]' "$LRUN" "$R"
ok $? "unless-stopped: restarted"
L stop us >/dev/null
is "$(L inspect --format '{{.HostConfig.RestartPolicy.Name}}' us)" "unless-stopped" "inspect: the policy"
L rm -f us f2 f0 att >/dev/null

done_testing
