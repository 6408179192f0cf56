#!/bin/bash
# The containers/* configuration files as podman reads them: storage.conf
# (graphroot; $LRUN_ROOT and --root still win; a driver lrun has not is
# refused) and registries.conf (unqualified-search-registries, aliases,
# [[registry]] location/mirror/insecure/blocked, drop-ins) with a real
# registry on 127.0.0.1; a strict TOML subset: what it does not understand
# is an error that names the file and the line.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin config

fx_servidorweb "$T/fx" || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
P=$REG_PORT R=127.0.0.1:$REG_PORT
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1" &&
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/team/app:v1" || bail "skopeo cannot push the fixtures"
V1=$(reg_archive_id "$T/fx/v1.tar")
export HOME=$T/home # no user drop-ins but the test's
mkdir -p "$HOME"
unset LRUN_ROOT
lr() { CONTAINERS_REGISTRIES_CONF=$T/reg.conf "$LRUN" --root "$T/root" "$@"; }

# --- storage.conf ------------------------------------------------------------
printf '%s\n' '# as podman'"'"'s' '[storage]' 'driver = "overlay"' \
	"runroot = \"$T/run\"   # lrun keeps its run state in the graph root" "graphroot = '$T/graph'" \
	'[storage.options]' 'additionalimagestores = [' ']' '[storage.options.overlay]' 'mountopt = "nodev"' \
	>"$T/storage.conf"
export CONTAINERS_STORAGE_CONF=$T/storage.conf
is "$("$LRUN" info --format '{{.Store.GraphRoot}}')" "$T/graph" "storage.conf's graphroot is the store"
"$LRUN" load -q -i "$T/fx/v1.tar" >/dev/null
is "$(jq -r '.[0].id' "$T/graph/overlay-images/images.json")" "$V1" "an image loaded goes there"
is "$(LRUN_ROOT=$T/env "$LRUN" info --format '{{.Store.GraphRoot}}')" "$T/env" "\$LRUN_ROOT wins over storage.conf"
is "$("$LRUN" --root "$T/flag" info --format '{{.Store.GraphRoot}}')" "$T/flag" "--root wins over storage.conf"
is "$(cd "$T" && "$LRUN" --root rel info --format '{{.Store.GraphRoot}}')" "$T/rel" "a relative --root is the working directory's, as podman's"
out=$(cd "$T" && "$LRUN" --root rel load -q -i fx/v1.tar >/dev/null && "$LRUN" --root rel run -d --name r1 "$V1" sleep 30 >/dev/null &&
	"$LRUN" --root rel ps --format '{{.Names}} {{.State}}' && "$LRUN" --root rel rm -f -t 0 r1 2>&1)
is "$?:$out" "0:r1 running
r1" "and a detached container runs in it (its binds and monitor get whole paths)"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/vfs"\n' "$T" >"$T/vfs.conf"
out=$(CONTAINERS_STORAGE_CONF=$T/vfs.conf "$LRUN" images 2>&1)
is "$?:$out" "125:Error: $T/vfs.conf: driver \"vfs\": lrun keeps images with the overlay driver only" \
	"a driver lrun does not have is refused"
[ ! -e "$T/vfs" ]
ok $? "and nothing is created"
printf '[storage]\ngraphroot = "/x"\ngraphroot = "/y"\n' >"$T/dup.conf"
out=$(CONTAINERS_STORAGE_CONF=$T/dup.conf "$LRUN" images 2>&1)
is "$?:$out" "125:Error: loading storage configuration \"$T/dup.conf\": toml: line 3: key graphroot is already defined" \
	"a key defined twice is an error with its line"
out=$(CONTAINERS_STORAGE_CONF=$T/missing.conf "$LRUN" --root "$T/root" images -q 2>&1)
is "$?:$out" "0:" "a storage.conf that is not there is no error"
unset CONTAINERS_STORAGE_CONF

# --- the TOML subset: errors name the file and the line ----------------------
toml_error() { # TEXT EXPECTED NAME
	printf '%s\n' "$1" >"$T/bad.conf"
	local out
	out=$(CONTAINERS_REGISTRIES_CONF=$T/bad.conf "$LRUN" --root "$T/root" pull servidorweb 2>&1)
	is "$?:$out" "125:Error: loading registries configuration \"$T/bad.conf\": $2" "$3"
}
toml_error 'unqualified-search-registries = ["a"' \
	"toml: line 2: expected a comma (',') or array terminator (']'), but got end of file" "an unterminated array"
toml_error 'a = "b' "toml: line 1: unterminated string" "an unterminated string"
toml_error 'a = """b"""' "toml: line 1: multi-line strings are not supported" "a multi-line string"
toml_error 'a = 1.5' "toml: line 1: unsupported value 1.5" "a float"
toml_error 'a = 1979-05-27' "toml: line 1: unsupported value 1979-05-27" "a date"
toml_error 'a = "b" c' "toml: line 1: unexpected c after the value" "text after a value"
toml_error $'[x]\n[x]' "toml: line 2: table x is already defined" "a table defined twice"
toml_error $'a = 1\n[a]' "toml: line 2: table a is already defined" "a table over a key"
toml_error $'\n\n= 1' "toml: line 3: a key was expected" "a missing key"
toml_error 'a = "\q"' "toml: line 1: bad escape in a string" "a bad escape"
toml_error 'a = ' "toml: line 1: a value was expected" "a missing value"
toml_error 'registry = "x"' "registry must be an array" "a key of the wrong type"
toml_error $'[[registry]]\ninsecure = "yes"\nlocation = "x"' "insecure must be a boolean" "insecure must be a boolean"

# --- registries.conf: a search registry ----------------------------------------
printf 'unqualified-search-registries = ["%s"]   # the test'"'"'s registry\n' "$R" >"$T/reg.conf"
out=$(lr pull servidorweb:v1 2>"$T/err")
is "$?:$out" "0:$V1" "pull of a short name from the search registry"
is "$(sed -n '1,3p' "$T/err")" "Resolving \"servidorweb\" using unqualified-search registries ($T/reg.conf)
Trying to pull $R/servidorweb:v1...
Getting image source signatures" "stderr says where it looked, as podman"
is "$(lr images --format '{{.Repository}}:{{.Tag}}')" "$R/servidorweb:v1" "the image is named from that registry"
out=$(lr run --rm servidorweb:v1 cat /etc/servidorweb-version 2>&1)
is "$?:$out" "0:v1" "run finds it by its short name"

# two search registries: the first refuses connections, the second has it
printf '%s\n' 'unqualified-search-registries = [' '  "127.0.0.1:1",' "  '$R',       # literal string, trailing comma" ']' \
	>"$T/reg.conf"
out=$(lr pull -q team/app:v1 2>&1)
is "$?:$out" "0:$V1" "the next search registry is tried when the first fails"
out=$(lr pull nothere 2>&1)
is "$?" 125 "a name no search registry has: exit 125"
is "$(printf '%s\n' "$out" | sed -n '1,3p')" "Resolving \"nothere\" using unqualified-search registries ($T/reg.conf)
Trying to pull 127.0.0.1:1/nothere:latest...
Trying to pull $R/nothere:latest..." "each registry tried in order"
is "$(printf '%s\n' "$out" | sed -n '4,$p' | sed 's/: GET https.*/: .../')" "Error: 2 errors occurred while pulling:
 * initializing source docker://127.0.0.1:1/nothere:latest: reading manifest latest in 127.0.0.1:1/nothere: ...
 * initializing source docker://$R/nothere:latest: reading manifest latest in $R/nothere: manifest unknown: manifest unknown" \
	"podman's report of every failure"
out=$(lr pull "$R/servidorweb:v1" 2>&1 >/dev/null | head -1)
is "$out" "Trying to pull $R/servidorweb:v1..." "a fully qualified name is not searched"

printf 'unqualified-search-registries = []\n' >"$T/reg.conf"
out=$(lr pull servidorweb 2>&1)
is "$?:$out" "125:Error: short-name \"servidorweb\" did not resolve to an alias and no unqualified-search registries are defined in \"$T/reg.conf\"" \
	"an empty search list: podman's error"

# --- aliases ---------------------------------------------------------------------
printf 'unqualified-search-registries = []\n[aliases]\n"web" = "%s/servidorweb"\n' "$R" >"$T/reg.conf"
out=$(lr pull web:v1 2>&1 >/dev/null | head -2)
is "$out" "Resolved \"web\" as an alias ($T/reg.conf)
Trying to pull $R/servidorweb:v1..." "an alias names the image"

# --- [[registry]]: blocked, location, mirrors, insecure ---------------------------
printf '%s\n' '[[registry]]' 'prefix = "blocked.example"' 'location = "blocked.example"' 'blocked = true' '' \
	'[[registry]]' 'prefix = "mirrored.example/x"' 'location = "127.0.0.1:1/x"' \
	'[[registry.mirror]]' "location = \"$R/team\"" '' \
	'[[registry]]' 'prefix = "moved.example"' "location = \"$R\"" '' \
	'[[registry]]' "location = \"$R\"" 'insecure = false' >"$T/reg.conf"
out=$(lr pull blocked.example/foo 2>&1)
is "$?:$out" "125:Trying to pull blocked.example/foo:latest...
Error: initializing source docker://blocked.example/foo:latest: registry blocked.example is blocked in $T/reg.conf or $HOME/.config/containers/registries.conf.d" \
	"a blocked registry: podman's error"
out=$(lr pull -q mirrored.example/x/app:v1 2>&1)
is "$?:$out" "0:$V1" "a mirror serves the name"
out=$(lr pull -q moved.example/servidorweb:v1 2>&1)
is "$?:$out" "0:$V1" "location moves a prefix to another registry"
is "$(lr images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" \
	"$R/servidorweb:v1 $R/team/app:v1 mirrored.example/x/app:v1 moved.example/servidorweb:v1 " \
	"the images keep the names asked for"
sed -i 's/^insecure = false/insecure = true/' "$T/reg.conf"
out=$(lr pull --tls-verify=true -q "$R/servidorweb:v1" 2>&1)
is "$?" 125 "--tls-verify=true wins over insecure = true"

# a drop-in of the user's replaces the main file's search list
printf 'unqualified-search-registries = ["127.0.0.1:1"]\n' >"$T/reg.conf"
mkdir -p "$HOME/.config/containers/registries.conf.d"
printf 'unqualified-search-registries = ["%s"]\n' "$R" >"$HOME/.config/containers/registries.conf.d/50-test.conf"
out=$(lr pull team/app:v1 2>&1 >/dev/null | head -2)
is "$out" "Resolving \"team/app\" using unqualified-search registries ($HOME/.config/containers/registries.conf.d/50-test.conf)
Trying to pull $R/team/app:v1..." "a drop-in's list replaces the main file's"
is "$(reg_check_store "$T/root")" "" "the store is consistent"

done_testing
