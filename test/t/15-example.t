#!/bin/bash
# The public API: runtime.c built with -DLRUN_NO_MAIN links into another
# program (examples/list-images.c) that loads and lists images.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"

T=$(mktemp -d /tmp/lrun-example.XXXXXX)
at_exit 'rm -rf "$T"'
fx_servidorweb "$T/fx" >/dev/null 2>&1 || bail "fixtures"

ok_cmd "runtime.c compiles with -DLRUN_NO_MAIN into an object (-Os, as build.sh optimises)" \
    cc -std=gnu11 -Wall -Wextra -Werror -Os -D_FORTIFY_SOURCE=2 -c -DLRUN_NO_MAIN -o "$T/runtime.o" "$top/runtime.c"
is "$(nm "$T/runtime.o" | awk '$2 == "T" && $3 == "main"')" "" "the object defines no main"
is "$(nm "$T/runtime.o" | awk '$2 == "T" {print $3}' | grep -v -e '^lrun_' -e '^__archive_write_entry_filetype_unsupported$' | tr '\n' ' ')" "" \
    "every global symbol carries the lrun_ prefix"
ok_cmd "examples/list-images.c links statically against it" \
    cc -std=gnu11 -Wall -Wextra -Werror -static -I"$top" -o "$T/list-images" "$top/examples/list-images.c" \
    "$T/runtime.o" $("$top/build.sh" --libs)

out=$("$T/list-images" "$T/root" "$T/fx/v1.tar" 2>/dev/null)
is "$out" "loaded localhost:5000/servidorweb:v1
53295387bff9 localhost:5000/servidorweb:v1 2234583 bytes, 3 layers
layers: 2232320 bytes" "the example loads v1 and lists it with its size"
out=$("$T/list-images" "$T/root" 2>&1)
is "$out" "53295387bff9 localhost:5000/servidorweb:v1 2234583 bytes, 3 layers
layers: 2232320 bytes" "a second run reads the same store"
is "$("$top/lrun" --root "$T/root" images --format '{{.ID}} {{.Repository}}:{{.Tag}}')" \
    "53295387bff9 localhost:5000/servidorweb:v1" "the lrun binary sees what the embedding program stored"
"$T/list-images" "$T/nope/../root" "$T/missing.tar" >/dev/null 2>"$T/err"
is "$?" 125 "a failed load returns the error's exit code"
like "$(cat "$T/err")" "list-images: .*missing.tar" "and its message names the file"
done_testing
