#!/bin/bash
# Image-controlled symlinks at the paths lrun creates, opens or mounts on
# (/dev, /proc, /sys, /etc/hosts, /etc/hostname, /etc/resolv.conf, /etc,
# volume, tmpfs and workdir targets, /etc/passwd for -u): lrun refuses or
# resolves them inside the container root, never touching the host.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
PROBES="/tmp/lrun-probe-dev /tmp/lrun-probe-dev2 /tmp/lrun-probe-etc /tmp/lrun-probe-vol /tmp/lrun-probe-wd /tmp/lrun-probe-tmpfs"
for p in $PROBES; do
	[ -e "$p" ] || [ -L "$p" ] && { diag "removing a leftover $p from an earlier run"; rm -rf "$p"; }
done
# the host files the images point at: keep a copy, put it back if anything changed it
# (in a dir of its own: the at_exit hooks of ctr_setup remove $T first)
B=$(mktemp -d /tmp/lrun-5x-backup.XXXXXX) || bail "mktemp"
cp -a /etc/shadow /etc/passwd /etc/group "$B/" || bail "cannot back up /etc/shadow, /etc/passwd, /etc/group"
at_exit 'for f in shadow passwd group; do cmp -s "$B/$f" /etc/$f || { cp -a "$B/$f" /etc/$f && echo "# RESTORED /etc/$f" >&2; }; done; rm -rf "$B"'
at_exit 'rm -rf /tmp/lrun-probe-passwd /tmp/lrun-probe-group'
SHADOW=$(sha256 /etc/shadow) PASSWD=$(sha256 /etc/passwd) GROUP=$(sha256 /etc/group)
printf 'root:x:0:0:root:/root:/bin/sh\nevil:x:4242:4242:evil:/:/bin/sh\n' >/tmp/lrun-probe-passwd
printf 'root:x:0:\nevilg:x:4343:\n' >/tmp/lrun-probe-group

# host mount table without what other test runs mount below /tmp (their
# scratch dirs come and go); the probes' own /tmp/lrun-probe-* targets and
# everything outside /tmp stay in
host_mounts() { awk '{ print $5, $9, $4 }' /proc/self/mountinfo | grep -v '^/tmp/' | sort
	awk '{ print $5, $9, $4 }' /proc/self/mountinfo | grep '^/tmp/lrun-probe' | sort; }
MOUNTS0=$(host_mounts)
host_clean() { # NAME: after each case, nothing of ours is mounted on the host
	is "$(mounts_below "$T" | wc -l)|$(host_mounts | diff <(printf '%s\n' "$MOUNTS0") - | grep -c '^[<>]')" "0|0" \
		"$1: host mount table unchanged, nothing mounted below the test dir"
}

# -------------------------------------------------------------- images --
fx_busybox_rootfs "$T/base" || bail "fx_busybox_rootfs"
mkimg() { # NAME SHELL-CODE-RUN-IN-A-COPY-OF-THE-ROOTFS
	rm -rf "$T/r-$1"; cp -a "$T/base" "$T/r-$1"
	(cd "$T/r-$1" && eval "$2") || bail "building image $1"
	fx_layer_tar "$T/r-$1" "$T/$1.tar" &&
		fx_docker_archive "$T/$1-img.tar" "localhost/hostile-run-$1:latest" '{}' "$T/$1.tar" &&
		"$LRUN" --root "$R" load -q -i "$T/$1-img.tar" >/dev/null 2>&1 || bail "loading image $1"
}
mkimg dev 'ln -s /tmp/lrun-probe-dev dev'
mkimg devrel 'ln -s ../../../../../../tmp/lrun-probe-dev2 dev'
mkimg etclinks 'ln -s /etc/shadow etc/hosts; ln -s ../../../../etc/passwd etc/hostname; ln -s /etc/group etc/resolv.conf'
mkimg proc 'ln -s / proc'
mkimg sys 'ln -s / sys'
mkimg resolv 'ln -s ../run/systemd/resolve/stub-resolv.conf etc/resolv.conf'
mkimg etcdir 'mv etc etc.real; ln -s /tmp/lrun-probe-etc etc'
mkimg vol 'ln -s /tmp link; ln -s ../../../../../tmp/lrun-probe-vol link2; ln -s /tmp/lrun-probe-wd link3; ln -s /tmp/lrun-probe-tmpfs link4'
mkimg users 'rm etc/passwd etc/group; ln -s /tmp/lrun-probe-passwd etc/passwd; ln -s /tmp/lrun-probe-group etc/group'
H=localhost/hostile-run

# ----------------------------------------------------------------- /dev --
for v in dev:/tmp/lrun-probe-dev devrel:/tmp/lrun-probe-dev2; do
	img=${v%%:*} probe=${v#*:}
	run L run --rm "$H-$img" sh -c 'echo x > /dev/null && echo devnull-ok'
	ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [ "$out" = "devnull-ok$nl" ]; }; echo $?) \
		"/dev -> $probe: refused (125, or 126: the start failed) + Error:, or run with lrun's own /dev (rc=$rc: ${err//$nl/ })"
	ok $([ ! -e "$probe" ] && [ ! -L "$probe" ]; echo $?) "  $probe was not created on the host"
	host_clean "/dev symlink ($img)"
done

# -------------------------------------------------- /etc/hosts and co --
run L run --rm -h hostile "$H-etclinks" sh -c 'cat /etc/hosts; echo ==; cat /etc/hostname; echo ==; grep -c "^nameserver" /etc/resolv.conf'
is "$rc" 0 "/etc/hosts -> /etc/shadow, /etc/hostname -> ../../../../etc/passwd, /etc/resolv.conf -> /etc/group: the container runs"
like "$out" "^127\.0\.0\.1[[:space:]]+localhost${nl}.*hostile( [a-z_]+)?${nl}==${nl}hostile${nl}==${nl}[1-9]${nl}\$" \
	"  and sees lrun's hosts, hostname and resolv.conf"
is "$(sha256 /etc/shadow)|$(sha256 /etc/passwd)|$(sha256 /etc/group)" "$SHADOW|$PASSWD|$GROUP" \
	"  the host's /etc/shadow, /etc/passwd, /etc/group are unchanged (sha256)"
run L run --rm "$H-etclinks" sh -c 'echo "1.2.3.4 added" >> /etc/hosts; echo h > /etc/hostname'
is "$(sha256 /etc/shadow)|$(sha256 /etc/passwd)" "$SHADOW|$PASSWD" "  writes to them inside do not reach the host files either"
host_clean "/etc links"

# --------------------------------------------------------- /proc, /sys --
for img in proc sys; do
	run L run --rm "$H-$img" sh -c "ls /$img/ | head -3"
	ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [ -n "$out" ]; }; echo $?) \
		"/$img -> /: refused (125, or 126: the start failed) + Error:, or handled (rc=$rc: ${err//$nl/ })"
	host_clean "/$img symlink"
done

# ------------------------------------------------------ dangling resolv --
run L run --name resolv "$H-resolv" sh -c 'grep "^nameserver" /etc/resolv.conf'
is "$rc|$out" "0|$(grep '^nameserver' /etc/resolv.conf)$nl" \
	"/etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf (dangling): lrun's resolv.conf is shown" || diag "$err"
d=$(ctr_layer_dir resolv)/diff
ok $([ -f "$d/run/systemd/resolve/stub-resolv.conf" ]; echo $?) "  the mount point was created inside the container layer"
ilayer=$(jq -r '.[] | select(.names[0] == "localhost/hostile-run-resolv:latest") | .layer' "$R/overlay-images/images.json")
ok $([ -n "$ilayer" ] && [ -L "$R/overlay/$ilayer/diff/etc/resolv.conf" ] && [ ! -e "$R/overlay/$ilayer/diff/run" ]; echo $?) \
	"  and not in the image's layer (still the bare symlink there)"
hostres=absent; [ -e /run/systemd/resolve/stub-resolv.conf ] && hostres=present
note "host /run/systemd/resolve/stub-resolv.conf: $hostres"
L rm resolv >/dev/null 2>&1
host_clean "dangling resolv.conf"

# openat2(RESOLVE_IN_ROOT) fails with EAGAIN when a rename or mount happens
# anywhere on the system while it resolves ".." - a busy host must not make a
# container with such a symlink fail to start (retry, or walk by hand)
mkdir -p "$T/churn/d1" "$T/churn/d2" && : >"$T/churn/d1/a"
perl -e 'chdir shift or die; while (1) { rename "d1/a", "d2/a"; rename "d2/a", "d1/a" }' "$T/churn" &
churn=$!; BG_PIDS+=($churn)
fails=0 errs=
for i in 1 2 3 4 5; do
	run L run --rm "$H-resolv" sh -c 'grep -c "^nameserver" /etc/resolv.conf'
	[ "$rc|$out" = "0|$(grep -c '^nameserver' /etc/resolv.conf)$nl" ] || { fails=$((fails + 1)); errs=$err; }
done
kill $churn 2>/dev/null; wait $churn 2>/dev/null
is "$fails" 0 "the dangling ../run/... resolv.conf while another process renames files across directories: 5 of 5 runs start" ||
	diag "last error: $errs"

# -------------------------------------------------------- /etc symlink --
run L run --rm -h etcl "$H-etcdir" sh -c 'cat /etc/hostname; ls /tmp/lrun-probe-etc | sort | tr "\n" " "'
ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [ "$out" = "etcl${nl}hostname hosts mtab resolv.conf " ]; }; echo $?) \
	"/etc -> /tmp/lrun-probe-etc: refused, or the files are created inside the root (rc=$rc: ${out//$nl/ }${err//$nl/ })"
ok $([ ! -e /tmp/lrun-probe-etc ] && [ ! -L /tmp/lrun-probe-etc ]; echo $?) "  /tmp/lrun-probe-etc was not created on the host"
host_clean "/etc symlink"

# --------------------------------------------- volume / tmpfs / workdir --
mkdir -p "$T/x" && echo volume-data >"$T/x/f"
run L run --rm -v "$T/x:/link" "$H-vol" sh -c 'cat /tmp/f; grep -c " /tmp " /proc/mounts'
is "$rc|$out" "0|volume-data${nl}1$nl" "-v HOST:/link with /link -> /tmp: mounted on the container's /tmp"
[ ! -e /tmp/f ]; ok $? "  the host's /tmp got nothing"
host_clean "volume target symlink"
run L run --rm -v "$T/x:/link2" "$H-vol" sh -c 'cat /tmp/lrun-probe-vol/f'
ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [ "$out" = "volume-data$nl" ]; }; echo $?) \
	"-v HOST:/link2 with /link2 -> ../../../../../tmp/lrun-probe-vol: resolved inside the root (rc=$rc)"
ok $([ ! -e /tmp/lrun-probe-vol ] && [ ! -L /tmp/lrun-probe-vol ]; echo $?) "  /tmp/lrun-probe-vol not created on the host"
host_clean "relative volume target symlink"
run L run --rm --tmpfs /link4 "$H-vol" sh -c 'grep " /tmp/lrun-probe-tmpfs " /proc/mounts | cut -d" " -f1-3'
ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [ "$out" = "tmpfs /tmp/lrun-probe-tmpfs tmpfs$nl" ]; }; echo $?) \
	"--tmpfs /link4 with /link4 -> /tmp/lrun-probe-tmpfs: mounted inside the root (rc=$rc: ${out//$nl/ })"
ok $([ ! -e /tmp/lrun-probe-tmpfs ] && [ ! -L /tmp/lrun-probe-tmpfs ]; echo $?) "  /tmp/lrun-probe-tmpfs not created on the host"
host_clean "tmpfs target symlink"
run L run --rm -w /link3 "$H-vol" pwd
ok $( { [[ $rc == 12[56] ]] && [[ $err == Error:* ]]; } || { [ "$rc" = 0 ] && [[ $out == /* ]]; }; echo $?) \
	"-w /link3 with /link3 -> /tmp/lrun-probe-wd: handled inside the root (rc=$rc: ${out//$nl/ })"
ok $([ ! -e /tmp/lrun-probe-wd ] && [ ! -L /tmp/lrun-probe-wd ]; echo $?) "  /tmp/lrun-probe-wd not created on the host"
is "$(cd /tmp && ls -d lrun-probe-* 2>/dev/null | grep -v -x -e lrun-probe-passwd -e lrun-probe-group)" "" \
	"the host's /tmp has no lrun-probe-* entry but the two files this test made"

# ------------------------------------------------- /etc/passwd symlink --
run L run --rm -u evil "$H-users" id
ok $([ "$rc" != 0 ] && [ -z "$out" ]; echo $?) \
	"-u evil with /etc/passwd -> /tmp/lrun-probe-passwd (a host file naming evil): not resolved from the host (rc=$rc: ${out//$nl/ }${err//$nl/ })"
run L run --rm -u 0:evilg "$H-users" id
ok $([ "$rc" != 0 ] && [ -z "$out" ]; echo $?) "-u 0:evilg with /etc/group -> a host file: not resolved from the host (rc=$rc)"
run L run --rm -u 4242:4343 "$H-users" id -u
is "$rc|$out" "0|4242$nl" "numeric -u still works in that image"
host_clean "passwd symlink"

# --------------------------------- a device node in an image's VOLUME --
# the image's VOLUME /data holds a block device node and a setuid file:
# the anonymous volume filled from it, and a named one, are mounted
# nosuid,nodev as podman's (lrun's were neither): the device cgroup is not
# the only guard against a device node an image ships
rm -rf "$T/r-voldev"; cp -a "$T/base" "$T/r-voldev"; mkdir "$T/r-voldev/data"
mknod "$T/r-voldev/data/disk" b 7 0 && install -m 4755 "$T/base/bin/busybox" "$T/r-voldev/data/suid" &&
	fx_layer_tar "$T/r-voldev" "$T/voldev.tar" &&
	fx_docker_archive "$T/voldev-img.tar" "$H-voldev:latest" '{"Volumes":{"/data":{}}}' "$T/voldev.tar" &&
	"$LRUN" --root "$R" load -q -i "$T/voldev-img.tar" >/dev/null 2>&1 || bail "loading image voldev"
run L run --rm -v lrun-voldev:/named "$H-voldev" sh -c \
	'ls -l /data/disk; for d in /data /named; do grep -c " $d .*nosuid,nodev" /proc/self/mountinfo; done; head -c 1 /data/disk'
like "$out" '^b.* 7, *0 .*/data/disk'$'\n''1'$'\n''1'$'\n''$' "VOLUME /data with a device node: copied up, the volume mounted nosuid,nodev, and so is a named one"
like "$err" "/data/disk: Permission denied" "  the device cannot be opened: nodev (not the device cgroup's EPERM)"
"$LRUN" --root "$R" volume rm -f lrun-voldev >/dev/null 2>&1

is "$(jq length "$R/overlay-containers/containers.json" 2>/dev/null || echo 0)" 0 "no container left behind"
done_testing
