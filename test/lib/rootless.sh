# rootless.sh - an ordinary user for the rootless tests (source after tap.sh,
# fixtures.sh and lrun.sh).
#
#   rootless_setup [SUBIDS]  skip_all unless root with busybox, useradd and
#                        newuidmap; T (lrun_tmp, made traversable), FX=$T/fx
#                        (fx_servidorweb, readable by all), a fresh user
#                        $RU (uid $RUID) with home $RH=$T/home, $RX (its
#                        XDG_RUNTIME_DIR, 0700), lrun copied to $UL; with
#                        SUBIDS (default yes) 65536 subordinate uids and gids
#                        from $RSUB in /etc/subuid and /etc/subgid.  At exit:
#                        every process of the user killed, the subid lines,
#                        the user and its group removed, then lrun.sh's cleanup.
#   as_user CMD...       CMD as the user, in $RH, with a clean environment
#   lu ARGS...           the user's lrun (default store ~/.local/share/lrun), timed out after 120 s
#   user_pids            pids of the user's processes (its uid or a subordinate one)

RU= RUID= RSUB=

user_pids() {
	local p u
	for p in /proc/[0-9]*; do
		u=$(awk '/^Uid:/ { print $2; exit }' "$p/status" 2>/dev/null) || continue
		[ -n "$u" ] || continue
		if [ "$u" = "$RUID" ] || { [ -n "$RSUB" ] && [ "$u" -ge "$RSUB" ] && [ "$u" -lt $((RSUB + 65536)) ]; }; then
			echo "${p#/proc/}"
		fi
	done
}

_rootless_cleanup() {
	[ -n "$RU" ] || return 0
	local pids
	pids=$(user_pids)
	# shellcheck disable=SC2086
	[ -z "$pids" ] || { kill -9 $pids 2>/dev/null; sleep 0.2; }
	sed -i "/^$RU:/d" /etc/subuid /etc/subgid
	userdel "$RU" >/dev/null 2>&1
	getent group "$RU" >/dev/null && groupdel "$RU" >/dev/null 2>&1
	RU=
}

rootless_setup() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (to create the user)"
	[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the fixtures"
	command -v useradd >/dev/null || skip_all "no useradd"
	command -v newuidmap >/dev/null || skip_all "no newuidmap (Debian's uidmap)"
	[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] || skip_all "no user namespaces"
	at_exit _rootless_cleanup
	lrun_tmp
	chmod 755 "$T"
	RU=lrt$$x$RANDOM RH=$T/home RX=$T/xdg UL=$T/bin/lrun
	useradd -M -d "$RH" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$RU" || bail "useradd $RU"
	RUID=$(id -u "$RU")
	mkdir -p "$RH" "$RX" "$T/bin"
	chown "$RU:" "$RH" "$RX"
	chmod 700 "$RX"
	cp "$LRUN" "$UL" && chmod 755 "$UL"
	RSUB=$((4000000 + (RUID % 500) * 65536))
	FX=$T/fx
	fx_servidorweb "$FX" >/dev/null 2>&1 || bail "fixtures: fx_servidorweb failed"
	chmod -R a+rX "$FX"
	if [ "${1:-yes}" = yes ]; then
		echo "$RU:$RSUB:65536" >>/etc/subuid
		echo "$RU:$RSUB:65536" >>/etc/subgid
	fi
}

as_user() {
	runuser -u "$RU" -- env -i -C "$RH" HOME="$RH" USER="$RU" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
		XDG_RUNTIME_DIR="$RX" LC_ALL=C TZ=UTC "$@"
}

lu() { as_user timeout -k 5 120 "$UL" "$@"; }
