#!/bin/bash
# Real OCI clients drive lrun as their runtime: podman (through conmon) with
# --runtime lrun, and containerd (through containerd-shim-runc-v2, the shim
# Kubernetes' CRI plugin uses) with lrun as its runc binary.  Every client
# runs on private roots: podman in a private mount namespace with its own
# --root/--runroot, containerd on its own socket, root and state.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
store_start
nl=$'\n'
TO="timeout -k 5 60"
fx_busybox_rootfs "$T/rfs" && fx_layer_tar "$T/rfs" "$T/layer.tar" &&
	fx_docker_archive "$T/bb.tar" localhost/bb:latest '{"Cmd":["sh"]}' "$T/layer.tar" || bail "fixtures do not build"
# lrun as a runtime binary of its own name (podman and the shim call it by path)
cp "$LRUN" "$T/lrun" || bail "copy lrun"
RT=$T/lrun

# ---------------------------------------------------------------- podman --
if command -v podman >/dev/null && command -v conmon >/dev/null; then
	mkdir -p "$T/tmp" "$T/conf"
	# this machine's root lacks CAP_SYS_RESOURCE: podman's default nofile
	# rlimit (1048576) fails with every runtime, crun included
	printf '[containers]\ndefault_ulimits = []\n' >"$T/conf/containers.conf"
	cat >"$T/podman.sh" <<-EOF
	#!/bin/sh
	export CONTAINERS_CONF=$T/conf/containers.conf TMPDIR=$T/tmp
	exec unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /dev/shm &&
		exec podman "\$@"' podman --root "$T/p-root" --runroot "$T/p-run" --storage-driver overlay \
		--tmpdir "$T/tmp/libpod" --cgroup-manager cgroupfs --events-backend file --runtime "$RT" "\$@"
	EOF
	chmod +x "$T/podman.sh"
	P=$T/podman.sh
	run $TO "$P" load -i "$T/bb.tar"
	is "$rc" 0 "podman loads the test image" || diag "$err"
	run $TO "$P" run --rm localhost/bb echo hello from lrun
	is "$rc|$out" "0|hello from lrun$nl" "podman --runtime lrun run --rm IMG echo"
	run $TO "$P" run --rm localhost/bb sh -c 'exit 7'
	is "$rc" 7 "  the container's exit status comes back through conmon"
	run $TO "$P" run --rm -t localhost/bb sh -c 'tty'
	is "$rc|$out" "0|/dev/pts/0"$'\r'"$nl" "  -t: a terminal through --console-socket"
	run $TO "$P" run -d --name pd localhost/bb sleep 1000
	is "$rc" 0 "podman run -d"
	run $TO "$P" exec pd sh -c 'echo exec in $(cat /proc/1/cmdline | tr "\0" " ")'
	is "$rc|$out" "0|exec in sleep 1000$nl" "podman exec into it"
	run $TO "$P" ps --format '{{.Names}} {{.Status}}'
	like "$out" "^pd Up" "podman ps: running"
	run $TO "$P" stop -t 1 pd
	is "$rc|$out" "0|pd$nl" "podman stop"
	run $TO "$P" ps -a --format '{{.Names}} {{.Status}}'
	like "$out" "^pd Exited \(137\)" "  exited (sleep as pid 1 ignores SIGTERM: killed)"
	run $TO "$P" rm pd
	is "$rc|$out" "0|pd$nl" "podman rm"
	is "$(ls "$T/p-run/lrun" 2>/dev/null)" "" "  nothing left in lrun's state"
	"$P" rm -af >/dev/null 2>&1
else
	skip "podman or conmon not installed"
fi

# ------------------------------------------------------------ containerd --
if command -v containerd >/dev/null && command -v ctr >/dev/null && command -v containerd-shim-runc-v2 >/dev/null; then
	D=$T/ctd
	mkdir -p "$D"
	cat >"$D/config.toml" <<-EOF
	version = 2
	root = "$D/root"
	state = "$D/state"
	disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
		"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]
	[grpc]
	  address = "$D/c.sock"
	[ttrpc]
	  address = "$D/c.sock.ttrpc"
	[debug]
	  address = ""
	[metrics]
	  address = ""
	EOF
	containerd --config "$D/config.toml" >"$D/log" 2>&1 &
	BG_PIDS+=($!)
	for i in $(seq 100); do [ -S "$D/c.sock" ] && break; sleep 0.1; done
	C() { timeout -k 5 60 ctr -a "$D/c.sock" -n lrun-test "$@"; }
	# the shim runs lrun as runc, with its state under --runc-root
	CR=(--runc-binary "$RT" --runc-root "$D/runc")
	run C images import "$T/bb.tar"
	is "$rc" 0 "containerd on a private socket and root imports the test image" || diag "$err$(tail -5 "$D/log")"
	run C run --rm "${CR[@]}" localhost/bb:latest k1 sh -c 'echo hello through the shim; exit 3'
	is "$rc|$out" "3|hello through the shim$nl" "ctr run --runc-binary lrun (containerd-shim-runc-v2): output and exit status"
	run C run -d "${CR[@]}" localhost/bb:latest k2 sleep 1000
	is "$rc" 0 "ctr run -d"
	run C task exec --exec-id e1 k2 sh -c 'echo exec beside $(tr "\0" " " </proc/1/cmdline); exit 4'
	is "$rc|$out" "4|exec beside sleep 1000$nl" "ctr task exec: lrun exec --process through the shim"
	run C task ls
	like "$out" "k2 +[0-9]+ +RUNNING" "ctr task ls: running (lrun state)"
	run C task kill -s KILL k2
	is "$rc" 0 "ctr task kill"
	for i in $(seq 50); do C task ls 2>/dev/null | grep -q 'k2.*STOPPED' && break; sleep 0.1; done
	like "$(C task ls)" "k2 +[0-9]+ +STOPPED" "  stopped"
	run C task delete k2
	is "$rc" 0 "ctr task delete (lrun delete)"
	run C container rm k2
	is "$rc|$(ls "$D/runc/lrun-test" 2>/dev/null)" "0|" "ctr container rm; nothing left in lrun's state"
	C images rm localhost/bb:latest >/dev/null 2>&1
	kill "${BG_PIDS[@]}" 2>/dev/null
	wait 2>/dev/null
	# the shims exit with their tasks; the snapshots' mounts go with $T
else
	skip "containerd, ctr or containerd-shim-runc-v2 not installed"
fi

done_testing
