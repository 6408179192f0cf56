#!/bin/bash
# The root switch without pivot_root: --no-pivot (MS_MOVE + chroot), and the
# automatic fallback when pivot_root(2) fails with EINVAL as it does on an
# initramfs.  The fallback is forced by running lrun under a seccomp filter
# that makes pivot_root return EINVAL (a small static wrapper); strace, when
# installed, shows which path was taken.  The containers must look the same
# either way, and the classic chroot escape must not reach the host.
# (A real initramfs boot under qemu is test/t/70-initramfs-boot.t.)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v gcc >/dev/null || skip_all "needs gcc (static helper programs)"
ctr_start

# nopivot CMD...: CMD with pivot_root(2) failing with EINVAL
cat >"$T/nopivot.c" <<'EOF'
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	if (!c || seccomp_rule_add(c, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(pivot_root), 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(c) < 0) {
		perror("nopivot: seccomp"); return 125;
	}
	execvp(argv[1], argv + 1);
	perror("nopivot: exec");
	return 127;
}
EOF
# escape PATH: chroot into a subdir, chdir("..") 256 times, chroot("."),
# then say whether PATH exists and list /
cat >"$T/escape.c" <<'EOF'
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
	struct stat st;
	struct dirent *e;
	DIR *d;
	mkdir("/tmp/esc", 0755);
	if (chroot("/tmp/esc") != 0) { perror("chroot sub"); return 1; }
	for (int i = 0; i < 256; i++) if (chdir("..") != 0) { perror("chdir"); return 1; }
	if (chroot(".") != 0) { perror("chroot ."); return 1; }
	printf("%s %s\n", argv[1], stat(argv[1], &st) == 0 ? "VISIBLE" : "hidden");
	d = opendir("/");
	while (d && (e = readdir(d))) if (e->d_name[0] != '.') printf("%s\n", e->d_name);
	return 0;
}
EOF
gcc -static -O2 -o "$T/nopivot" "$T/nopivot.c" $("$LRUN_TOP/build.sh" --libs) 2>"$T/gcc.err" &&
	gcc -static -O2 -o "$T/escape" "$T/escape.c" 2>>"$T/gcc.err" || bail "helpers do not build: $(cat "$T/gcc.err")"
touch "$T/host-marker"
ESC=(-v "$T/escape:/escape:ro")
ROOTLS="bin${nl}dev${nl}etc${nl}home${nl}proc${nl}root${nl}run${nl}sys${nl}tmp${nl}var$nl"
PROBE='echo "pid $$"; hostname; ls /; grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status;
	wc -c < /proc/keys; grep -E " /(proc|sys|dev) " /proc/mounts | cut -d" " -f2-4 | cut -d, -f1; ls /dev | tr "\n" " "; echo; exit 7'
WANT="pid 1${nl}np-host${nl}${ROOTLS}CapBnd:	00000000a80405fb${nl}NoNewPrivs:	1${nl}Seccomp:	2${nl}0
/dev tmpfs rw
/proc proc rw
/sys sysfs ro
core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero $nl"
have_strace=0; command -v strace >/dev/null && have_strace=1
# syscalls NAME: pivot_root/chroot calls from the strace log $T/st.NAME
# first line as is, the rest sorted (readdir order is arbitrary)
esc_norm() { printf '%s' "$1" | head -1; printf '%s' "$1" | tail -n +2 | sort; }
syscalls() { grep -E '(pivot_root|chroot)\(' "$T/st.$1" | sed -E 's/^[0-9]+ +//; s/ +=/ =/; s/ \(.*\)$//'; }

# ------------------------------------------------------------ default --
run $TO "$LRUN" --root "$R" run --rm -h np-host "$IMG" sh -c "$PROBE"
is "$rc|$out" "7|$WANT" "default (pivot_root): the reference output of the probe script"
if [ $have_strace = 1 ]; then
	strace -f -qq -e trace=pivot_root,chroot -o "$T/st.default" "$LRUN" --root "$R" run --rm "$IMG" true
	is "$(syscalls default)" 'pivot_root(".", ".") = 0' "  strace: the default path uses pivot_root, no chroot"
else skip "strace not installed"; fi

# ---------------------------------------------------------- --no-pivot --
run $TO "$LRUN" --root "$R" run --rm --no-pivot -h np-host "$IMG" sh -c "$PROBE"
is "$rc|$out" "7|$WANT" "--no-pivot: the same root, pid 1, hostname, caps, seccomp, masks, mounts, /dev, exit code"
if [ $have_strace = 1 ]; then
	strace -f -qq -e trace=pivot_root,chroot -o "$T/st.nopivot" "$LRUN" --root "$R" run --rm --no-pivot "$IMG" true
	is "$(syscalls nopivot)" 'chroot(".") = 0' "  strace: --no-pivot never calls pivot_root, it chroots"
else skip "strace not installed"; fi
run $TO "$LRUN" --root "$R" run --rm --no-pivot "${ESC[@]}" "$IMG" /escape "$T/host-marker"
is "$rc|$(esc_norm "$out")" "0|$T/host-marker hidden${nl}$(printf '%s' "${ROOTLS}escape$nl" | sort)" \
	"--no-pivot: the chroot escape (CAP_SYS_CHROOT is granted) ends in the container's root, the host is hidden" ||
	diag "$err"
run $TO "$LRUN" --root "$R" run --rm --no-pivot "$IMG" sh -c 'echo 00000000000000000 > /file.txt; cat /file.txt'
is "$rc|$out" "0|00000000000000000$nl" "--no-pivot: the overlay root is writable"
run $TO "$LRUN" --root "$R" run --rm --no-pivot -u app -w /tmp -e A=b "$IMG" sh -c 'id; pwd; echo $A'
is "$out" "uid=1000(app) gid=1000(app)${nl}/tmp${nl}b$nl" "--no-pivot: -u, -w, -e"

"$LRUN" --root "$R" run -d --name npd --no-pivot "${ESC[@]}" "$IMG" sleep 30 >/dev/null
wait_for 5 sh -c '"$0" --root "$1" ps --format "{{.Names}}" | grep -qx npd' "$LRUN" "$R"
run $TO "$LRUN" --root "$R" exec npd sh -c 'ls /; test -e '"$T/host-marker"' && echo HOST-VISIBLE; /escape '"$T/host-marker"' | head -1'
is "$out" "$(printf '%s' "${ROOTLS}escape$nl" | sort)${nl}$T/host-marker hidden$nl" "--no-pivot -d: exec lands in the container's root (not the namespace's old root), escape fails"
"$LRUN" --root "$R" rm -f npd >/dev/null 2>&1

# ------------------------------------------- automatic fallback (EINVAL) --
run $TO "$T/nopivot" "$T/nopivot" true
is "$rc" 0 "(the nopivot wrapper runs programs)"
run $TO "$T/nopivot" "$LRUN" --root "$R" run --rm -h np-host "$IMG" sh -c "$PROBE"
is "$rc|$out" "7|$WANT" "pivot_root failing with EINVAL: lrun falls back by itself, same container, exit 7" || diag "$err"
if [ $have_strace = 1 ]; then
	strace -f -qq -e trace=pivot_root,chroot -o "$T/st.fallback" "$T/nopivot" "$LRUN" --root "$R" run --rm "$IMG" true
	is "$(syscalls fallback)" 'pivot_root(".", ".") = -1 EINVAL
chroot(".") = 0' "  strace: pivot_root -> EINVAL, then chroot"
else skip "strace not installed"; fi
run $TO "$T/nopivot" "$LRUN" --root "$R" run --rm "${ESC[@]}" "$IMG" /escape "$T/host-marker"
is "$rc|$(esc_norm "$out")" "0|$T/host-marker hidden${nl}$(printf '%s' "${ROOTLS}escape$nl" | sort)" \
	"fallback: the chroot escape does not reach the host" || diag "$err"
run $TO "$T/nopivot" "$LRUN" --root "$R" run --name fb "$IMG" sh -c 'echo 00000000000000000 > /file.txt'
is "$rc" 0 "fallback: a container writes to its layer"
is "$("$LRUN" --root "$R" ps -a -s --format '{{.Names}} {{.Size}}' | grep '^fb ')" "fb 30B (virtual 2.23MB)" \
	"  ps -a -s: 30B (virtual 2.23MB; 12 of them the /etc/mtab link made as podman makes it)"
"$LRUN" --root "$R" rm fb >/dev/null 2>&1
run $TO "$T/nopivot" "$LRUN" --root "$R" run -d --name fbd "$IMG" sleep 30
wait_for 5 sh -c '"$0" --root "$1" ps --format "{{.Names}}" | grep -qx fbd' "$LRUN" "$R"
run $TO "$LRUN" --root "$R" exec fbd sh -c 'ls /; test -e '"$T/host-marker"' && echo HOST-VISIBLE; echo $$'
like "$out" "^${ROOTLS}[0-9]+$nl\$" "fallback -d: exec sees the container's root only"
run $TO "$LRUN" --root "$R" stop -t 0 fbd
run $TO "$LRUN" --root "$R" wait fbd
is "$out" "137$nl" "  stop works (137)"
"$LRUN" --root "$R" rm fbd >/dev/null 2>&1

# ------------------------------- lrun in a ramfs root (initramfs shape) --
# In a private mount namespace: a ramfs holding lrun and (on a tmpfs, as
# overlay needs xattrs for its upper layer) a copy of the store is moved
# onto / and chrooted into, as switch_root does.  pivot_root may or may not
# fail there (the moved mount still has a parent); the container must work.
cat >"$T/ramfs.sh" <<EOF
set -e
D=$T/ramroot
mkdir -p \$D
mount --make-rprivate /
mount -t ramfs ramfs \$D
mkdir -p \$D/proc \$D/dev \$D/store
cp "$LRUN" \$D/lrun
mount -t tmpfs tmpfs \$D/store
cp -a "$R/." \$D/store/
mount -t proc proc \$D/proc
mount --rbind /dev \$D/dev
cd \$D
mount --move . /
exec chroot . "\$@"
EOF
run $TO unshare -m sh "$T/ramfs.sh" /lrun --root /store run --rm --network none -h np-host "$IMG" sh -c "$PROBE"
is "$rc|$out" "7|$WANT" "lrun run from a ramfs moved onto / (switch_root style): same container, exit 7" || diag "$err"
run $TO unshare -m sh "$T/ramfs.sh" /lrun --root /store run --rm --no-pivot --network none -h np-host "$IMG" sh -c "$PROBE"
is "$rc|$out" "7|$WANT" "  and with --no-pivot there" || diag "$err"
if [ $have_strace = 1 ]; then
	strace -f -qq -e trace=pivot_root,chroot -o "$T/st.ramfs" unshare -m sh "$T/ramfs.sh" /lrun --root /store run --rm "$IMG" true
	note "ramfs root: lrun's root switch was: $(syscalls ramfs | grep -v '^chroot("\.") = 0$' | tr '\n' ';') (the shell's own chroot omitted)"
fi
is "$(mounts_below "$T" | wc -l)" 0 "no mount left below the test dir"
done_testing
