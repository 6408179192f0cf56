#!/bin/bash
# lrun run: docker's security defaults - capabilities, no_new_privs, the
# default seccomp profile (probed with a static C program), custom profiles,
# masked and read-only paths, /dev, /sys, the files lrun provides in /etc,
# and no fd of the caller leaking into the container.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v gcc >/dev/null || skip_all "needs gcc (static probe program)"
ctr_start
lrun_run() { run $TO "$LRUN" --root "$R" run --rm "$@"; }

# ------------------------------------------------------------ the probe --
# probe NAME...: try each syscall, print "NAME ok" or "NAME <errno name>"
cat >"$T/probe.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *en(int e) {
	static char b[32];
	switch (e) {
	case EPERM: return "EPERM"; case EACCES: return "EACCES"; case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL"; case EFAULT: return "EFAULT"; case ENOENT: return "ENOENT";
	}
	snprintf(b, sizeof b, "errno%d", e);
	return b;
}
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		const char *n = argv[i];
		long r;
		errno = 0;
		if (!strcmp(n, "unshare-user")) r = unshare(CLONE_NEWUSER);
		else if (!strcmp(n, "add_key")) r = syscall(SYS_add_key, "user", "lrunprobe", "v", 1, -2);
		else if (!strcmp(n, "keyctl")) r = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -2, 1);
		else if (!strcmp(n, "clone3")) r = syscall(SYS_clone3, NULL, 0);
		else if (!strcmp(n, "personality-noaslr")) r = personality(ADDR_NO_RANDOMIZE);
		else if (!strcmp(n, "personality-query")) r = personality(0xffffffff);
		else if (!strcmp(n, "mkdir")) r = syscall(SYS_mkdir, "/tmp/probe-dir", 0755);
		else if (!strcmp(n, "getpid")) r = syscall(SYS_getpid);
		else { printf("%s unknown\n", n); continue; }
		if (r == -1) printf("%s %s\n", n, en(errno)); else printf("%s ok\n", n);
	}
	return 0;
}
EOF
gcc -static -O2 -o "$T/probe" "$T/probe.c" 2>"$T/gcc.err" || bail "cannot build the static probe: $(cat "$T/gcc.err")"
PROBE=(-v "$T/probe:/probe:ro")
PS="unshare-user add_key keyctl clone3 personality-noaslr personality-query getpid"
nl=$'\n'

# --------------------------------------------------------- capabilities --
DEF=00000000a80405fb   # CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
                       # NET_BIND_SERVICE SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
bits=0                 # (docker's 14 without NET_RAW, as podman 4: 64-network-sniff.t)
for b in 0 1 3 4 5 6 7 8 10 18 27 29 31; do bits=$((bits | 1 << b)); done
is "$(printf '%016x' $bits)" "$DEF" "(the 13 default capabilities are 0xa80405fb)"
caps() { printf 'CapInh:\t%s\nCapPrm:\t%s\nCapEff:\t%s\nCapBnd:\t%s\nCapAmb:\t%s\n' "$@"; }
Z=0000000000000000
lrun_run "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $DEF $DEF $DEF $Z)$nl" "root: docker's capabilities but NET_RAW, empty inheritable and ambient sets"
lrun_run -u app "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $Z $Z $DEF $Z)$nl" "-u app: no permitted/effective caps, the same bounding set"
lrun_run -u 65534:65534 "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $Z $Z $DEF $Z)$nl" "-u 65534:65534: likewise"
x=$(printf '%016x' $((0xa80405fb & ~(1 << 0))))
lrun_run --cap-drop CHOWN "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $x $x $x $Z)$nl" "--cap-drop CHOWN clears bit 0 ($x)"
x=$(printf '%016x' $((0xa80405fb | 1 << 21)))
lrun_run --cap-add SYS_ADMIN "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $x $x $x $Z)$nl" "--cap-add SYS_ADMIN sets bit 21 ($x)"
x=$(printf '%016x' $(((0xa80405fb | 1 << 21 | 1 << 12) & ~(1 << 13 | 1 << 0))))
lrun_run --cap-add sys_admin --cap-add CAP_NET_ADMIN --cap-drop cap_net_raw --cap-drop chown "$IMG" grep CapBnd /proc/self/status
is "$out" "CapBnd:	$x"$'\n' "names are case-insensitive, CAP_ prefix optional, several adds/drops ($x)"
lrun_run --cap-drop ALL "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $Z $Z $Z $Z)$nl" "--cap-drop ALL: nothing"
lrun_run --cap-drop ALL --cap-add NET_BIND_SERVICE "$IMG" grep CapBnd /proc/self/status
is "$out" "CapBnd:	0000000000000400"$'\n' "--cap-drop ALL --cap-add NET_BIND_SERVICE: bit 10 only"
hostbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
lrun_run --privileged "$IMG" grep Cap /proc/self/status
is "$out" "$(caps $Z $hostbnd $hostbnd $hostbnd $Z)$nl" "--privileged: every capability the host has ($hostbnd)"
lrun_run --cap-add ALL "$IMG" grep CapBnd /proc/self/status
is "$out" "CapBnd:	$hostbnd"$'\n' "--cap-add ALL: every capability"
lrun_run --cap-add NOPE "$IMG" true
like "$rc|$err" '^125\|Error: .*NOPE' "--cap-add of an unknown capability: exit 125, Error: naming it"
lrun_run -u app --cap-add SYS_ADMIN "$IMG" grep -E 'CapEff|CapAmb' /proc/self/status
is "$out" "CapEff:	$Z
CapAmb:	$Z"$'\n' "added caps do not become ambient for a non-root user"

# ----------------------------------------------------- nnp and seccomp --
lrun_run "$IMG" grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
is "$out" $'NoNewPrivs:\t1\nSeccomp:\t2\n' "default: NoNewPrivs 1, Seccomp 2 (filter)"
lrun_run -u app "$IMG" grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
is "$out" $'NoNewPrivs:\t1\nSeccomp:\t2\n' "  also for -u app"
lrun_run --security-opt seccomp=unconfined "$IMG" grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
is "$out" $'NoNewPrivs:\t1\nSeccomp:\t0\n' "--security-opt seccomp=unconfined: Seccomp 0"
lrun_run --security-opt no-new-privileges=false "$IMG" grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
is "$out" $'NoNewPrivs:\t0\nSeccomp:\t2\n' "--security-opt no-new-privileges=false: NoNewPrivs 0, still filtered"
lrun_run --security-opt no-new-privileges "$IMG" grep -E '^NoNewPrivs:' /proc/self/status
is "$out" $'NoNewPrivs:\t1\n' "--security-opt no-new-privileges: 1"
lrun_run --privileged "$IMG" grep -E '^Seccomp:' /proc/self/status
is "$out" $'Seccomp:\t0\n' "--privileged: no seccomp"

lrun_run "${PROBE[@]}" "$IMG" /probe $PS
is "$out" "unshare-user EPERM
add_key EPERM
keyctl EPERM
clone3 ENOSYS
personality-noaslr EPERM
personality-query ok
getpid ok$nl" "default profile: unshare/add_key/keyctl EPERM, clone3 ENOSYS, personality args filtered"
lrun_run --security-opt seccomp=unconfined "${PROBE[@]}" "$IMG" /probe $PS
is "$out" "unshare-user ok
add_key ok
keyctl ok
clone3 EINVAL
personality-noaslr ok
personality-query ok
getpid ok$nl" "unconfined: the same calls reach the kernel (so the blocks above are seccomp's)"
lrun_run --cap-add SYS_ADMIN "${PROBE[@]}" "$IMG" /probe $PS
is "$out" "unshare-user ok
add_key EPERM
keyctl EPERM
clone3 EINVAL
personality-noaslr EPERM
personality-query ok
getpid ok$nl" "--cap-add SYS_ADMIN opens unshare and clone3 (docker's cap-conditional rules), not the keyring"
lrun_run --cap-add SYS_ADMIN "$IMG" sh -c 'mount -t tmpfs none /tmp && grep " /tmp " /proc/mounts | cut -d" " -f1-3'
is "$rc|$out" $'0|none /tmp tmpfs\n' "--cap-add SYS_ADMIN: mount(2) is allowed by the profile"
lrun_run "$IMG" sh -c 'mount -t tmpfs none /tmp'
is "$rc" 1 "without it mount fails"

cat >"$T/deny-mkdir.json" <<'EOF'
{"defaultAction":"SCMP_ACT_ALLOW",
 "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}
EOF
lrun_run --security-opt "seccomp=$T/deny-mkdir.json" "${PROBE[@]}" "$IMG" sh -c \
	'grep "^Seccomp:" /proc/self/status; /probe mkdir unshare-user; /bin/busybox mkdir /tmp/x'
is "$rc|$out" $'1|Seccomp:\t2\nmkdir EACCES\nunshare-user ok\n' \
	"a custom profile file: mkdir gets errnoRet 13, the rest is allowed (defaultAction ALLOW)"
like "$err" "can't create directory '/tmp/x': Permission denied" "  busybox mkdir says Permission denied"
lrun_run --security-opt "seccomp=$T/no-such.json" "$IMG" true
like "$rc|$err" '^125\|Error: .*no-such\.json' "a missing profile file: exit 125"
echo '{bad' >"$T/bad.json"
lrun_run --security-opt "seccomp=$T/bad.json" "$IMG" true
like "$rc|$err" '^125\|Error: ' "an invalid profile: exit 125"

# ------------------------------------------------- masked, read-only paths --
MASKED="/proc/asound /proc/acpi /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list
        /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware /sys/devices/virtual/powercap"
want=
for p in $MASKED; do
	if [ -d "$p" ]; then want+="$p empty-dir"$'\n'
	elif [ -e "$p" ]; then want+="$p 0"$'\n'
	else want+="$p absent"$'\n'; fi
done
lrun_run "$IMG" sh -c 'for p in '"$(echo $MASKED)"'; do
	if [ -d $p ]; then echo "$p $(ls -A $p | wc -l | sed "s/^0$/empty-dir/")"
	elif [ -e $p ]; then echo "$p $(cat $p 2>/dev/null | wc -c)"
	else echo "$p absent"; fi; done'
is "$out" "$want" "docker's masked paths are empty (files read 0 bytes, dirs list nothing)"
note "masked paths present on this host: $(for p in $MASKED; do [ -e $p ] && printf '%s ' $p; done)"
lrun_run "$IMG" sh -c 'echo x > /sys/firmware/x'
like "$rc|$err" '^1\|.*Read-only file system' "a masked directory is a read-only tmpfs"
lrun_run "$IMG" sh -c 'echo 1 > /proc/sys/kernel/domainname'
like "$rc|$err" '^1\|.*Read-only file system' "/proc/sys is read-only"
ro_want= ro_cmd=
for p in /proc/sysrq-trigger /proc/bus /proc/fs /proc/irq /proc/sys; do
	[ -e "$p" ] || continue
	ro_want+="$p ro"$'\n'
	ro_cmd+="grep -q \" $p proc ro,\" /proc/mounts && echo \"$p ro\" || echo \"$p RW\";"
done
lrun_run "$IMG" sh -c "$ro_cmd"
is "$out" "$ro_want" "/proc read-only paths are read-only mounts: $(echo $ro_want | tr '\n' ' ')"
if [ -e /proc/sysrq-trigger ]; then
	lrun_run "$IMG" sh -c 'echo h > /proc/sysrq-trigger'
	like "$rc|$err" '^1\|.*Read-only file system' "/proc/sysrq-trigger is not writable"
else
	skip "this kernel has no /proc/sysrq-trigger"
fi
lrun_run "$IMG" sh -c 'grep -E "^[^ ]+ /(proc|sys) " /proc/mounts | cut -d" " -f2-4 | cut -d, -f1-5'
is "$out" $'/proc proc rw,nosuid,nodev,noexec,relatime\n/sys sysfs ro,nosuid,nodev,noexec,relatime\n' \
	"/proc rw nosuid,nodev,noexec; /sys read-only"
lrun_run "$IMG" sh -c 'echo x > /sys/kernel/uevent_helper'
like "$rc|$err" '^1\|.*Read-only file system' "/sys is read-only for writes too"

# ------------------------------------------------------------------ /dev --
lrun_run "$IMG" ls -A /dev
is "$(printf '%s' "$out" | tr '\n' ' ')" "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " \
	"/dev holds exactly docker's set (no console without -t)"
lrun_run "$IMG" /bin/busybox stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/pts/ptmx
is "$out" "/dev/null character special file 1:3 666
/dev/zero character special file 1:5 666
/dev/full character special file 1:7 666
/dev/random character special file 1:8 666
/dev/urandom character special file 1:9 666
/dev/tty character special file 5:0 666
/dev/pts/ptmx character special file 5:2 666$nl" "device nodes: numbers and modes"
lrun_run "$IMG" sh -c 'for l in ptmx fd stdin stdout stderr core; do echo "$l -> $(readlink /dev/$l)"; done; ls -A /dev/pts'
is "$out" "ptmx -> pts/ptmx
fd -> /proc/self/fd
stdin -> /proc/self/fd/0
stdout -> /proc/self/fd/1
stderr -> /proc/self/fd/2
core -> /proc/kcore
ptmx$nl" "the /dev symlinks; a fresh devpts instance (no host ptys)"
lrun_run "$IMG" sh -c 'grep -E " /dev(/[a-z]+)? " /proc/mounts | cut -d" " -f1-3'
is "$out" "tmpfs /dev tmpfs
devpts /dev/pts devpts
shm /dev/shm tmpfs
mqueue /dev/mqueue mqueue$nl" "/dev tmpfs, /dev/pts devpts, /dev/shm tmpfs, /dev/mqueue mqueue"
lrun_run "$IMG" sh -c 'grep " /dev/pts " /proc/mounts | grep -o "ptmxmode=[0-7]*"; head -c 4 /dev/zero | wc -c; echo x > /dev/full'
like "$rc|$out|$err" $'^1\\|ptmxmode=0?666\n4\n\\|.*No space left on device' "ptmxmode 666; /dev/zero reads; /dev/full is ENOSPC"

# --------------------------------------------------------- /etc files --
lrun_run -h sec-host "$IMG" sh -c 'cat /etc/hostname; grep -c "^127.0.0.1[[:space:]]*localhost" /etc/hosts; grep -cw sec-host /etc/hosts; grep "^nameserver" /etc/resolv.conf'
is "$out" "sec-host
1
1
$(grep '^nameserver' /etc/resolv.conf)$nl" "/etc/hostname, /etc/hosts (localhost + hostname), /etc/resolv.conf (the host's nameservers)"
lrun_run "$IMG" sh -c 'grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/mounts | cut -d" " -f2 | sort'
is "$out" $'/etc/hostname\n/etc/hosts\n/etc/resolv.conf\n' "the three files are bind mounts"
lrun_run "$IMG" sh -c 'echo "10.0.0.1 extra" >> /etc/hosts && grep -c extra /etc/hosts'
is "$rc|$out" $'0|1\n' "/etc/hosts is writable by the container (as in docker)"
grep -q extra /etc/hosts; ok $(( ! $? )) "  and the host's /etc/hosts is unaffected"

# ------------------------------------------------------------- fds --
exec 7</etc/hostname 8>"$T/fd8" 9<>"$T/fd8"
# (sh -c would exec a lone command; "; true" keeps sh as pid 1, ls lists its fds)
lrun_run "$IMG" sh -c 'ls /proc/1/fd; true'
is "$out" $'0\n1\n2\n' "only fds 0-2 reach the container (7, 8, 9 open in the caller are closed)"
lrun_run -i "$IMG" sh -c 'ls /proc/1/fd; true' </dev/null
is "$out" $'0\n1\n2\n' "  also with -i"
exec 7<&- 8>&- 9<&-

done_testing
