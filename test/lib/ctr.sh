# ctr.sh - helpers for the container tests (test/t/5x-*.t).
# Source after tap.sh, fixtures.sh and lrun.sh:
#
#   ctr_setup            T (mktemp -d), R=$T/root, FX=$T/fx (fx_servidorweb),
#                        IMG=localhost:5000/servidorweb:v1 loaded into $R.
#                        At exit: "lrun rm -f" every container of $R, SIGKILL
#                        every process that belongs to $T (a command line or a
#                        mount table naming $T), then lrun.sh's cleanup
#                        (unmount below $T, rm -rf $T).
#   ctr_field NAME JQ    jq expression JQ on NAME's containers.json record
#   ctr_layer_dir NAME   $R/overlay/<container layer id>
#   mounts_below DIR     lines of the host's mount table below DIR (count with wc)
#   wait_for SECS CMD..  retry CMD every 0.1 s until it succeeds or SECS pass
#   small_fs SIZE DIR    an ext4 of SIZE (truncate's units) on a loop file
#                        $T/<DIR>.img, mounted at DIR (unmounted at exit)
#   fs_fill FILE         write zeros to FILE (and FILE.tail*) until its
#                        filesystem has no block left; 0 when it is full
#   bridge_gone ROOT BR  0 when no link BR is a bridge of the store ROOT (its
#                        alias "lrun:ROOT:..."): another store's test may
#                        already have made a bridge of the same name
#   tmux_shell           a tmux server of the test's own ($T/tmux.sock, killed
#                        at exit), its session "t" an 80x24 window of bash
#                        whose prompt is "host$ "
#   tm ARGS..            tmux ARGS on that server
#   pane                 what the window shows (wrapped lines joined)
#   wait_pane ERE [SECS] until a line of the window matches ERE (5 s); on
#                        failure the window goes to the diagnostics

IMG=localhost:5000/servidorweb:v1

# every process (but this shell) whose command line names $T/, or that lives
# in another mount namespace whose mount table names $T/ (a container)
_ctr_pids() {
	local p pid args mi
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
		args=
		if [ -r "$p/cmdline" ]; then
			mapfile -d '' -t args <"$p/cmdline" 2>/dev/null
			args="${args[*]}"
		fi
		if [[ $args == *"$T/"* ]]; then echo "$pid"; continue; fi
		# another mount namespace (a container's) whose mounts name $T
		[ "$p/ns/mnt" -ef /proc/$$/ns/mnt ] && continue
		{ mi=$(<"$p/mountinfo"); } 2>/dev/null || continue
		[[ $mi == *" $T/"* ]] && echo "$pid"
	done
}
_ctr_cleanup() {
	local id pids
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	if [ -n "${R:-}" ] && [ -f "$R/overlay-containers/containers.json" ]; then
		for id in $(jq -r '.[].id' "$R/overlay-containers/containers.json" 2>/dev/null); do
			timeout -k 2 10 "$LRUN" --root "$R" rm -f "$id" >/dev/null 2>&1
		done
	fi
	pids=$(_ctr_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
		sleep 0.2
	fi
	return 0
}

ctr_setup() {
	at_exit _ctr_cleanup      # runs before lrun.sh's unmount + rm -rf
	lrun_tmp
	R=$T/root FX=$T/fx
	fx_servidorweb "$FX" >/dev/null 2>&1 || bail "fixtures: fx_servidorweb failed"
	"$LRUN" --root "$R" load -q -i "$FX/v1.tar" >/dev/null 2>&1 || bail "lrun load of the fixture image failed"
}

# log_bound DIR: the log bound, in bytes, of a container created without
# max-size in a graph root on DIR's file system: a twentieth, whole MB, 1MB..1GB
log_bound() {
	local mb=$(( $(stat -f -c '%b * %S' "$1") / 20 / 1000000 ))
	[ "$mb" -lt 1 ] && mb=1
	[ "$mb" -gt 1000 ] && mb=1000
	echo $((mb * 1000000))
}
ctr_field() { jq -r --arg n "$1" ".[] | select(.names[0] == \$n) | $2" "$R/overlay-containers/containers.json"; }
ctr_layer_dir() { echo "$R/overlay/$(ctr_field "$1" .layer)"; }
mounts_below() { awk -v d="$1" 'index($5, d "/") == 1 || $5 == d' /proc/self/mountinfo; }

bridge_gone() {
	! ip -d -o link show "$2" 2>/dev/null | grep -q "alias lrun:$1:"
}

wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

small_fs() {
	local img=$T/$(basename "$2").img
	command -v mkfs.ext4 >/dev/null || bail "no mkfs.ext4 (apt-get install e2fsprogs)"
	truncate -s "$1" "$img" && mkfs.ext4 -q -F -N 4096 "$img" || bail "mkfs"
	mkdir -p "$2" && mount -o loop "$img" "$2" || bail "loop mount"
}

fs_fill() {
	local dir
	dir=$(dirname "$1")
	dd if=/dev/zero of="$1" bs=1M 2>/dev/null
	dd if=/dev/zero of="$1.tail" bs=4k 2>/dev/null
	dd if=/dev/zero of="$1.tail2" bs=512 2>/dev/null
	sync
	echo probe >"$dir/.probe" 2>/dev/null && sync "$dir/.probe" 2>/dev/null && [ -s "$dir/.probe" ] && rm -f "$dir/.probe" && return 1
	rm -f "$dir/.probe"
	[ "$(stat -f -c %a "$dir")" = 0 ]
}

tm() { tmux -S "$T/tmux.sock" "$@"; }
pane() { tm capture-pane -p -J -t t 2>/dev/null; }
wait_pane() {
	local i
	for i in $(seq $((${2:-5} * 10))); do pane | grep -qE "$1" && return 0; sleep 0.1; done
	diag "pane never showed /$1/:"; diag "$(pane)"
	return 1
}
tmux_shell() {
	at_exit 'tmux -S "$T/tmux.sock" kill-server 2>/dev/null'
	tm new-session -d -s t -x 80 -y 24 "env -i PATH=$PATH TERM=screen HOME=/root PS1='host\$ ' bash --norc --noprofile" ||
		bail "tmux new-session failed"
}
