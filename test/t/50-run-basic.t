#!/bin/bash
# lrun run: exit codes, streams, stdin, pid 1, hostname, environment, working
# directory, user, entrypoint, --rm, --read-only, volumes, tmpfs, networks.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
PATHV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ------------------------------------------------------------ exit codes --
run $TO "$LRUN" --root "$R" run --rm "$IMG" true
is "$rc|$out|$err" "0||" "true: exit 0, no output"
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'exit 3'
is "$rc|$out|$err" "3||" "sh -c 'exit 3': exit 3"
# pid 1 of a pid namespace cannot be SIGKILLed from inside: kill it from the host
$TO "$LRUN" --root "$R" run --rm --name k9 "$IMG" sleep 30 >/dev/null 2>&1 &
bgpid=$!
wait_for 10 sh -c '"$0" --root "$1" ps --format "{{.Names}}" | grep -qx k9' "$LRUN" "$R"
"$LRUN" --root "$R" kill -s KILL k9 >/dev/null 2>&1
wait $bgpid; rc=$?
is "$rc" 137 "a container killed by SIGKILL: run exits 137 (128+9)"
run $TO "$LRUN" --root "$R" run --rm "$IMG" nonexistent-cmd
is "$rc" 127 "a command not in PATH: exit 127"
like "$err" '^Error: .*nonexistent-cmd' "  with an Error: message naming it"
run $TO "$LRUN" --root "$R" run --rm "$IMG" /no/such/file
is "$rc" 127 "a missing absolute path: exit 127"
run $TO "$LRUN" --root "$R" run --rm "$IMG" /etc/passwd
is "$rc" 126 "a non-executable file as the command: exit 126"
is "$err" $'Error: lrun: open executable: Permission denied: OCI permission denied\n' "  with podman's (crun's) message"
run $TO "$LRUN" --root "$R" run --rm localhost/nope:latest true
is "$rc" 125 "an unknown image: exit 125"
like "$err" $'(^|\n)Error: .*nope' "  with an Error: message naming it (after the pull's attempt)"
run $TO "$LRUN" --root "$R" run --bogus-flag "$IMG" true
is "$rc" 125 "an unknown flag: exit 125"
like "$err" '^Error: .*bogus-flag' "  with an Error: message naming it"
is "$(jq length "$R/overlay-containers/containers.json" 2>/dev/null || echo 0)" 0 \
	"the failed runs (all --rm) left no container records"

# --------------------------------------------------------------- streams --
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'echo out; echo err >&2; echo out2'
is "$out" $'out\nout2\n' "stdout passes through"
is "$err" $'err\n' "stderr passes through, separately"
want=$(tar -xOf "$FX/layers/2.tar" var/www/blob.bin | sha256sum)
got=$($TO "$LRUN" --root "$R" run --rm "$IMG" cat /var/www/blob.bin | sha256sum)
is "$got" "$want" "200 KiB of binary stdout (NUL bytes included) arrive byte-exact"
out=$(printf 'line a\nline b\n' | $TO "$LRUN" --root "$R" run --rm -i "$IMG" sh -c 'cat; echo end')
is "$out" $'line a\nline b\nend' "-i: piped stdin reaches the container, EOF ends it"
out=$(printf 'x\n' | $TO "$LRUN" --root "$R" run --rm -i "$IMG" wc -c)
like "$out" '^ *2$' "-i: byte count of stdin exact"
out=$(printf 'x\n' | $TO "$LRUN" --root "$R" run --rm "$IMG" cat)
is "$out" "" "without -i the container's stdin is not the caller's"

# ------------------------------------------------------- pid, hostname --
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "'
is "$out" $'1\nsh -c echo $$; cat /proc/1/cmdline | tr "\\0" " " ' "the command is pid 1 in its own pid namespace"
run $TO "$LRUN" --root "$R" run --name hn "$IMG" sh -c 'hostname; cat /etc/hostname'
id=$(ctr_field hn .id)
like "$id" '^[0-9a-f]{64}$' "run --name: the record has a 64-hex ID"
is "$out" "${id:0:12}"$'\n'"${id:0:12}"$'\n' "default hostname (and /etc/hostname) = the first 12 hex of the ID"
run $TO "$LRUN" --root "$R" ps -a --no-trunc
like "$out" $'\n'"$id  " "ps -a --no-trunc lists the full 64-hex ID"
run $TO "$LRUN" --root "$R" ps -a --no-trunc --format '{{.ID}}'
is "$out" "$id"$'\n' "ps -a --no-trunc --format '{{.ID}}' prints the full ID too (podman's ID() honours --no-trunc)"
"$LRUN" --root "$R" rm hn >/dev/null 2>&1
run $TO "$LRUN" --root "$R" run -d "$IMG" hostname
like "$out" '^[0-9a-f]{64}'$'\n''$' "run -d prints the 64-hex ID and a newline"
did=${out%$'\n'}
run $TO "$LRUN" --root "$R" wait "$did"
is "$out" $'0\n' "wait on it prints 0"
run $TO "$LRUN" --root "$R" logs "$did"
is "$out" "${did:0:12}"$'\n' "a detached container's hostname is its short ID too"
"$LRUN" --root "$R" rm "$did" >/dev/null 2>&1
run $TO "$LRUN" --root "$R" run --rm --hostname web-1.example "$IMG" sh -c 'hostname; cat /etc/hostname'
is "$out" $'web-1.example\nweb-1.example\n' "--hostname sets the hostname and /etc/hostname"
run $TO "$LRUN" --root "$R" run --rm -h web-2 "$IMG" hostname
is "$out" $'web-2\n' "-h is --hostname"
run $TO "$LRUN" --root "$R" run --rm -h h1 "$IMG" sh -c 'grep -c "h1" /etc/hosts'
is "$out" $'1\n' "/etc/hosts names the hostname once"

# ---------------------------------------------------------------- --init --
run $TO "$LRUN" --root "$R" run --rm --init "$IMG" sh -c 'echo $$; sh -c "sleep 0.2 &"; sleep 1; ps -o stat | grep -c Z; exit 9'
is "$rc|$out" $'9|2\n0\n' "--init: the command is pid 2 under a minimal init, orphans reaped (no zombie), exit code passed"
run $TO "$LRUN" --root "$R" run --rm --init "$IMG" sh -c 'kill -TERM $$; sleep 2; echo alive'
is "$rc|$out" "143|" "--init: a command killed by SIGTERM: exit 143"

# ------------------------------------------------------------------ env --
# (container=lrun, podman's container=podman, and TERM=xterm are in every container: 67-cli-lifecycle
# and 81-run-podman check them)
sorted() { printf '%s' "$1" | grep -vx -e 'container=lrun' -e 'TERM=xterm' | sort; }
run $TO "$LRUN" --root "$R" run --rm -h h1 "$IMG" env
is "$(sorted "$out")" "HOME=/root
HOSTNAME=h1
$PATHV" "env: the image's PATH, HOSTNAME, HOME"
run $TO "$LRUN" --root "$R" run --rm -h h1 -e X=y -e 'S=a b  c' -e EMPTY= "$IMG" env
is "$(sorted "$out")" "EMPTY=
HOME=/root
HOSTNAME=h1
$PATHV
S=a b  c
X=y" "-e adds variables (spaces and empty values kept)"
run $TO "$LRUN" --root "$R" run --rm -h h1 -e PATH=/bin -e HOME=/tmp "$IMG" env
is "$(sorted "$out")" "HOME=/tmp
HOSTNAME=h1
PATH=/bin" "-e replaces the image's PATH and the default HOME (no duplicates)"
run env FROMHOST=hv $TO "$LRUN" --root "$R" run --rm -h h1 -e FROMHOST -e UNSET_XYZ "$IMG" env
is "$(sorted "$out")" "FROMHOST=hv
HOME=/root
HOSTNAME=h1
$PATHV" "-e NAME takes the caller's value; unset names are left out"
printf '%s\n' 'A=1' '# a comment' 'B=two words' '' 'BARE' 'UNSET_XYZ' 'Q="quoted"' >"$T/env.list"
run env BARE=fromhost $TO "$LRUN" --root "$R" run --rm -h h1 --env-file "$T/env.list" -e A=override "$IMG" env
is "$(sorted "$out")" "A=override
B=two words
BARE=fromhost
HOME=/root
HOSTNAME=h1
$PATHV
Q=\"quoted\"" "--env-file: comments/blank lines skipped, bare names from the caller (unset ones dropped), quotes literal, -e wins"
run $TO "$LRUN" --root "$R" run --rm --env-file "$T/no-such-file" "$IMG" true
is "$rc" 125 "--env-file of a missing file: exit 125"

# ----------------------------------------------------------- workdir, user --
run $TO "$LRUN" --root "$R" run --rm "$IMG" pwd
is "$out" $'/var/www\n' "default working directory = the image's WorkingDir"
run $TO "$LRUN" --root "$R" run --rm -w /tmp "$IMG" pwd
is "$out" $'/tmp\n' "-w /tmp"
run $TO "$LRUN" --root "$R" run --rm --workdir /new/dir "$IMG" pwd
is "$rc:$out" "126:" "-w of a missing directory: 126, as podman (81-run-podman has the message)"
run $TO "$LRUN" --root "$R" run --rm "$IMG" id
is "$out" $'uid=0(root) gid=0(root)\n' "default user root"
run $TO "$LRUN" --root "$R" run --rm -u app "$IMG" sh -c 'id; echo $HOME; echo x > $HOME/w && ls -n $HOME/w | tr -s " " | cut -d" " -f1-5'
is "$out" $'uid=1000(app) gid=1000(app)\n/home/app\n-rw-r--r-- 1 1000 1000 2\n' \
	"-u app: uid/gid 1000 from /etc/passwd, HOME=/home/app, files owned 1000:1000"
run $TO "$LRUN" --root "$R" run --rm -u 1000 "$IMG" id
is "$out" $'uid=1000(app) gid=1000(app)\n' "-u 1000: gid from /etc/passwd"
run $TO "$LRUN" --root "$R" run --rm -u 65534:65534 "$IMG" sh -c 'id; echo $HOME'
is "$out" $'uid=65534(nobody) gid=65534(nogroup)\n/nonexistent\n' "-u 65534:65534"
run $TO "$LRUN" --root "$R" run --rm -u app:nogroup "$IMG" id
is "$out" $'uid=1000(app) gid=65534(nogroup)\n' "-u app:nogroup resolves the group by name"
run $TO "$LRUN" --root "$R" run --rm -u 4242:4343 "$IMG" sh -c 'id; echo $HOME'
is "$out" $'uid=4242 gid=4343\n/\n' "-u of an unknown numeric uid:gid works, HOME=/"
run $TO "$LRUN" --root "$R" run --rm -u nosuchuser "$IMG" id
ok $([ "$rc" -ne 0 ] && [ -z "$out" ]; echo $?) "-u of an unknown name fails before running anything (rc=$rc)"
like "$err" '^Error: .*nosuchuser' "  with an Error: message naming it"

# ----------------------------------------------------------- entrypoint --
run $TO "$LRUN" --root "$R" run --rm --entrypoint echo "$IMG" a b
is "$rc|$out" $'0|a b\n' "--entrypoint echo IMG a b"
run $TO "$LRUN" --root "$R" run --rm --entrypoint /bin/pwd "$IMG"
is "$rc|$out" $'0|/var/www\n' "--entrypoint without a command drops the image's Cmd"

# ----------------------------------------------------------------- --rm --
snap() {
	echo "containers: $(jq -c '[.[].id]' "$R/overlay-containers/containers.json" 2>/dev/null)"
	echo "layers: $(jq -c '[.[].id]' "$R/overlay-layers/layers.json")"
	echo "overlay: $(ls "$R/overlay" | tr '\n' ' ')"
	echo "l: $(ls "$R/overlay/l" | tr '\n' ' ')"
	echo "ctrdirs: $(ls "$R/overlay-containers" | grep -v -e '^containers\.' | tr '\n' ' ')"
}
before=$(snap)
run $TO "$LRUN" --root "$R" run --rm --name gone "$IMG" sh -c 'echo data > /newfile; echo ok'
is "$rc|$out" $'0|ok\n' "run --rm runs"
is "$(snap)" "$before" "--rm leaves nothing: no record, no layer, no overlay dir, no l/ link, no userdata"
is "$(mounts_below "$R" | wc -l)" 0 "  and no mount below the store"
run $TO "$LRUN" --root "$R" run --rm --name gone "$IMG" true
is "$rc" 0 "the name is free again"

# ---------------------------------------------------- read-only, volumes --
run $TO "$LRUN" --root "$R" run --rm --read-only "$IMG" sh -c 'echo a > /x'
is "$rc" 1 "--read-only: writing / fails"
like "$err" 'Read-only file system' "  with EROFS"
run $TO "$LRUN" --root "$R" run --rm --read-only --read-only-tmpfs=false "$IMG" /bin/busybox touch /tmp/x
like "$rc:$err" '^1:.*Read-only file system' "--read-only --read-only-tmpfs=false: /tmp too (no implicit tmpfs)"
run $TO "$LRUN" --root "$R" run --rm --read-only "$IMG" sh -c 'for d in /tmp /var/tmp /run; do touch $d/x || exit; done; test -e /run/.containerenv && grep -c " /run tmpfs" /proc/mounts'
is "$rc:$out" "0:1$nl" "--read-only: podman's --read-only-tmpfs (default): tmpfs on /tmp, /var/tmp, /run (.containerenv still bound)"
run $TO "$LRUN" --root "$R" run --rm --read-only "$IMG" sh -c 'echo a > /dev/null && echo a > /dev/shm/x && cat /dev/shm/x'
is "$rc|$out" $'0|a\n' "--read-only: /dev and /dev/shm stay writable"
run $TO "$LRUN" --root "$R" run --rm --read-only --tmpfs /scratch "$IMG" sh -c 'echo t > /scratch/f && cat /scratch/f'
is "$rc|$out" $'0|t\n' "--read-only --tmpfs: the tmpfs is writable"

mkdir -p "$T/vol" && echo hostdata >"$T/vol/in"
run $TO "$LRUN" --root "$R" run --rm -v "$T/vol:/data" "$IMG" sh -c 'cat /data/in; echo ctrdata > /data/out'
is "$rc|$out" $'0|hostdata\n' "-v HOST:CTR: the container reads host files"
is "$(cat "$T/vol/out" 2>/dev/null)" ctrdata "  and its writes land on the host"
run $TO "$LRUN" --root "$R" run --rm -v "$T/vol:/data:ro" "$IMG" sh -c 'cat /data/in; echo x > /data/ro'
like "$rc|$out|$err" $'^1\\|hostdata\n\\|.*Read-only file system' "-v HOST:CTR:ro: readable, not writable"
[ ! -e "$T/vol/ro" ]; ok $? "  nothing written on the host"
run $TO "$LRUN" --root "$R" run --rm -v "$T/vol:/deep/new/mnt" "$IMG" cat /deep/new/mnt/in
is "$rc|$out" $'0|hostdata\n' "-v to a missing container path creates the mount point"
echo single >"$T/file1"
run $TO "$LRUN" --root "$R" run --rm -v "$T/file1:/etc/single.conf:ro" "$IMG" cat /etc/single.conf
is "$rc|$out" $'0|single\n' "-v of a single file"
is "$(mounts_below "$T" | wc -l)" 0 "no volume mount leaks into the host's mount table"

run $TO "$LRUN" --root "$R" run --rm --tmpfs /scratch "$IMG" sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f1-3; echo t > /scratch/f; cat /scratch/f'
is "$rc|$out" $'0|tmpfs /scratch tmpfs\nt\n' "--tmpfs PATH: a writable tmpfs"
run $TO "$LRUN" --root "$R" run --rm --tmpfs /var/www:notmpcopyup "$IMG" sh -c 'ls /var/www | wc -l'
is "$out" $'0\n' "--tmpfs DIR:notmpcopyup over an image directory hides it"
run $TO "$LRUN" --root "$R" run --name tmpf --tmpfs /var/www "$IMG" sh -c 'ls /var/www | wc -l; echo x > /var/www/new'
is "$out" $'2\n' "--tmpfs over an image directory starts with its content (podman's tmpcopyup)"
ld=$(ctr_layer_dir tmpf)
[ -d "$ld/diff" ] && [ ! -e "$ld/diff/var/www/new" ]; ok $? "  and writes to it do not reach the container layer"
"$LRUN" --root "$R" rm tmpf >/dev/null 2>&1

# --------------------------------------------------------------- network --
run $TO "$LRUN" --root "$R" run --rm --network none "$IMG" sh -c \
	'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/flags; cat /sys/class/net/lo/operstate'
is "$out" $'lo\n0x9\nunknown\n' "--network none: only lo, and it is UP (flags 0x9)"
run $TO "$LRUN" --root "$R" run --rm --network none "$IMG" sh -c 'ls /sys/class/net'
is "$out" $'lo\n' "  /sys/class/net shows the namespace's interfaces only"
# (bridges and veths of other stores' containers come and go meanwhile: left out)
transient() { grep -Ev '^(lrun[0-9]*|veth.*|cni-podman[0-9]+|vethb.*)$' || true; }
hostifs=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | transient | sort)
run $TO "$LRUN" --root "$R" run --rm --network host "$IMG" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
is "$(printf '%s' "$out" | transient | sort)" "$hostifs" "--network host: the host's interfaces"
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
is "$(sorted "$out")" $'eth0\nlo' "default network: a namespace of its own with lo and eth0 (test/t/64-network.t)"
run $TO "$LRUN" --root "$R" run --rm --network bridge0 "$IMG" true
is "$rc|$err" "125|Error: unable to find network with name or ID bridge0: network not found"$'\n' \
	"--network of an unknown network: exit 125, podman's message"

is "$(jq length "$R/overlay-containers/containers.json")" 0 "every container of this file is gone"
done_testing
