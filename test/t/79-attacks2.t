#!/bin/bash
# An attacker's review (the second): a hostile image, a hostile build
# context or Containerfile, a hostile container, each attack performed for
# real.  What got through is asserted blocked here; what was already blocked
# is recorded below, one line each, so the review is on file.
#
# Got through, fixed:
#   build-net   build's RUN ran in the host's network namespace: a
#               Containerfile (a repository's, built as it comes) reached the
#               host's 127.0.0.1 services and its abstract unix sockets
#               (D-Bus, a containerd shim's); now buildah's "private"
#               namespace, --network host only when asked
#   oci-userns  OCI mode: exec into a container with a user namespace
#               (0 -> 100000) never entered it: the exec'd process was the
#               host's root (uid_map "0 0 4294967295"), so a root-only host
#               file bound in was its to read, and what it made was owned
#               by the host's root; now exec enters the user namespace too
#   build-ctx   a build context's FIFO hung build (the COPY cache key read
#               it), a device node there was opened on the host (a watchdog
#               armed, a disk read whole); .dockerignore -> /dev/zero ran
#               lrun out of memory, a FIFO there hung it; Containerfile ->
#               /etc/shadow printed the host file's first word ("unknown
#               instruction: ROOT:$6$..."): now only regular files are
#               opened, the context's own resolved inside it
#   load-dev    load -i of an OCI layout directory whose blob is a device
#               node opened it (O_NONBLOCK) before refusing it: a watchdog
#               node's open alone arms it; now it is looked at first (O_PATH)
#
# Tried and already blocked (no test of their own here):
#   image User 4294967295 (setuid(-1)), -u 0:4294967295: refused, 126
#   image WorkingDir ../../../tmp/x, Volumes /../../tmp/x: inside the root
#   image Volumes "/etc/shadow:/x", "/y:ro,rshared", "/z,type=bind,src=/etc": literal paths
#   image VOLUME /data with /data -> /tmp/host-dir: the volume lands inside the root
#   image Labels lrun.rootfs, lrun.user, lrun.container-layer: not annotations
#   secret target through /run/secrets -> /tmp/host and target=/link/x: inside the root
#   run -w /proc/self/fd/N (CVE-2024-21626): refused (magic link)
#   exec -w /proc/self/fd/N, /proc/self/cwd: ENOENT (exec is outside the pid ns)
#   exec -w through a dangling symlink to a host path: ENOENT, nothing made on the host
#   fds inside for run, run -d, run -it, exec, exec -d, exec -it, --init: 0-2 only
#   --pid host: the monitor's /proc/PID/fd, root, environ: EACCES (capability subset)
#   OCI create: the waiting init keeps all capabilities (other containers cannot
#     ptrace it); after start only the caller's stdio
#   mknod /dev/vda (b 254:0), /dev/mem, /dev/kmsg in /dev (tmpfs): device cgroup EPERM
#   /proc/sysrq-trigger, /proc/sys/kernel/core_pattern, /sys writes: refused
#   mount(2) without SYS_ADMIN: EPERM; container mounts are private (no propagation)
#   exec with the container's /dev/null a FIFO: exec neither hangs nor opens it
#   build COPY ../../etc/hostname, COPY of a symlink to /etc: refused / copied as a link
#   build COPY into /dst -> /tmp/host, WORKDIR /wd -> /tmp/host: inside the root
#   build ADD of a tar with ../, a symlinked parent, an absolute hard link: refused
#   load: OCI digest "sha256:../..": refused by digest_hex_part; layout names in root
#   tar-split rebuild (save) of a layer whose directory became a symlink: no follow
#   volumes/, overlay/<layer>/ 0700: a setuid file in a volume or a layer is not
#     reachable by other host users
#   image /run -> /tmp/host, /run/.containerenv -> /etc/shadow: inside the root
#   image /etc/passwd naming a user "1000" of uid 0, User 1000 (CVE-2016-3697): uid 1000
#   image ExposedPorts "2222:22/tcp", "127.0.0.1:1:2/tcp", "80/tcp;flush" with -P: refused
#   --volumes-from a container with a secret: the secret is not carried over
#   commit of a container with an env secret: not in the image's Env
#   volume export of a volume holding a FIFO, a block device, links to / and
#     /etc/shadow: no hang, nothing followed; system check, diff, export,
#     commit of a layer holding a FIFO and /dev/zero's node: no hang
#   top of a process whose arguments hold escape sequences: shown escaped
#   volume, secret, container, network names "..", "../x", "a/b": refused
#   OCI: mount, maskedPaths, readonlyPaths, devices, process.cwd through a
#     rootfs symlink to /tmp/host: inside the root
#   OCI create with a user namespace: the waiting init holds every capability
#     of its namespace: host uid 100000 cannot read its /proc/PID/fd or cwd
#   no NSS: lrun never calls getpwnam & co (CVE-2019-14271: a container's
#     libnss loaded by docker cp)
#   pids.max 2048 by default (podman's); a 300 MB line without a newline: the
#     monitor stays at 2 MB
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v python3 >/dev/null || skip_all "needs python3 (a host listener)"
ctr_start 60

# watch_open NODE: an inotify watch sees NODE opened (IN_OPEN); watch_end
# stops it and prints 1 if it was, else 0
watch_open() {
	python3 - "$1" >"$T/opened" 2>&1 <<'PY' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x20)
print("watching", flush=True)
os.read(fd, 4096)
print("opened", flush=True)
PY
	watcher=$!
	wait_for 5 grep -q watching "$T/opened" || bail "the inotify watch did not start"
}
watch_end() {
	sleep 0.2
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	grep -c opened "$T/opened"
}

# ------------------------------------------------------------ build-net --
# a listener on the host's loopback, and an abstract unix socket
port=$((20000 + RANDOM % 20000))
python3 - "$port" "lrun-attack-$$" >"$T/listener.out" 2>&1 <<'PY' &
import socket, sys, threading
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); u.bind("\0" + sys.argv[2]); u.listen(8)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", int(sys.argv[1]))); t.listen(8)
print("ready", flush=True)
def serve(s, msg):
    while True:
        c, _ = s.accept(); c.sendall(msg); c.close()
threading.Thread(target=serve, args=(u, b"abstract\n"), daemon=True).start()
serve(t, b"host-loopback-secret\n")
PY
listener=$!
at_exit "kill $listener 2>/dev/null"
wait_for 5 grep -q ready "$T/listener.out" || bail "the host listener did not start"

C=$T/ctx && mkdir -p "$C"
cat >"$C/Containerfile" <<EOF
FROM $IMG
RUN nc 127.0.0.1 $port >/got 2>/dev/null; echo "tcp:\$(cat /got)"; echo "unix:\$(grep -c lrun-attack-$$ /proc/net/unix)"; echo "netns:\$(readlink /proc/self/ns/net)"
EOF
hostns=$(readlink /proc/self/ns/net)
hostns_re=${hostns//[/\\[}
hostns_re=${hostns_re//]/\\]}
run L build --no-cache -t attack-net "$C"
is "$rc" 0 "build of a Containerfile whose RUN probes the host's network"
like "$out" "${nl}tcp:${nl}unix:0${nl}netns:net:\[[0-9]+\]$nl" "RUN: the host's 127.0.0.1:$port refused, its abstract socket not seen"
ok "$(printf '%s' "$out" | grep -qxF "netns:$hostns"; [ $? = 1 ]; echo $?)" "RUN: a network namespace of its own, not the host's ($hostns)"
run L build --no-cache --network host -t attack-net "$C"
like "$rc|$out" "^0\|.*${nl}tcp:host-loopback-secret${nl}unix:1${nl}netns:$hostns_re$nl" "--network host: the host's network, when asked"
run L build --no-cache --network none -t attack-net "$C"
like "$rc|$out" "^0\|.*${nl}tcp:${nl}unix:0$nl" "--network none: none"
is "$(jq length "$R/overlay-containers/containers.json")" 0 "no step container left"

# ------------------------------------------------------------ build-ctx --
C=$T/ctx2 && mkdir -p "$C"
printf 'FROM %s\nCOPY . /c/\nRUN ls -l /c | cut -c1\n' "$IMG" >"$C/Containerfile"
mkfifo "$C/pipe" && echo x >"$C/file"
run L build --no-cache -t attack-ctx "$C"
like "$rc|$out" "^0\|.*${nl}-$nl-${nl}p$nl" "a context with a FIFO: built (the FIFO copied as one, never opened)"
rm "$C/pipe" && mknod "$C/zero" c 1 5
watch_open "$C/zero"
run L build --no-cache -t attack-ctx "$C"
is "$rc|$(watch_end)" "0|0" "a context with a device node (/dev/zero's): built, the node never opened"
rm "$C/zero" && ln -s /dev/zero "$C/.dockerignore"
ulimit -S -v 1000000 # without the fix, lrun reads /dev/zero until this stops it
run L build --no-cache -t attack-ctx "$C"
ulimit -S -v unlimited
is "$rc" 0 ".dockerignore -> /dev/zero: not read (lrun ran out of memory)"
rm "$C/.dockerignore" && mkfifo "$C/.dockerignore"
TO="timeout -k 2 15" run L build --no-cache -t attack-ctx "$C"
is "$rc" 0 ".dockerignore a FIFO: not read (build hung)"
rm "$C/.dockerignore"
echo "HOSTSECRET$$ x" >"$T/outside" && ln -sf "$T/outside" "$C/Containerfile"
run L build --no-cache -t attack-ctx "$C"
like "$rc|$err" "^125\|Error: open .*/Dockerfile: No such file or directory" \
	"Containerfile -> a host file: resolved inside the context (nothing there)"
ok "$([[ $out$err != *HOSTSECRET* ]]; echo $?)" "  the host file's content is not shown"

# ------------------------------------------------------------- load-dev --
mkdir -p "$T/lay" && echo hi >"$T/lay/f" && fx_layer_tar "$T/lay" "$T/lay.tar"
fx_oci_layout "$T/layout" dev "$T/lay.tar"
cfg=$(jq -r '.manifests[0].digest' "$T/layout/index.json" | cut -d: -f2)
cfg=$(jq -r '.config.digest' "$T/layout/blobs/sha256/$cfg" | cut -d: -f2)
rm "$T/layout/blobs/sha256/$cfg" && mknod "$T/layout/blobs/sha256/$cfg" c 1 5
watch_open "$T/layout/blobs/sha256/$cfg"
run L load -i "$T/layout"
is "$rc|$(watch_end)" "125|0" "load of a layout whose config blob is a device node: refused, the node never opened"
like "$err" "not a regular file" "  the error says why"

# ----------------------------------------------------------- oci-userns --
S=$T/state B=$T/bundle
chmod 0711 "$T" # the mapped root (100000) must reach its rootfs
mkdir -p "$B" && fx_busybox_rootfs "$B/rootfs" && chown -R 100000:100000 "$B/rootfs"
echo root-only >"$T/secret" && chmod 0600 "$T/secret"
at_exit '"$LRUN" --root "$S" delete -f u1 >/dev/null 2>&1'
(cd "$B" && "$LRUN" --root "$S" spec) || bail "lrun spec"
jq --arg s "$T/secret" '.process.terminal = false | .process.args = ["sleep", "100"]
	| .linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .mounts += [{"destination": "/secret", "type": "bind", "source": $s, "options": ["bind", "ro"]}]' \
	"$B/config.json" >"$B/config.new" && mv "$B/config.new" "$B/config.json"
run $TO "$LRUN" --root "$S" run -d --bundle "$B" u1
is "$rc|$err" "0|" "OCI run -d of a container mapping its root to 100000"
run $TO "$LRUN" --root "$S" exec u1 sh -c 'cat /proc/self/uid_map | tr -s " "; cat /secret'
like "$rc|$out|$err" "^1\| 0 100000 65536$nl\|.*/secret'?: Permission denied" \
	"exec: in the container's user namespace, the host's root-only file stays unreadable"
"$LRUN" --root "$S" delete -f u1 >/dev/null 2>&1

done_testing
