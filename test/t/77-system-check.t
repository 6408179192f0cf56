#!/bin/bash
# lrun system check / system repair (podman 5's `system check` shape):
# a sound store prints nothing and exits 0; damage is printed per layer,
# image and container ("Damaged layer ID:" + a multierror) and exits 125
# "damage detected in local storage"; --repair (or system repair) removes
# strays, rebuilds link/lower/l/ entries, removes damaged images (not those
# a container uses, unless --force) and damaged layers, then checks again.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/faults.sh"
faults_start
nl=$'\n'

R=$T/root
lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null || bail "load"
lr create --name c1 $V2 true >/dev/null || bail "create c1"
run lr system check
is "$rc:$out:$err" "0::" "a sound store: system check prints nothing and exits 0"

L=$R/overlay-layers/layers.json
v1=$(lr image inspect --format '{{.Id}}' $V1)
v1top=$(jq -r --arg id "$v1" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
base=$(jq -r '.[] | select(.parent == null) | .id' "$L")
c1=$(lr inspect --format '{{.Id}}' c1)
baselink=$(cat "$R/overlay/$base/link")

# the damage: a directory no layer record names, a temp file of a dead
# writer in an image's directory and one of a live writer, a lost link file
# (repairable), v1's own top layer without diff/ (v1 is damaged), a
# tar-split of no layer, a dangling l/ entry
junk=$(printf %064d 9)
mkdir "$R/overlay/$junk"
sleep 300 & live=$!; BG_PIDS+=("$live")
sh -c 'exit 0' & dead=$!; wait $dead
touch "$R/overlay-images/$v1/.tmp-manifest-$dead" "$R/overlay-images/$v1/.tmp-manifest-$live"
rm "$R/overlay/$base/link"
mv "$R/overlay/$v1top/diff" "$T/v1diff"
touch "$R/overlay-layers/$(printf '%064d' 7).tar-split.gz"
ln -s ../nothing/diff "$R/overlay/l/AAAAAAAAAAAAAAAAAAAAAAAAAA"

run lr system check
is "$rc" 125 "damage: exit 125"
is "$err" "Error: damage detected in local storage$nl" "damage: podman's message"
like "$out" "Stray file: overlay-images/$v1/.tmp-manifest-$dead" "a temp file of a dead writer is a stray"
ok "$([[ $out != *"tmp-manifest-$live"* ]]; echo $?)" "a temp file of a live writer is not"
like "$out" "Stray file: overlay-layers/0{63}7\.tar-split\.gz" "a tar-split of no layer is a stray"
like "$out" "Stray file: overlay/l/AAAAAAAAAAAAAAAAAAAAAAAAAA" "an l/ entry of no layer is a stray"
like "$out" "Damaged layer $junk:${nl}1 error occurred:${nl}	\* layer in lower level storage driver not accounted for${nl}${nl}" \
	"a directory without a record: podman's message, as a multierror"
like "$out" "Damaged layer $base:${nl}1 error occurred:${nl}	\* its link file, lower file or l/ entry is damaged" \
	"a lost link file is damage"
like "$out" "Damaged layer $v1top:${nl}1 error occurred:${nl}	\* layer ${v1top:0:12} is damaged: $R/overlay/$v1top/diff is missing" \
	"a layer without diff/ is damaged"
like "$out" "Damaged image $v1:${nl}1 error occurred:${nl}	\* layer $v1top is damaged" "its image is damaged"
ok "$([[ $out != *"Damaged image $(lr image inspect --format '{{.Id}}' $V2)"* ]]; echo $?)" \
	"v2 (whose base only lost its link file, which a repair rebuilds) is not"
is "$(cat "$R/overlay-images/$v1/.tmp-manifest-$dead" >/dev/null 2>&1; echo $?)" 0 "check alone changes nothing"

# a container on a damaged image: --repair leaves both, --force removes both
lr create --name c2 $V1 true >/dev/null
run lr system check --repair
is "$rc" 125 "repair with a container on the damaged image: exit 125"
is "$err" "Error: damage in local storage still present after repair attempt$nl" "... podman's message"
like "$out" "Deleted stray file: overlay-images/$v1/.tmp-manifest-$dead" "repair deletes the stray temp file"
like "$out" "Repaired damaged layer: $base" "repair rebuilds the lost link file"
is "$(cat "$R/overlay/$base/link")" "$baselink" "with the name its children's lower files use"
like "$out" "Deleted damaged layer: $junk" "repair deletes the directory without a record"
ok "$([ -e "$R/overlay-images/$v1/.tmp-manifest-$live" ]; echo $?)" "the live writer's temp file stays"
lr image exists $V1; is $? 0 "v1 stays: c2 uses it"
run lr system repair --force
is "$rc:$err" "0:" "system repair --force: exit 0"
like "$out" "Deleted damaged container: $(lr inspect --format '{{.Id}}' c2 2>/dev/null || jq -r '.[] | select(.names[0] == "c2") | .id' "$R/overlay-containers/containers.json")" \
	"--force deletes the container of the damaged image"
like "$out" "Deleted damaged image: $v1" "... and the image"
like "$out" "Deleted damaged layer: $v1top" "... and its damaged layer"
kill "$live"; wait "$live" 2>/dev/null
lr ps -a >/dev/null
rm -f "$R/overlay-images"/*/.tmp-manifest-* 2>/dev/null
is "$(store_problems "$R")" "" "the store is sound after the repair"
run lr system check
is "$rc:$out:$err" "0::" "system check after the repair: nothing, exit 0"
run lr mount c1
is "$rc" 0 "c1 (on v2) still mounts"
lr umount c1 >/dev/null
run podman_store "$R" images --format '{{.ID}}'
is "$rc:$out" "0:${v2:-$(lr image inspect --format '{{.Id}}' $V2 | cut -c1-12)}$nl" "podman reads the repaired store: v2 is left"

# ---- an empty or unparsable layers.json: system repair rebuilds it from overlay/
R=$T/rebuild
lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null && lr create --name c1 $V2 true >/dev/null ||
	bail "rebuild: load"
mkdir "$R/overlay/$junk" # a directory that is no layer (no link file): a stray to remove
L=$R/overlay-layers/layers.json
# every member but the creation time (the directory's time stands in) and uidset/gidset (not kept elsewhere)
fields() { jq -S 'map(del(.created, .uidset, .gidset)) | sort_by(.id)' "$L"; }
want=$(fields)
for damage in empty cut; do
	if [ $damage = empty ]; then : >"$L"; else printf '[{"id":"ab' >"$L"; fi
	run lr images
	like "$rc:$err" "^125:Error: .*layers.json.*damaged.*lrun system repair. rebuilds it from the layers' files$nl" \
		"layers.json $damage: commands fail and say how to recover"
	run lr system repair
	is "$rc:$out:$err" "0:Rebuilt layers.json from overlay/: 5 layers${nl}Damaged layer $junk:${nl}1 error occurred:$nl$(printf '\t')* layer in lower level storage driver not accounted for$nl${nl}Deleted damaged layer: $junk$nl:" \
		"layers.json $damage: system repair rebuilds 5 records (2 + 1 image layers, 1 of v2's own, c1's) and removes the stray"
	is "$(fields)" "$want" "  the records are the ones lost: id, parent, digests, sizes, names, flags"
	is "$(store_problems "$R")" "" "  the store is sound"
	run lr start -a c1
	is "$rc" 0 "  c1 starts"
	mkdir "$R/overlay/$junk"
done
rmdir "$R/overlay/$junk"
run podman_store "$R" images --format '{{.ID}}'
is "$rc:$(printf '%s' "$out" | sort | tr '\n' ' ')" "0:$(lr images -q | sort | tr '\n' ' ')" "podman reads the rebuilt store"
run lr rmi -f $V1 $V2
is "$rc:$(jq length "$L"):$(ls "$R/overlay" | grep -vx l | wc -l)" "0:0:0" "rmi -f of both then leaves no layer (the records match the files)"

run lr system check extra
is "$rc:$err" "125:Error: \"lrun system check\" accepts no arguments$nl" "no arguments"
run lr system check --max 1x
is "$rc" 125 "a malformed --max is refused"
run lr system check --max 0
is "$rc" 0 "with --max 0 no layer is unused (every layer has a user)"
done_testing
