#!/bin/bash
# Real OCI clients drive lrun as their runtime: podman (through conmon) with
# --runtime lrun, and containerd (through containerd-shim-runc-v2, the shim
# Kubernetes' CRI plugin uses) with lrun as its runc binary.  Every client
# runs on private roots: podman in a private mount namespace with its own
# --root/--runroot, containerd on its own socket, root and state.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the fixtures"
lrun_tmp
cd "$T" || bail "cd $T"
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

done_testing
