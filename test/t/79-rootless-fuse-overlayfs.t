#!/bin/bash
# fuse-overlayfs, podman's rootless fallback where the kernel refuses an
# ordinary user's overlay (before Linux 5.11): this kernel mounts it, so
# storage.conf's mount_program (which podman honours) forces the fallback.
# info says so (graphDriverName stays overlay; graphOptions has
# overlay.mount_program, as podman's); containers run on a
# fuse.fuse-overlayfs root mounted outside their mount namespace, as
# root and as another user, exec works, and the daemon goes with them.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/rootless.sh"
command -v fuse-overlayfs >/dev/null || skip_all "no fuse-overlayfs"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
rootless_setup
IMG=localhost:5000/servidorweb:v1
printf '[storage]\ndriver = "overlay"\n[storage.options.overlay]\nmount_program = "/usr/bin/fuse-overlayfs"\n' >"$RH/fuse.conf"
chmod 644 "$RH/fuse.conf"
fl() { as_user env CONTAINERS_STORAGE_CONF="$RH/fuse.conf" timeout -k 5 120 "$UL" "$@"; }

run lu info --format json
is "$(jq -c '[.store.graphDriverName, .store.graphOptions, .store.graphStatus["Native Overlay Diff"]]' <<<"$out")" \
	'["overlay",{},"true"]' "the kernel's overlay by default: no mount program in info"
run fl load -q -i "$FX/v1.tar"
is "$rc" 0 "load with mount_program set"
run fl info --format json
is "$(jq -c '[.store.graphDriverName, .store.graphOptions["overlay.mount_program"].Executable, .store.graphStatus["Native Overlay Diff"]]' <<<"$out")" \
	'["overlay","/usr/bin/fuse-overlayfs","false"]' "info: graphDriverName overlay, graphOptions overlay.mount_program (podman's shape)"
run fl run --rm --network none "$IMG" sh -c 'awk "\$5 == \"/\" { print \$9 }" /proc/self/mountinfo; echo x >/new; cat /new; cat /var/www/index.html'
is "$rc|$out" $'0|fuse-overlayfs\nx\n<html><body><h1>servidorweb</h1></body></html>\n' \
	"run: the container's root is fuse-overlayfs, writable, the image's files there"
run fl run --rm --network none --user 1000 "$IMG" sh -c 'id -u; touch /tmp/f && echo wrote; ls -d /home/app'
is "$rc|$out" $'0|1000\nwrote\n/home/app\n' "  as uid 1000 too (allow_other in the user's namespace)"
run fl run -d --name f1 --network none "$IMG" sleep 300
is "$rc" 0 "run -d"
run fl exec f1 sh -c 'echo y >/y; cat /y'
is "$rc|$out" $'0|y\n' "exec"
run fl rm -f -t 0 f1
is "$rc" 0 "rm -f"
fuse_left() { for p in $(user_pids); do [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && cat "/proc/$p/comm"; done 2>/dev/null | grep -c fuse-overlayfs; }
for i in $(seq 100); do [ "$(fuse_left)" = 0 ] && break; sleep 0.1; done
is "$(fuse_left)" 0 "no fuse-overlayfs daemon left once the containers are gone"
run lu run --rm --network none "$IMG" sh -c 'awk "\$5 == \"/\" { print \$9 }" /proc/self/mountinfo'
is "$rc|$out" $'0|overlay\n' "without mount_program the same store runs on the kernel's overlay"
done_testing
