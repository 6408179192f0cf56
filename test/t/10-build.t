#!/bin/bash
# The build product: one statically linked ./lrun, its version, and the
# command line's error contract (Error: on stderr, exit 125).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/lrun.sh"
lrun_tmp
cd "$T" || bail "cd $T"

# --- the binary ------------------------------------------------------------------
like "$(file -L "$LRUN")" 'ELF .*statically linked' "file(1) says lrun is a statically linked ELF"
like "$(file -L "$LRUN")" ', stripped' "the built binary is stripped"
run ldd "$LRUN"
isnt_dyn=1; case "$out$err" in *"not a dynamic executable"*|*"statically linked"*) isnt_dyn=0 ;; esac
ok $isnt_dyn "ldd finds no shared library dependency"
is "$(readelf -l "$LRUN" 2>/dev/null | grep -c 'INTERP')" 0 "no ELF program interpreter (no dynamic loader)"
size=$(stat -L -c %s "$LRUN")
note "lrun: $size bytes stripped"
ok "$([ "$size" -lt 3000000 ]; echo $?)" "the stripped binary is under 3 MB (3,000,000 B): $size B"

# --- build recipe (issue: -Wall -Wextra -Werror, static, layout) --------------------
build=$LRUN_TOP/build.sh
like "$(grep -E -- '-Wall' "$build")" '-Wextra' "build.sh compiles with -Wall -Wextra"
like "$(grep -E -- '-Wall' "$build")" '-Werror' "build.sh compiles with -Werror"
like "$(cat "$build")" '-static' "build.sh links with -static"
top=$(cd "$LRUN_TOP" && git ls-files 2>/dev/null | cut -d/ -f1 | grep -v '^\.' | sort -u | tr '\n' ' ')
is "$top" "README.md build.sh examples runtime.c runtime.h test " "tracked top level is exactly build.sh runtime.c runtime.h test/ examples/ README.md"
ok "$( [ -x "$LRUN_TOP/.ci/run" ]; echo $?)" ".ci/run exists and is executable"

# --- version ------------------------------------------------------------------------
run "$LRUN" --version
is "$rc" 0 "lrun --version exits 0"
like "$out" $'^lrun version [0-9]+\\.[0-9]+\\.[0-9]+\nspec: 1\\.1\\.0\n\\+CAP \\+SECCOMP \\+YAJL\n$' \
	"lrun --version prints 'lrun version X.Y.Z', the runtime-spec version and crun's feature line"
is "$err" "" "lrun --version writes nothing on stderr"
ver=${out%%$'\n'*}
run "$LRUN" version
is "$rc" 0 "lrun version exits 0"
like "$out" "^Version: +${ver#lrun version }"$'\n' "lrun version reports the same version (podman's Version: line)"

# --- errors -------------------------------------------------------------------------
R=$T/store
run "$LRUN" --root "$R" frobnicate
is "$rc" 125 "unknown command exits 125"
like "$err" '^Error: [^'$'\n'']*frobnicate' "unknown command: 'Error: ...' naming it on stderr"
is "$out" "" "unknown command prints nothing on stdout"

run "$LRUN" --root "$R" --bogus-flag images
is "$rc" 125 "unknown global flag exits 125"
like "$err" '^Error: .*--bogus-flag' "unknown global flag: Error: names the flag"

run "$LRUN" --root "$R" images --bogus-flag
is "$rc" 125 "unknown flag of a command exits 125"
like "$err" '^Error: .*--bogus-flag' "unknown command flag: Error: names the flag"
is "$out" "" "unknown flag prints nothing on stdout"

run "$LRUN" --root "$R" rmi --no-such-flag x
is "$rc" 125 "rmi with an unknown flag exits 125 (not rmi's 1/2)"

run "$LRUN" --root "$R" images -Z
is "$rc" 125 "unknown short flag exits 125"
like "$err" '^Error: ' "unknown short flag: Error: on stderr"

run "$LRUN" --root
is "$rc" 125 "--root without its argument exits 125"
like "$err" '^Error: ' "--root without its argument: Error: on stderr"

done_testing
