#!/bin/bash
# Rootless: an ordinary user's store in a user namespace mapped as podman's
# (root = the user, 1.. = its /etc/subuid range through newuidmap), held by
# a pause process; layers extracted there keep their owners shifted, the
# unprivileged overlay's whiteouts and user.overlay.opaque; load, images,
# run --network none and lrun unshare work as the user.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/rootless.sh"
rootless_setup

# an image with busybox below a layer of whiteouts: a/gone deleted, d opaque
st=$T/wo
mkdir -p "$st/l1/a" "$st/l1/d" "$st/l2/a" "$st/l2/d"
echo keep >"$st/l1/a/keep"; echo gone >"$st/l1/a/gone"; echo old >"$st/l1/d/old"
: >"$st/l2/a/.wh.gone"; : >"$st/l2/d/.wh..wh..opq"; echo new >"$st/l2/d/new"
FX_TAR_OWNERS="a/keep=4242:4343" fx_layer_tar "$st/l1" "$st/1.tar" || bail "layer"
fx_layer_tar "$st/l2" "$st/2.tar" || bail "layer"
fx_docker_archive "$FX/wo.tar" localhost/wo:latest '{}' "$FX/layers/1.tar" "$st/1.tar" "$st/2.tar" || bail "archive"
chmod -R a+rX "$FX"
S=$RH/.local/share/lrun

# ------------------------------------------------------- load as the user --
run lu load -q -i "$FX/v1.tar"
is "$rc|$out|$err" $'0|Loaded image: localhost:5000/servidorweb:v1\n|' "load as the user: no chown error"
ok $([ -f "$S/overlay-images/images.json" ]; echo $?) "the store is ~/.local/share/lrun"
is "$(stat -c %U "$S" "$S/overlay")" "$RU"$'\n'"$RU" "the store is the user's"
pid=$(cat "$RX/lrun/pause.pid" 2>/dev/null)
is "$(cat "/proc/$pid/comm" 2>/dev/null)" lrun-pause "a pause process (pid file in \$XDG_RUNTIME_DIR/lrun) holds the namespace"
is "$(stat -c %a "$RX/lrun")" 700 "  its runtime directory is mode 0700"
is "$(awk '{ print $1, $2, $3 }' "/proc/$pid/uid_map" | tr '\n' ';')" "0 $RUID 1;1 $RSUB 65536;" \
	"uid map as podman's: 0 = the user, then the subuid range"
is "$(awk '{ print $1, $2, $3 }' "/proc/$pid/gid_map" | tr '\n' ';')" "0 $(id -g "$RU") 1;1 $RSUB 65536;" \
	"gid map: 0 = the user's group, then the subgid range"
app=$(find "$S/overlay" -path '*/diff/home/app' 2>/dev/null | head -1)
is "$(stat -c %u:%g "$app")" "$((RSUB + 999)):$((RSUB + 999))" "home/app (1000:1000 in the tar) is owned by subuid 999 on the host"
is "$(stat -c %u:%g "$(dirname "$app")")" "$RUID:$(id -g "$RU")" "home (0:0) is the user's own on the host"

# ---------------------------------------------------------- images, run --
run lu images --format '{{.Repository}}:{{.Tag}}'
is "$rc|$out" $'0|localhost:5000/servidorweb:v1\n' "images as the user"
run lu run --rm --network none localhost:5000/servidorweb:v1 sh -c 'id -u; stat -c %u:%g /home/app; cat /etc/servidorweb-version'
is "$rc|$out|$err" $'0|0\n1000:1000\nv1\n|' "run --network none: root in the container, the image's owners as in the tar"
run lu run --rm --network none -u 1000 localhost:5000/servidorweb:v1 sh -c 'id -u; touch /home/app/f && echo wrote'
is "$rc|$out" $'0|1000\nwrote\n' "run -u 1000: a subordinate uid writes its own directory"
run lu run --rm --network none localhost:5000/servidorweb:v1 sh -c 'exit 7'
is "$rc" 7 "the container's exit status"

# ---------------------------------------------- whiteouts in the user's store --
run lu load -q -i "$FX/wo.tar"
is "$rc|$err" "0|" "load an image with whiteouts"
top=$(jq -r '.[] | select(.names[0] == "localhost/wo:latest") | .layer' "$S/overlay-images/images.json")
is "$(stat -c '%F %t,%T' "$S/overlay/$top/diff/a/gone" 2>&1)" "character special file 0,0" "a whiteout is a 0/0 character device"
is "$(getfattr -n user.overlay.opaque --only-values "$S/overlay/$top/diff/d" 2>/dev/null)" y "an opaque directory has user.overlay.opaque=y"
ok $(getfattr -n trusted.overlay.opaque "$S/overlay/$top/diff/d" >/dev/null 2>&1; echo $((!$?))) "  and no trusted.overlay.opaque"
run lu run --rm --network none localhost/wo sh -c 'ls /a /d; stat -c %u:%g /a/keep'
is "$rc|$out|$err" $'0|/a:\nkeep\n\n/d:\nnew\n4242:4343\n|' "run: the whiteout hides a/gone, the opaque d shows only new"
run lu run --name c1 --network none localhost/wo sh -c 'rm -r /d /a/keep; mkdir /n'
run lu diff c1
is "$rc|$out" $'0|C /a\nD /a/keep\nD /d\nA /n\n' "diff of a container: the kernel's whiteouts read back"
run lu rm c1
is "$rc|$out" $'0|c1\n' "rm"

# --------------------------------------------------------------- unshare --
run lu unshare sh -c 'id -u; cat /proc/self/uid_map | wc -l; stat -c %u "$CONTAINERS_GRAPHROOT/overlay"'
is "$rc|$out" $'0|0\n2\n0\n' "unshare: root of the store's namespace, CONTAINERS_GRAPHROOT set"
run lu unshare sh -c 'exit 4'
is "$rc" 4 "unshare: the command's exit status"
run lu unshare /no/such
is "$rc" 127 "unshare: a missing command exits 127"
run "$LRUN" --root "$T/rootstore" unshare true
is "$rc|$err" $'125|Error: please use unshare with rootless\n' "unshare as root: podman's error"
run lu info --format '{{.Host.Security.Rootless}}'
is "$out" $'true\n' "info: rootless"

# ---------------------------------------------- cgroups: none, and said so --
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	warn="WARN[0000] Resource limits are not supported and ignored on cgroups V2 rootless systems without a delegated cgroup subtree"
else
	warn="WARN[0000] Resource limits are not supported and ignored on cgroups V1 rootless systems"
fi
run lu run --rm --network none --memory 64m --pids-limit 50 --cpus 1 localhost:5000/servidorweb:v1 true
is "$rc|$err" "0|$warn"$'\n' "limits without a cgroup of the user's: podman's warning, once, and the container runs"
run lu run --rm --network none localhost:5000/servidorweb:v1 true
is "$rc|$err" "0|" "  no warning without limits"

# ------------------------------------ XDG_DATA_HOME, XDG_RUNTIME_DIR, /run/user --
run as_user env XDG_DATA_HOME="$RH/data" "$UL" load -q -i "$FX/v1.tar"
ok $([ "$rc" = 0 ] && [ -f "$RH/data/lrun/overlay-images/images.json" ]; echo $?) "\$XDG_DATA_HOME/lrun is the store when set"
mkdir -p "/run/user/$RUID" && chown "$RU:" "/run/user/$RUID" && chmod 700 "/run/user/$RUID"
at_exit 'pkill -9 -F "/run/user/$RUID/lrun/pause.pid" 2>/dev/null; rm -rf "/run/user/$RUID"'
run runuser -u "$RU" -- env -i -C "$RH" HOME="$RH" PATH=/usr/bin:/bin "$UL" images -q
is "$rc" 0 "without \$XDG_RUNTIME_DIR"
is "$(cat "/proc/$(cat "/run/user/$RUID/lrun/pause.pid" 2>/dev/null)/comm" 2>/dev/null)" lrun-pause \
	"  the runtime directory is /run/user/UID/lrun"
pkill -9 -F "/run/user/$RUID/lrun/pause.pid"; rm -rf "/run/user/$RUID"

# ---------------------------------------------- storage.conf, for the user --
printf '[storage]\ndriver = "overlay"\nrootless_storage_path = "$HOME/rsp/$UID/$USER"\n' >"$RH/conf.toml"
run as_user env CONTAINERS_STORAGE_CONF="$RH/conf.toml" "$UL" info --format '{{.Store.GraphRoot}}'
is "$rc|$out" "0|$RH/rsp/$RUID/$RU"$'\n' "storage.conf's rootless_storage_path (\$HOME, \$UID, \$USER expanded: the user's)"
mkdir -p "$RH/.config/containers" && chown -R "$RU:" "$RH/.config"
printf '[storage]\ndriver = "overlay"\nrootless_storage_path = "$HOME/mine"\n' >"$RH/.config/containers/storage.conf"
run lu load -q -i "$FX/v1.tar"
ok $([ "$rc" = 0 ] && [ -f "$RH/mine/overlay-images/images.json" ]; echo $?) \
	"  the user's ~/.config/containers/storage.conf: its rootless_storage_path is the store"
printf '[storage]\ndriver = "overlay"\ngraphroot = "$HOME/gr"\nrootless_storage_path = "$HOME/mine"\n' \
	>"$RH/.config/containers/storage.conf"
run lu info --format '{{.Store.GraphRoot}}'
is "$out" "$RH/gr"$'\n' "  its graphroot comes first"
rm -rf "$RH/.config"

# ------------------------ the pause process killed: the containers' namespace --
run lu run -d --name held --network none localhost:5000/servidorweb:v1 sleep 300
is "$rc" 0 "run -d"
old_ns=$(readlink "/proc/$(cat "$RX/lrun/pause.pid")/ns/user")
kill -9 "$(cat "$RX/lrun/pause.pid")"
run lu exec held sh -c 'echo in; cat /proc/self/uid_map | wc -l'
is "$rc|$out" $'0|in\n2\n' "exec into a running container after its pause process was killed"
new_pid=$(cat "$RX/lrun/pause.pid")
is "$(cat "/proc/$new_pid/comm" 2>/dev/null) $(readlink "/proc/$new_pid/ns/user")" "lrun-pause $old_ns" \
	"  a new pause process, in the container's user namespace (joined through its monitor, as podman joins conmon's)"
run lu ps --format '{{.Names}} {{.Status}}'
like "$out" "^held Up " "  ps sees it running"
run lu rm -f -t 0 held
is "$rc" 0 "  rm -f"
pid=$(cat "$RX/lrun/pause.pid")

# ----------------------------------------- no subordinate ids: single mapping --
kill -9 "$pid"
sed -i "/^$RU:/d" /etc/subuid /etc/subgid
run lu images -q
like "$err" '^WARN\[0000\] Using rootless single mapping into the namespace' "without subordinate ids: podman's warning"
pid=$(cat "$RX/lrun/pause.pid" 2>/dev/null)
is "$(awk '{ print $1, $2, $3 }' "/proc/$pid/uid_map" | tr '\n' ';')" "0 $RUID 1;" "  and the single-id mapping"
run lu run --rm --network none localhost/wo cat /d/new
is "$rc|$out" $'0|new\n' "  run works on a store whose owners are all mapped"
run lu rm -a -f
run lu rmi -a -f
S2=$RH/s2
run lu --root "$S2" load -q -i "$FX/v1.tar"
is "$rc" 125 "  an image owned by uid 1000 cannot be loaded"
like "$err" 'insufficient UIDs or GIDs available in user namespace.*1000:1000.*home/app.*/etc/subuid' "  podman's explanation"
done_testing
