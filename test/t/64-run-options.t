#!/bin/bash
# run/create options podman users pass, each checked by its effect:
# podman's exec-failure messages, --memory=0 (no limit), --device-cgroup-rule
# (a loop device opened only with the rule; podman's errors for bad rules),
# --kernel-memory (a warning, no effect), --tz (zone file at /etc/localtime),
# --rmi, --cidfile, --security-opt no-new-privileges:true, the container's
# root directory mode (c/storage: a base layer's root 0555, a child's its
# parent's), --privileged's host devices, run --preserve-fds not taken for
# runc's command line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
N="--network none"

# ------------------------------------------------ exec failures --
run L run --rm $N "$IMG" /no/such/command
is "$rc:$err" "127:Error: lrun: executable file \`/no/such/command\` not found in \$PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found$nl" \
	"a missing command: 127, podman's message"
run L run --rm $N "$IMG" /etc
is "$rc:$err" "126:Error: lrun: open executable: Operation not permitted: OCI permission denied$nl" \
	"a directory as the command: 126, podman's message"
run L run --rm $N "$IMG" /etc/passwd
is "$rc:$err" "126:Error: lrun: open executable: Permission denied: OCI permission denied$nl" \
	"a file that is not executable: 126, podman's message"

# ------------------------------------------------------ --memory --
run L run --rm $N --memory=0 "$IMG" echo hi
is "$rc:$out:$err" "0:hi$nl:" "--memory=0: no limit, as podman"
run L run --rm $N --memory=5m "$IMG" true
is "$rc" 125 "--memory below 6MB is still refused"

# ------------------------------------------ --device-cgroup-rule --
probe='mknod /dev/lt b 7 0 && dd if=/dev/lt of=/dev/null count=1 2>/dev/null; echo $?'
run L run --rm $N "$IMG" sh -c "$probe"
is "$out" "1$nl" "a loop device node cannot be opened by default"
run L run --rm $N --device-cgroup-rule='b 7:* rmw' "$IMG" sh -c "$probe"
is "$out" "0$nl" "--device-cgroup-rule 'b 7:* rmw' lets it be opened"
run L run --rm $N --device-cgroup-rule='a 7 rmw' "$IMG" sh -c "$probe"
is "$out" "0$nl" "--device-cgroup-rule 'a 7 rmw' (no minor: any)"
run L run --rm $N --device-cgroup-rule='c 7:* rmw' "$IMG" sh -c "$probe"
is "$out" "1$nl" "a rule for character devices does not open a block device"
bad() { run L run --rm $N --device-cgroup-rule="$1" "$IMG" true; is "$rc:$err" "125:Error: $2$nl" "--device-cgroup-rule \"$1\": $2"; }
bad "b 7:* rmX" "invalid device access in device-access-add: X"
bad "b 7:2" 'invalid device cgroup rule requires type, major:Minor, and access rules: "b 7:2"'
bad "x 7:* rmw" "invalid device type in device-access-add: x"
bad "a a:* rmw" 'strconv.ParseUint: parsing "a": invalid syntax'

# -------------------------------------------------- --kernel-memory --
run L run --rm $N --kernel-memory 100 "$IMG" echo ran
like "$rc:$out:$err" "^0:ran$nl:time=\"[0-9T:+Z-]+\" level=warning msg=\"The --kernel-memory flag is no longer supported. This flag is a noop.\"$nl\$" \
	"--kernel-memory: podman's warning (logrus' shape off a terminal), no effect"

# ------------------------------------------------------------ --tz --
zone=/usr/share/zoneinfo/MST7MDT
if [ -f $zone ]; then
	run L run --rm -i $N --tz=Iceland --tz=MST7MDT "$IMG" sh -c 'cmp /etc/localtime /dev/stdin && echo same' <$zone
	is "$rc:$out" "0:same$nl" "--tz: the last zone's file is /etc/localtime"
	run L run --rm -i $N --tz=local "$IMG" sh -c 'cmp /etc/localtime /dev/stdin && echo same' </etc/localtime
	is "$rc:$out" "0:same$nl" "--tz=local: the host's /etc/localtime"
	run L run --rm $N --tz=MST7MDT "$IMG" sh -c 'echo x >/etc/localtime'
	is "$rc" 1 "/etc/localtime is read-only"
else
	for i in 1 2 3; do skip "no tzdata"; done
fi
for z in Nowhere/X ../../../etc/shadow /etc/shadow ""; do
	run L run --rm $N --tz="$z" "$IMG" true
	is "$rc:$err" "125:Error: finding timezone: unknown time zone $z$nl" "--tz=\"$z\" refused"
done

# ----------------------------------------------------- --cidfile --
run L create $N --cidfile "$T/cid" "$IMG" true
is "$(cat "$T/cid")" "${out%$nl}" "--cidfile: the ID, no newline"
run L run --rm $N --cidfile "$T/cid" "$IMG" true
is "$rc:$err" "125:Error: container id file exists. Ensure another container is not using it or delete $T/cid$nl" \
	"an existing --cidfile is refused"
L rm "$(cat "$T/cid")" >/dev/null

# ---------------------------------------------------------- --rmi --
L run --name base $N "$IMG" sh -c 'echo x >/marker' >/dev/null
L commit -q base localhost/rmi:1 >/dev/null
L rm base >/dev/null
L run --name keepme $N localhost/rmi:1 true
run L run --rmi $N localhost/rmi:1 true
is "$rc:$(L image exists localhost/rmi:1; echo $?):$(L ps -a --format '{{.Names}}')" "0:0:keepme" \
	"--rmi: an image another container uses stays; --rmi implies --rm"
L rm keepme >/dev/null
run L run --rmi $N localhost/rmi:1 cat /marker
is "$rc:$out:$(L image exists localhost/rmi:1; echo $?):$(L ps -a -q)" "0:x$nl:1:" "--rmi: an unused image is removed after the run"
L tag "$IMG" localhost/rmi:2
run L run --rmi $N localhost/rmi:2 true
is "$rc:$(L image exists localhost/rmi:2; echo $?):$(L image exists "$IMG"; echo $?)" "0:1:0" \
	"--rmi of one of an image's names: that name goes, the image stays"

# ---------------------------------------------------- security-opt --
run L run --rm $N --security-opt no-new-privileges:true "$IMG" sh -c 'grep NoNewPrivs /proc/self/status'
like "$rc:$out" "^0:NoNewPrivs:.1$nl\$" "--security-opt no-new-privileges:true (podman's ':' form)"

# ----------------------------------------------------- root's mode --
top=$(jq -r --arg n "$IMG" '.[] | select(.names | index($n)) | .layer' "$R/overlay-images/images.json")
is "$(stat -c %a "$R/overlay/$top/diff")" 555 "the image's top layer's root: 0555 (c/storage's, the tar has no ./)"
run L run --rm $N "$IMG" sh -c 'stat -c %a /'
is "$out" "555$nl" "the container's / has the mode of its image's root"
run L run --rm $N "$IMG" sh -c 'touch /new && stat -c %a /'
is "$out" "555$nl" "  also after a write to it"

# ----------------------------------------------- --privileged /dev --
dev=
for d in /dev/tty0 /dev/loop0 /dev/kmsg; do [ -c $d ] || [ -b $d ] && { dev=$d; break; }; done
if [ -n "$dev" ]; then
	want=$(stat -c '%t:%T' $dev)
	run L run --rm $N --privileged "$IMG" sh -c "stat -c '%t:%T' $dev"
	is "$rc:$out" "0:$want$nl" "--privileged: the host's $dev is in the container's /dev, as docker gives it"
	run L run --rm $N "$IMG" sh -c "test -e $dev; echo \$?"
	is "$out" "1$nl" "  not without --privileged"
else
	skip "no tty0, loop0 or kmsg"; skip "no tty0, loop0 or kmsg"
fi

# -------------------------------------------------- --preserve-fds --
run L run --rm $N --preserve-fds=1 "$IMG" true
[[ $err != *"unknown option --rm"* ]]; ok $? "run --preserve-fds is not read as runc's command line"

done_testing
