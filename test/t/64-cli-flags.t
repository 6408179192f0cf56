#!/bin/bash
# Options as podman's parser takes them: flags after operands, "--" ends
# them, --help/-h prints the command's help and does nothing else, and
# rm's -t/--time, --ignore, -a, -f, --depend; ps --external, -n/--last.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
n_images() { L images -q | wc -l; }

# ------------------------------------------------ --help does nothing else --
L tag "$IMG" localhost/other:1
before=$(n_images)
run L rmi localhost/other:1 --help
is "$rc" 0 "rmi IMG --help: exit 0"
like "$out" "^Remove one or more images${nl}${nl}Usage:${nl}  lrun rmi \[options\] IMAGE \[IMAGE\.\.\.\]${nl}${nl}Options:${nl}  -a, --all " \
	"rmi IMG --help: the help of rmi"
is "$(n_images):$(L images --format '{{.Repository}}:{{.Tag}}' | grep -c other)" "$before:1" "rmi IMG --help removed nothing"
run L rmi -h localhost/other:1
is "$rc:$(L images --format '{{.Repository}}' | grep -c other)" "0:1" "rmi -h IMG: help, nothing removed"

L create --name keep "$IMG" true >/dev/null
run L rm keep --help
is "$rc" 0 "rm CTR --help: exit 0"
like "$out" "^Remove one or more containers${nl}" "rm CTR --help: rm's help"
is "$(L ps -a --format '{{.Names}}')" "keep" "rm CTR --help removed nothing"
run L run --help "$IMG" true
like "$rc:$out" "^0:Run a command in a new container${nl}" "run --help: run's help"
like "$out" "${nl}  -h, --hostname NAME  " "run: -h is --hostname, as podman's"
run L run --rm -h myhost "$IMG" hostname
is "$rc:$out" "0:myhost$nl" "run -h NAME sets the host name"
run L run --rm "$IMG" echo --help -f
is "$rc:$out" "0:--help -f$nl" "run IMAGE CMD --help: the flags after the image are the command's"

# ------------------------------------------- flags after the operands --
L tag "$IMG" localhost/gone:1
run L rmi localhost/gone:1 -f
is "$rc:$out" "0:Untagged: localhost/gone:1$nl" "rmi IMG -f: the flag after the operand"
run L rm keep -f
is "$rc:$out" "0:keep$nl" "rm CTR -f"
L run -d --name web "$IMG" sleep 60 >/dev/null
run L stop web -t 0
is "$rc:$out" "0:web$nl" "stop CTR -t 0"
run L start web
run L kill web --signal=KILL
is "$rc:$out" "0:web$nl" "kill CTR --signal=KILL"
L wait web >/dev/null
run L rm -- web
is "$rc:$out" "0:web$nl" "rm -- CTR"
run L rm -- -f
is "$rc" 1 "rm -- -f: -f is an operand (no such container: exit 1)"
like "$err" '^Error: .*-f.*no such container' "rm -- -f: the error names -f"

# --------------------------------------------------- parse errors --
run L rm --bogus x
is "$rc:$err" "125:Error: unknown flag: --bogus${nl}See 'lrun rm --help'$nl" "unknown long flag: podman's message, 125"
run L rm -fz x
is "$rc:$err" "125:Error: unknown shorthand flag: 'z' in -fz${nl}See 'lrun rm --help'$nl" "unknown short flag: podman's message, 125"
run L stop -t
is "$rc:$err" "125:Error: flag needs an argument: 't' in -t${nl}See 'lrun stop --help'$nl" "missing value of -t"
run L stop --time
is "$rc:$err" "125:Error: flag needs an argument: --time${nl}See 'lrun stop --help'$nl" "missing value of --time"
run L stop --time=abc x
is "$rc:$err" "125:Error: invalid argument \"abc\" for \"-t, --time\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax$nl" "bad number"
run L rm --force=maybe x
is "$rc" 125 "bad boolean value: 125"

# -------------------------------------------------------------- rm --
run L rm nosuch
is "$rc" 1 "rm of a missing container: exit 1"
run L rm --ignore nosuch
is "$rc:$out:$err" "0::" "rm --ignore: a missing container is no error"
run L rm -f nosuch
is "$rc:$out" "0:" "rm -f: a missing container is no error"
L run -d --name a1 "$IMG" sleep 60 >/dev/null
L create --name a2 "$IMG" true >/dev/null
ids=$(L ps -a --no-trunc -q | sort)
t0=$(date +%s%N)
run L rm -t 0 --all --force --ignore
t1=$(date +%s%N)
is "$rc:$(printf '%s' "$out" | sort)" "0:$ids" "rm -t 0 --all --force --ignore: removes all, prints their IDs"
ok $(( (t1 - t0) / 1000000 < 5000 ? 0 : 1 )) "rm -t 0 did not wait for the stop signal"
is "$(L ps -a -q)" "" "no container left"
slow=$(L run -d --name slow "$IMG" sh -c 'trap "exit 3" TERM; sleep 60 & wait')
sleep 0.5
run L rm -f -t 5 slow --depend
is "$rc:$out" "0:$slow$nl" "rm -f -t 5 --depend: stopped with its stop signal, removed (podman prints IDs with --depend)"
run L rm -t 0 --all --force --ignore
is "$rc:$out" "0:" "rm --all with nothing: exit 0, no output"

# -------------------------------------------------------------- ps --
L create --name c1 "$IMG" true >/dev/null
L create --name c2 "$IMG" true >/dev/null
run L ps --all --external --format '{{.ID}} {{.Names}}'
like "$out" "^[0-9a-f]{12} c1${nl}[0-9a-f]{12} c2${nl}$" "ps --all --external --format: oldest first, as podman"
run L ps -n 1 --format '{{.Names}}'
is "$rc:$out" "0:c2$nl" "ps -n 1: the last created, of any state"
run L ps --format '{{.Names}}' -a --last=2
is "$out" "c1${nl}c2$nl" "ps -a --last=2: the two newest, oldest first (podman sorts them by created)"

# ---------------------------------------------------- command groups --
run L image
is "$rc:$err" "125:Error: missing command 'lrun image COMMAND'$nl" "a group without a command: podman's message (its help on stdout), 125"
run L system nosuch
is "$rc:$err" "125:Error: unrecognized command \`lrun system nosuch\`${nl}Try 'lrun system --help' for more information$nl" "an unknown command in a group: 125"
L run -d --name pub -p 127.0.0.1::80 "$IMG" sleep 60 >/dev/null
run L container port pub
like "$rc:$out" "^0:80/tcp -> 127.0.0.1:[0-9]+$nl\$" "container port: the group has port, as podman's"
L rm -f -t 0 pub >/dev/null

done_testing
