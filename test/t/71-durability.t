#!/bin/bash
# What must survive a power cut, checked at the system calls (the real cut
# is 72-power-cut.t): an index is synced before it replaces the old one and
# its directory after; a loaded layer is synced before the record that says
# it is complete; a created container's layer files likewise; run --rm syncs
# nothing and leaves the durable indexes alone (its records are volatile).
# Then what a cut (or another tool) can leave: an empty or unparsable index
# is an error naming the file, never an empty store; broken link/lower files
# and l/ symlinks are rebuilt; a layer without diff/ is not "present".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v strace >/dev/null || skip_all "no strace (apt-get install strace)"
ctr_start 60

# synced_renames FILE NAME...: for every rename of a temp file onto NAME in
# the strace log FILE, "sync-before sync-after" (1 or 0 each): the call
# before it is an fdatasync and the one after an fsync (of the directory)
synced_renames() {
	local log=$1; shift
	local n
	for n in "$@"; do
		awk -v n="\"$n\")" '
			/resumed>|\+\+\+|---/ { next }
			{ line[NR] = $0 }
			END { for (i = 1; i <= NR; i++) if (index(line[i], "renameat(") && index(line[i], n)) {
				b = index(line[i-1], "fdatasync(") > 0; a = index(line[i+1], "fsync(") == 1 || index(line[i+1], " fsync(") > 0
				print b " " a } }' "$log"
	done | sort | uniq -c | awk '{ print $2 " " $3 ":" $1 }' | tr '\n' ' '
}

# ------------------------------------------------------------ load --
R2=$T/root2
strace -f -o "$T/load.st" -e trace=syncfs,fsync,fdatasync,renameat "$LRUN" --root "$R2" load -q -i "$FX/v1.tar" >/dev/null 2>&1
is "$?" 0 "load under strace works"
is "$(synced_renames "$T/load.st" layers.json images.json)" "1 1:5 " \
	"load: each of its 5 index rewrites (4 of layers.json, 1 of images.json) is fdatasync, rename, fsync of the directory"
last_syncfs=$(grep -n 'syncfs(' "$T/load.st" | tail -1 | cut -d: -f1)
last_layers=$(grep -n 'renameat(.*"layers.json")' "$T/load.st" | tail -1 | cut -d: -f1)
ok "$( [ -n "$last_syncfs" ] && [ "$last_syncfs" -lt "$last_layers" ]; echo $?)" \
	"load: the layers' files are synced (syncfs) before layers.json says they are complete"
is "$(grep -c 'syncfs(' "$T/load.st")" 1 "load: one syncfs for all its layers"

# ------------------------------------------------------------ create --
strace -f -o "$T/create.st" -e trace=fsync,fdatasync,renameat,openat "$LRUN" --root "$R" create --name keep "$IMG" true >/dev/null 2>&1
is "$?" 0 "create under strace works"
layer=$(ctr_field keep .layer)
# the layer's link and lower are opened and synced before layers.json's second write
first_link_sync=$(grep -n "openat(.*\"$layer/link\", O_RDONLY" "$T/create.st" | head -1 | cut -d: -f1)
complete=$(grep -n 'renameat(.*"layers.json")' "$T/create.st" | sed -n 2p | cut -d: -f1)
ok "$( [ -n "$first_link_sync" ] && [ -n "$complete" ] && [ "$first_link_sync" -lt "$complete" ]; echo $?)" \
	"create: the container layer's files are synced before layers.json says it is complete"
is "$(synced_renames "$T/create.st" layers.json containers.json)" "1 1:3 " \
	"create: layers.json (twice) and containers.json are synced, then their directories"
is "$(jq -r '.[] | select(.names[0] == "keep-layer") | .flags.incomplete // "complete"' "$R/overlay-layers/layers.json")" \
	complete "create: the container layer is recorded complete in the durable layers.json"

# ------------------------------------------------------------ run --rm --
L run --rm "$IMG" true   # the first run compiles and caches the seccomp filter (a durable write)
before=$(cat "$R/overlay-layers/layers.json" "$R/overlay-containers/containers.json" | sha256sum)
strace -f -o "$T/rm.st" -e trace=syncfs,fsync,fdatasync,renameat "$LRUN" --root "$R" run --rm "$IMG" sh -c 'exit 3' >/dev/null 2>&1
is "$?" 3 "run --rm under strace: the container's exit status"
is "$(grep -cE '(syncfs|fsync|fdatasync)\(' "$T/rm.st")" 0 "run --rm syncs nothing"
is "$(grep -c 'renameat(.*"\(layers\|containers\).json")' "$T/rm.st")" 0 \
	"run --rm does not rewrite layers.json or containers.json (its records go to the volatile files)"
ok "$(grep -q 'renameat(.*"volatile-containers.json")' "$T/rm.st"; echo $?)" "run --rm records its container in volatile-containers.json"
is "$(cat "$R/overlay-layers/layers.json" "$R/overlay-containers/containers.json" | sha256sum)" "$before" \
	"the durable indexes are byte for byte as before"
ok "$( [ ! -e "$R/overlay-containers/volatile-containers.json" ] && [ ! -e "$R/overlay-layers/volatile-layers.json" ]; echo $?)" \
	"the volatile files are gone again with their last record"
# a running --rm container is listed like any other
L run -d --rm --name vol "$IMG" sleep 30 >/dev/null
is "$(L ps --format '{{.Names}} {{.Status}}' | grep '^vol ' | cut -d' ' -f1,2)" "vol Up" "ps lists a running --rm container"
is "$(jq -r '.[0].names[0]' "$R/overlay-containers/volatile-containers.json")" vol "its record is in volatile-containers.json"
L rm -f vol >/dev/null
# records of an earlier boot (a power cut left the volatile files on the disk) are leftovers
L run -d --rm --name old "$IMG" sleep 30 >/dev/null
old_id=$(jq -r '.[0].id' "$R/overlay-containers/volatile-containers.json")
old_layer=$(jq -r '.[0].layer' "$R/overlay-containers/volatile-containers.json")
is "$(jq -r '.[0].flags."lrun.boot-id"' "$R/overlay-containers/volatile-containers.json")" "$(cat /proc/sys/kernel/random/boot_id)" \
	"a volatile record carries this boot's id"
kill -9 "$(jq -r '.[0].flags."lrun.monitor"' "$R/overlay-containers/volatile-containers.json")" \
	"$(jq -r '.[0].flags."lrun.pid"' "$R/overlay-containers/volatile-containers.json")"
sleep 0.3
jq -c '.[0].flags."lrun.boot-id" = "00000000-0000-0000-0000-000000000000"' "$R/overlay-containers/volatile-containers.json" >"$T/v.json"
cp "$T/v.json" "$R/overlay-containers/volatile-containers.json"
run L ps -a --format '{{.Names}}'
is "$rc:$out" "0:keep$nl" "ps -a does not list a --rm container of an earlier boot"
ok "$( [ ! -e "$R/overlay-containers/$old_id" ] && [ ! -e "$R/overlay/$old_layer" ] && [ ! -e "$R/overlay-containers/volatile-containers.json" ] && [ ! -e "$R/overlay-layers/volatile-layers.json" ]; echo $?)" \
	"its directory, its layer and the volatile files are removed by the next command"
umount "$R/overlay/$old_layer/merged" 2>/dev/null
# a volatile file cut by a power failure is read as empty: those containers were to vanish
: >"$R/overlay-containers/volatile-containers.json"
run L ps -a --format '{{.Names}}'
is "$rc:$out" "0:keep$nl" "an empty volatile-containers.json is read as no records"

# ------------------------------------------------- empty or unparsable index --
for f in overlay-layers/layers.json overlay-images/images.json overlay-containers/containers.json; do
	cp "$R/$f" "$T/saved"
	: >"$R/$f"
	run L ps -a
	is "$rc:$out" "125:" "${f##*/} empty: exit 125, nothing listed"
	way="restore the file from a backup, or move it away to start with an empty index"
	[ "$f" = overlay-layers/layers.json ] && way="\`lrun system repair\` rebuilds it from the layers' files"
	is "$err" "Error: $R/$f is empty; the store's index is damaged (cut off by a power failure?): $way$nl" \
		"${f##*/} empty: the error names the file and the way out"
	run L rm -f keep
	is "$rc" 125 "${f##*/} empty: a write command fails too"
	is "$(stat -c %s "$R/$f")" 0 "${f##*/} empty: it is not overwritten with an empty store"
	printf '[{"id":' >"$R/$f"
	run L images
	is "$rc" 125 "${f##*/} cut short: exit 125"
	like "$err" "^Error: parse $R/$f: invalid JSON: .*; the store's index is damaged" "${f##*/} cut short: the error names the file"
	cp "$T/saved" "$R/$f"
done
printf 'null' >"$T/null.json"
R3=$T/root3; mkdir -p "$R3/overlay-containers"; cp "$T/null.json" "$R3/overlay-containers/containers.json"
run "$LRUN" --root "$R3" ps -a --format '{{.Names}}'
is "$rc:$out:$err" "0::" "an index that is JSON null (Go's nil slice) is an empty index"

# ------------------------------------------------- broken link, lower, l/ --
top=$(ctr_field keep .layer)
mapfile -t chain < <(layer_chain "$R" "$top")   # container layer, then the image's top .. base
base=${chain[3]} mid=${chain[2]} itop=${chain[1]}
links_before=$(for l in "${chain[@]}"; do cat "$R/overlay/$l/link"; echo; done)
lowers_before=$(for l in "${chain[@]}"; do cat "$R/overlay/$l/lower" 2>/dev/null; echo; done)
: >"$R/overlay/$base/link"                               # empty link file (its l/ symlink stays)
rm "$R/overlay/l/$(cat "$R/overlay/$mid/link")"         # a lost l/ symlink
: >"$R/overlay/$itop/lower"                              # an empty lower file
: >"$R/overlay/$top/lower"
run L start -a keep
is "$rc:$err" "0:" "start of a container whose chain has an empty link, an empty lower and a lost l/ link works"
is "$(for l in "${chain[@]}"; do cat "$R/overlay/$l/link"; echo; done)" "$links_before" \
	"every link file is as before (the base's link name was found again in l/)"
is "$(for l in "${chain[@]}"; do cat "$R/overlay/$l/lower" 2>/dev/null; echo; done)" "$lowers_before" \
	"every lower file is rebuilt as it was"
is "$(ls "$R/overlay/l" | sort)" "$(for l in $(jq -r '.[].id' "$R/overlay-layers/layers.json"); do cat "$R/overlay/$l/link"; echo; done | sort)" \
	"overlay/l holds exactly one symlink per layer again"
is "$(find "$R/overlay/l" -xtype l | wc -l)" 0 "no dangling symlink in overlay/l"

# -------------------------------------------------------- a damaged layer --
rm -rf "$R/overlay/$mid/diff"
run L start -a keep
is "$rc" 125 "start of a container over a layer without diff/: exit 125"
is "$err" "Error: container $(ctr_field keep .id | cut -c1-12): layer ${mid:0:12} is damaged: $R/overlay/$mid/diff is missing; load or pull an image that has it again to repair it$nl" \
	"the error names the layer, what is missing and the repair"
run L load -i "$FX/v1.tar"
is "$rc" 0 "loading the image again works"
is "$(grep -c ' done$' <<<"$err") $(grep -c 'skipped: already exists' <<<"$err")" "2 2" \
	"the damaged layer is extracted again (done), the intact ones are skipped"
ok "$( [ -d "$R/overlay/$mid/diff" ]; echo $?)" "its diff/ is back"
run L start -a keep
is "$rc:$err" "0:" "the container starts again (its lower files follow the layer's new link)"
is "$(jq -c '[.[] | select(.flags.incomplete == true)]' "$R/overlay-layers/layers.json")" "[]" "no layer is left incomplete"

done_testing
