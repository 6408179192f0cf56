#!/bin/bash
# Rootless security: nothing an ordinary user does through lrun writes
# outside the user's store and home (a container's root is the user, not
# the host's root); root's store cannot be read through lrun; the runtime
# directory and the pause process cannot be planted by someone else.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/rootless.sh"
rootless_setup
R=$T/rootstore IMG=localhost:5000/servidorweb:v1
lr load -q -i "$FX/v1.tar" >/dev/null 2>&1 || bail "root's load"
touch "$T/marker"
sleep 1

# ---------------------------------------------------- root's store, closed --
is "$(stat -c %a "$R")" 700 "root's store is mode 0700"
run lu --root "$R" images
is "$rc" 125 "images --root <root's store> as the user: exit 125"
like "$err" 'Permission denied' "  permission denied"
run lu --root "$R" run --rm --network none "$IMG" true
is "$rc" 125 "run from root's store: exit 125"
run lu --root "$R" save -o "$RH/stolen.tar" "$IMG"
is "$rc" 125 "save from root's store: exit 125"
ok $([ ! -e "$RH/stolen.tar" ] || [ ! -s "$RH/stolen.tar" ]; echo $?) "  no archive of root's image"
lu load -q -i "$FX/v1.tar" >/dev/null 2>&1 || bail "the user's load"
run lu run --rm --network none -v "$R:/x" "$IMG" sh -c 'ls /x/overlay-images; cat /x/overlay-images/images.json'
ok $([ "$rc" != 0 ] && [ -z "$out" ]; echo $?) "a container of the user's cannot list or read root's store through a bind"
run lu unshare cat "$R/overlay-images/images.json"
ok $([ "$rc" != 0 ] && [ -z "$out" ]; echo $?) "lrun unshare (root of the user's namespace) cannot read it either"
is "$(stat -c %a "$RH/.local/share/lrun")" 700 "the user's store is mode 0700 too"

# ------------------------------------- a container's root is not the host's --
run lu run --rm --network none -v /etc:/e "$IMG" sh -c 'echo x > /e/lrun-rootless-attack'
ok $([ "$rc" != 0 ] && [ ! -e /etc/lrun-rootless-attack ]; echo $?) "root in the container cannot write the host's /etc through a bind"
run lu run --rm --network none -v /:/host "$IMG" sh -c 'cat /host/etc/shadow; echo y > /host/root/lrun-attack'
ok $([ "$rc" != 0 ] && [ -z "$out" ] && [ ! -e /root/lrun-attack ]; echo $?) "  nor read /etc/shadow or write /root"
run lu run --rm --network none --privileged "$IMG" sh -c 'mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda'
ok $([ "$rc" != 0 ]; echo $?) "--privileged as the user: no device of the host's can be made or read"
run lu run --rm --network none --cap-add ALL "$IMG" sh -c 'echo 1 > /proc/sys/kernel/sysrq'
ok $([ "$rc" != 0 ]; echo $?) "--cap-add ALL: the host's sysctls stay the host's"

# -------------------------------------------- everyday work, outside: nothing --
lu run --rm --network none "$IMG" sh -c 'echo a > /f' >/dev/null 2>&1
lu run -d --name d1 --network none "$IMG" sleep 30 >/dev/null 2>&1
lu exec d1 touch /tmp/x >/dev/null 2>&1
lu rm -f d1 >/dev/null 2>&1
lu save -o "$RH/s.tar" "$IMG" >/dev/null 2>&1
lu rmi "$IMG" >/dev/null 2>&1
lu load -q -i "$RH/s.tar" >/dev/null 2>&1
owned() { # files of the user's (its uid, its subordinate ids) changed since the marker, outside $T
	find /tmp /var/tmp /dev/shm /run /etc /var/lib /root /home -xdev \( -path "$T" -prune \) -o -newer "$T/marker" \
		\( -uid "$RUID" -o \( -uid +"$((RSUB - 1))" -uid -"$((RSUB + 65536))" \) \) -print 2>/dev/null
}
is "$(owned)" "" "load, run, run -d, exec, rm, save, rmi: no file of the user's outside its home, store and \$XDG_RUNTIME_DIR"

# ------------------------------------------- the runtime directory, planted --
X2=$T/xdg2
mkdir -p "$X2/lrun" && chmod 700 "$X2/lrun" && chmod 755 "$X2"
run as_user env XDG_RUNTIME_DIR="$X2" "$UL" images
is "$rc" 125 "a runtime directory that is not the user's (made by root): exit 125"
like "$err" "runtime directory $X2/lrun is not a directory of yours with mode 0700" "  said plainly"
rm -rf "$X2/lrun"; mkdir -p "$T/elsewhere"; chown "$RU:" "$T/elsewhere"; chmod 700 "$T/elsewhere"
ln -s "$T/elsewhere" "$X2/lrun"
run as_user env XDG_RUNTIME_DIR="$X2" "$UL" images
is "$rc" 125 "a symlink as the runtime directory: exit 125"
is "$(ls -A "$T/elsewhere")" "" "  nothing written through it"

# ------------------------------------------------- a forged pause process --
old=$(cat "$RX/lrun/pause.pid")
cp /bin/sleep "$T/bin/lrun-pause"
"$T/bin/lrun-pause" 60 &
fake=$!
BG_PIDS+=($fake)
sleep 0.2
echo "$fake" >"$RX/lrun/pause.pid"
kill -9 "$old"
run lu images -q
is "$rc" 0 "pause.pid naming root's process (comm lrun-pause): lrun works"
new=$(cat "$RX/lrun/pause.pid")
ok $([ "$new" != "$fake" ] && [ "$(stat -c %U "/proc/$new")" = "$RU" ]; echo $?) "  with a pause process of the user's own, not root's"
done_testing
