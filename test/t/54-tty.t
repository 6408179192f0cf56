#!/bin/bash
# run -it: a pty for the container, the caller's terminal in raw mode while it
# runs and restored after (also when the container is killed), the window size
# at start and on SIGWINCH, ^C delivered to the container's foreground
# process.  Driven with script(1) and, when installed, tmux.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v script >/dev/null || skip_all "needs script(1) (util-linux)"
ctr_start
O=$T/out
mkdir -p "$O"

# --------------------------------------------------------------- script --
cat >"$T/inner.sh" <<EOF
#!/bin/bash
stty rows 33 cols 91
stty -g > $O/before
stty -a > $O/host-before
"$LRUN" --root "$R" run --rm -it -v "\$(tty):/outer" -v "$O:/out" "$IMG" sh -c \
	'stty size > /out/size; tty > /out/tty; stty -a < /outer > /out/outer-during; ls /dev > /out/dev; stty size; exit 7'
rc=\$?
echo \$rc > $O/rc
stty -g > $O/after
exit \$rc
EOF
chmod +x "$T/inner.sh"
run timeout -k 5 30 script -qec "$T/inner.sh" /dev/null </dev/null
is "$rc" 7 "run -it under script: the container's exit code (7) comes back"
is "$(cat "$O/rc" 2>/dev/null)" 7 "  lrun itself returned 7"
like "$out" "33 91" "  the container's stty size output reaches the terminal"
is "$(cat "$O/size" 2>/dev/null)" "33 91" "the container's pty has the caller's window size (33 rows, 91 cols)"
is "$(cat "$O/tty" 2>/dev/null)" /dev/pts/0 "the container's stdin is its own pty /dev/pts/0"
like "$(tr '\n' ' ' <"$O/dev" 2>/dev/null)" "(^| )console " "with -t, /dev/console exists"
flags() { grep -o -w -E -- '-?(icanon|echo|isig|opost|icrnl|ixon)' "$1" 2>/dev/null | tr '\n' ' '; }
is "$(flags "$O/outer-during")" "-icrnl -ixon -opost -isig -icanon -echo " \
	"while the container runs the caller's terminal is raw (-icanon -echo -isig -opost -icrnl -ixon)"
is "$(flags "$O/host-before")" "icrnl ixon opost isig icanon echo " "(before, it was cooked)"
is "$(cat "$O/after" 2>/dev/null)" "$(cat "$O/before" 2>/dev/null)" "after the container exits the terminal mode is restored (stty -g equal)"

# stdin typed into script reaches the container's shell through the pty
run timeout -k 5 30 script -qec "'$LRUN' --root '$R' run --rm -it '$IMG' sh" /dev/null \
	< <(sleep 0.5; printf 'echo MARK$((6*7))\n'; sleep 0.3; printf 'exit 3\n'; sleep 2)
is "$rc" 3 "input to run -it: the shell's exit 3 comes back"
like "$out" "MARK42" "  the shell evaluated what was typed"

# run -it is its monitor's first client (so that the detach keys can leave
# it running): that client is waited for as a terminal is, nothing dropped
n=$(timeout -k 5 30 script -qec "'$LRUN' --root '$R' run -it --rm '$IMG' sh -c 'head -c 3000000 /dev/zero | tr \"\\\\0\" x'" \
	/dev/null </dev/null | tr -cd x | wc -c)
is "$n" 3000000 "run -it: 3 MB written to the terminal arrive whole"
run timeout -k 5 30 script -qec "'$LRUN' --root '$R' run --rm -it --timeout 1 '$IMG' sleep 10" /dev/null </dev/null
is "$rc" 255 "run -it --timeout 1: killed, its status -1 is run's 255 (as without a terminal)"

run timeout -k 5 30 script -qec "'$LRUN' --root '$R' run --rm -t '$IMG' sh -c 'tty; test -t 0 && echo stdin-tty'" /dev/null </dev/null
like "$rc|$out" "^0\|/dev/pts/0.*stdin-tty" "run -t alone: the command's stdin/stdout are the pty"

# ----------------------------------------------------------------- tmux --
if ! command -v tmux >/dev/null; then
	skip "tmux not installed"; skip "tmux"; skip "tmux"; skip "tmux"; skip "tmux"; skip "tmux"; skip "tmux"; skip "tmux"; skip "tmux"
	done_testing
fi
tmux_shell
tm send-keys -t t "stty -g > $O/t-before; '$LRUN' --root '$R' run --rm -it --name tt '$IMG' sh; echo rc=\$? > $O/t-rc; stty -g > $O/t-after" Enter
wait_pane '^/var/www # $'; ok $? "tmux: run -it shows the container's shell prompt"
tm send-keys -t t 'echo "SZ:$(stty size)"' Enter 'echo MARK$((6*7))' Enter
wait_pane '^SZ:24 80$'; ok $? "tmux: the container sees the 24x80 window"
wait_pane '^MARK42$'; ok $? "tmux: echo \$((6*7)) prints 42"
tm resize-window -t t -x 100 -y 30
sleep 0.3
tm send-keys -t t 'echo "SZ2:$(stty size)"' Enter
wait_pane '^SZ2:30 100$'; ok $? "tmux: after resize-window 100x30 the container sees 30 100 (SIGWINCH propagated)"
tm send-keys -t t 'sleep 100' Enter
sleep 0.5
tm send-keys -t t C-c
sleep 0.2
tm send-keys -t t 'echo "AFTER-INT:$?"' Enter
wait_pane '^AFTER-INT:130$'; ok $? "tmux: ^C interrupts the container's foreground sleep (SIGINT through the pty), the shell survives"
tm send-keys -t t 'exit 5' Enter
wait_pane '^host\$ $'
is "$(cat "$O/t-rc" 2>/dev/null)" rc=5 "tmux: exit 5 of the container's shell is lrun's exit code"
is "$(cat "$O/t-after" 2>/dev/null)" "$(cat "$O/t-before" 2>/dev/null)" "tmux: the terminal mode is restored after exit"

# killed from outside while attached: the terminal is still restored
tm send-keys -t t "clear; '$LRUN' --root '$R' run --rm -it --name tk '$IMG' sh; echo rc=\$? > $O/k-rc; stty -g > $O/k-after" Enter
wait_pane '^/var/www # $'
"$LRUN" --root "$R" kill -s KILL tk >/dev/null 2>&1
wait_pane 'host\$ $'
is "$(cat "$O/k-rc" 2>/dev/null)" rc=137 "tmux: a container killed by lrun kill -s KILL while attached: exit 137"
is "$(cat "$O/k-after" 2>/dev/null)" "$(cat "$O/t-before" 2>/dev/null)" "  and the terminal mode is restored"
done_testing
