#!/bin/bash
# ./build.sh --install: lrun, its man page (made from examples/install/lrun.1.in and the
# binary's own --help: every command and global option is in it) and its
# bash completion (commands, group commands, flags and names from lrun
# itself).  The commands moved from getopt to the flag tables: flags after
# operands, --help that does nothing else, podman's boolean spellings.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start
TOP=$(cd "$here/../.." && pwd)

# --- install into DESTDIR, from a copy (CC=true: the built ./lrun is used as is) ---
mkdir -p "$T/src" && mkdir -p "$T/src/examples" && cp -r "$TOP/build.sh" "$TOP/runtime.c" "$T/src/" && cp -r "$TOP/examples/install" "$T/src/examples/" && cp "$LRUN" "$T/src/lrun"
out=$(cd "$T/src" && CC=true DESTDIR=$T/dest PREFIX=/usr ./build.sh --install 2>&1)
is "$?:$(tail -1 <<<"$out")" "0:installed $T/dest/usr/bin/lrun, $T/dest/usr/share/man/man1/lrun.1, $T/dest/usr/share/bash-completion/completions/lrun" \
	"build.sh --install puts the three files under DESTDIR/PREFIX"
cmp -s "$LRUN" "$T/dest/usr/bin/lrun"
ok $? "the binary installed is the one built"
MAN=$T/dest/usr/share/man/man1/lrun.1
missing=""
for c in $("$LRUN" --help | awk '/^Available Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}'); do
	grep -qx ".B $c" "$MAN" || missing="$missing $c"
done
for c in "image prune" "system prune" "container ls" "volume create"; do
	grep -qx ".B $c" "$MAN" || missing="$missing '$c'"
done
grep -qx '.B \\-\\-root DIR' "$MAN" || missing="$missing --root"
is "$missing" "" "the man page has every command, group command and global option"
grep -q '@' "$MAN"
is "$?" 1 "no placeholder left"
if command -v man >/dev/null; then
	out=$(MANWIDTH=80 man -l "$MAN" 2>&1)
	like "$out" "LRUN\(1\).*SYNOPSIS.*COMMANDS.*system prune.*registries.conf.*EXIT STATUS" "man renders it"
else
	skip "man (man-db) not installed"
fi

# --- bash completion ---------------------------------------------------------------
R=$T/store
lr load -q -i "$(fx_servidorweb "$T/fx" >/dev/null && echo "$T/fx/v1.tar")" >/dev/null || bail "load"
lr create --name completed localhost:5000/servidorweb:v1 true >/dev/null
complete_line() { # WORDS...: what completing the last word offers
	bash -c '
		. "$1"; shift
		lrun() { "$LRUN_BIN" --root "$STORE" "$@"; }
		COMP_WORDS=("$LRUN_BIN" "$@"); COMP_CWORD=$(($# ))
		_lrun; printf "%s " "${COMPREPLY[@]}"' complete "$T/dest/usr/share/bash-completion/completions/lrun" "$@"
}
export LRUN_BIN=$LRUN STORE=$R
is "$(complete_line ima)" "image images " "a command's name"
is "$(complete_line image pr)" "prune " "a group's command"
is "$(complete_line images --fi)" "--filter " "a command's flag"
is "$(complete_line system prune --vo)" "--volumes " "a group command's flag"

# --- the commands on the flag tables ------------------------------------------------------
run lr save localhost:5000/servidorweb:v1 -o "$T/v1-again.tar" -q
is "$rc:$(tar tf "$T/v1-again.tar" | grep -c manifest.json)" "0:1" "save IMG -o FILE: the flag after the operand"
for c in load import save pull push login logout history diff tag untag "image tree" "system df"; do
	run lr $c --help
	[ "$rc" = 0 ] && [[ $out == *"Usage:"*"lrun $c"* ]] || { diag "$c --help: $rc $out$err"; break; }
done
is "$rc" 0 "every converted command has --help (Usage: lrun COMMAND ...)"
run lr tag --help localhost:5000/servidorweb:v1 x/y:z
is "$rc:$(lr images --format '{{.Repository}}' | grep -c x/y)" "0:0" "tag IMG NAME --help tags nothing"
run lr history -H=false -q localhost:5000/servidorweb:v1
is "$rc:$(wc -l <<<"$out")" "0:4" "history -H=false -q (cobra's -X=false)"
run lr pull --tls-verify=maybe x
is "$rc:$err" "125:Error: invalid argument \"maybe\" for \"--tls-verify\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax
" "--tls-verify=VALUE: podman's error for a bad boolean"
lr rm -a -f >/dev/null

done_testing
