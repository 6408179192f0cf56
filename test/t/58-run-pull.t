#!/bin/bash
# lrun run pulls a missing image first, as docker does: --pull missing (the
# default), always and never, against a real registry on 127.0.0.1.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin run-pull

fx_servidorweb "$T/fx" >/dev/null || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
R=127.0.0.1:$REG_PORT LOG=$REG_LOG
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1" || bail "skopeo cannot push v1"
lr() { "$LRUN" --root "$T/root" "$@"; }
V1=$(reg_archive_id "$T/fx/v1.tar")

out=$(lr run --rm --pull never "$R/servidorweb:v1" true 2>"$T/err")
is "$?" 125 "--pull never with the image missing: exit 125"
is "$(cat "$T/err")" "Error: $R/servidorweb:v1: image not known" "--pull never: podman's message"
is "$(reg_blob_gets "$LOG" servidorweb)" 0 "--pull never downloads nothing"

out=$(lr run --rm "$R/servidorweb:v1" cat /etc/servidorweb-version 2>"$T/err")
is "$?" 0 "run of a missing image pulls it first (--pull missing)"
is "$out" "v1" "and runs the command in it"
like "$(cat "$T/err")" "Copying blob [0-9a-f]{12} done" "the pull's progress is on stderr"
is "$(lr images -q --no-trunc)" "$V1" "the image is in the store"
gets=$(reg_blob_gets "$LOG" servidorweb)
is "$gets" 4 "three layers and the config were downloaded"

out=$(lr run --rm "$R/servidorweb:v1" true 2>"$T/err")
is "$?" 0 "a second run uses the stored image"
is "$(cat "$T/err")" "" "without pulling: nothing on stderr"
is "$(reg_blob_gets "$LOG" servidorweb)" "$gets" "and no blob downloaded"

out=$(lr run --rm --pull always "$R/servidorweb:v1" true 2>"$T/err")
is "$?" 0 "--pull always"
like "$(cat "$T/err")" "Copying blob [0-9a-f]{12} skipped: already exists" "--pull always asks the registry, skips stored layers"
is "$(reg_blob_gets "$LOG" servidorweb)" "$gets" "--pull always downloads no stored layer"

out=$(lr run --rm "$R/nope:v1" true 2>"$T/err")
is "$?" 125 "a missing image the registry does not have: exit 125"
like "$(cat "$T/err")" $'\nError: .*nope.*manifest unknown' "with an Error: line naming it"
is "$(reg_check_store "$T/root")" "" "the store is consistent"
done_testing
