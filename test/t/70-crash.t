#!/bin/bash
# kill -9 in the middle of a load: the layer being extracted is recorded
# "incomplete"; the next command deletes it (record, directory, l/ link,
# temp files) and leaves every complete layer alone.
#
# Technique: load a docker-archive *directory* whose layer file is a FIFO;
# feed it half the real tar, so lrun blocks inside the extraction, then
# SIGKILL it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb
V2=localhost:5000/servidorweb:v2 V1=localhost:5000/servidorweb:v1

# wait_for SECONDS CMD...: poll CMD every 0.1 s
wait_for() {
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
has_incomplete() { jq -e --arg id "$1" 'any(.[]; .id == $id and .flags.incomplete == true)' \
	"$R/overlay-layers/layers.json" >/dev/null 2>&1; }
layer_started() { has_incomplete "$1" && [ -d "$R/overlay/$1/diff" ]; }

# crash_load NAME LAYERFILE BYTES: load $T/NAME (a v2.tar unpacked) with
# LAYERFILE replaced by a FIFO fed with BYTES bytes of the real tar; SIGKILL
# lrun once the layer is being extracted.  Sets $crash_pid_alive, $crash_status.
crash_load() {
	local name=$1 layer=$2 bytes=$3 dir=$T/$1 id=$4
	rm -rf "$dir"; mkdir -p "$dir"; tar -C "$dir" -xf "$F/v2.tar"
	cp "$dir/$layer" "$T/$name.layer.tar"; rm "$dir/$layer"; mkfifo "$dir/$layer"
	exec 3<>"$dir/$layer"              # read-write open of a FIFO never blocks
	"$LRUN" --root "$R" load -i "$dir" >"$T/$name.out" 2>"$T/$name.err" &
	local pid=$!; BG_PIDS+=("$pid")
	timeout 15 head -c "$bytes" "$T/$name.layer.tar" >&3
	wait_for 15 layer_started "$id"
	crash_started=$?
	kill -0 "$pid" 2>/dev/null; crash_pid_alive=$?
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; crash_status=$?
	exec 3>&-
}

# consistency checks after recovery (prefix $1 for the test names)
check_clean() {
	local p=$1 ids dirs links bad f
	is "$(jq -c '[.[] | select(.flags.incomplete == true) | .id]' "$R/overlay-layers/layers.json")" "[]" "$p: no incomplete layer left in layers.json"
	ids=$(jq -r '.[].id' "$R/overlay-layers/layers.json" | sort)
	dirs=$(cd "$R/overlay" && ls -A | grep -vx l | sort)
	is "$dirs" "$ids" "$p: overlay/ holds exactly one directory per recorded layer (plus l/)"
	is "$(find "$R/overlay/l" -xtype l | wc -l)" 0 "$p: no dangling symlink in overlay/l"
	links=$(for i in $ids; do cat "$R/overlay/$i/link"; echo; done | sort)
	is "$(ls -A "$R/overlay/l" | sort)" "$links" "$p: overlay/l holds exactly the recorded layers' links"
	bad=$(cd "$R/overlay-layers" && for f in $(ls -A); do
		case $f in layers.json|layers.lock) continue ;; esac
		[[ $f == *.tar-split.gz ]] && grep -qx "${f%.tar-split.gz}" <<<"$ids" && continue
		echo "$f"; done)
	is "$bad" "" "$p: no stray file in overlay-layers/ (temp files, tar-split of deleted layers)"
	bad=$(cd "$R/overlay-images" && for f in $(ls -A); do
		case $f in images.json|images.lock) continue ;; esac
		jq -e --arg id "$f" 'any(.[]; .id == $id)' images.json >/dev/null 2>&1 && continue
		echo "$f"; done)
	is "$bad" "" "$p: no stray file or directory in overlay-images/"
}

L1=d5ea046f6b72564323cd586a066831477b3d7246be35c7b87cb79eda3db027c4
L3b=28ad61c640b708043c82156b2deb526aafbd40269b2a721de00193bcdb189efe
D3b=$(sha256 "$F/layers/3v2.tar")

# ============================================= A: fresh store, biggest layer ===
R=$T/storeA
mkdir -p "$T/probe"; tar -C "$T/probe" -xf "$F/v2.tar"
big=$(cd "$T/probe" && find . -name layer.tar -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
bigsize=$(stat -c %s "$T/probe/$big")
is "$big" "$L1/layer.tar" "the biggest layer of v2.tar is the base layer"
crash_load A "$big" $(( bigsize / 2 )) "$L1"
ok $crash_started "A: lrun recorded the layer as incomplete and created its directory"
ok $crash_pid_alive "A: lrun was still running (blocked in the extraction) when killed"
is "$crash_status" 137 "A: lrun died of SIGKILL"
# state before recovery
ok "$(has_incomplete $L1; echo $?)" "A, before recovery: layers.json has the incomplete layer"
ok "$( [ -d "$R/overlay/$L1/diff" ]; echo $?)" "A, before recovery: its directory exists"
is "$(jq -c --arg n "$V2" '[.[] | select(.names | index($n))] | length' "$R/overlay-images/images.json" 2>/dev/null || echo 0)" 0 \
	"A, before recovery: no image recorded for the interrupted load"
# recovery by an ordinary command
run lr images
is "$rc" 0 "A: lrun images after the crash exits 0"
is "$out" $'REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n' "A: lrun images lists nothing"
check_clean "A, after recovery"
ok "$( [ ! -e "$R/overlay/$L1" ]; echo $?)" "A: the half-extracted layer directory is gone"
run lr load -i "$F/v2.tar"
is "$rc" 0 "A: loading the real v2.tar then succeeds"
is "$(grep -c ' done$' <<<"$err") $(grep -c 'skipped' <<<"$err")" "4 0" "A: every blob extracted again (3 done + config), nothing skipped"
run lr image tree $V2
is "$rc" 0 "A: image tree v2 works"
like "$out" $'\n├── ID: d5ea046f6b72 Size: 2.007MB\n├── ID: 24db95f1fcb2 Size:   215kB\n└── ID: 28ad61c640b7 Size: 10.24kB Top Layer of: \\[localhost:5000/servidorweb:v2\\]\n\n$' \
	"A: image tree v2 shows the 3 layers"
ok "$(cmp -s "$R/overlay/$L1/diff/bin/busybox" /bin/busybox; echo $?)" "A: the base layer is complete this time"
check_clean "A, after reload"

# ===================== B: store with v1, crash while extracting v2's new layer ===
R=$T/storeB
lr load -i "$F/v1.tar" >/dev/null 2>&1 || bail "load v1"
tree1=$(lr image tree $V1)
v1layers=$(jq -c '.' "$R/overlay-layers/layers.json")
crash_load B "$D3b/layer.tar" 700 "$L3b"
ok $crash_started "B: the new top layer was recorded incomplete and its directory created"
ok $crash_pid_alive "B: lrun was still running when killed"
is "$(jq -c '[.[] | select(.flags.incomplete == true) | .id]' "$R/overlay-layers/layers.json")" "[\"$L3b\"]" \
	"B, before recovery: only the new layer is incomplete (shared layers untouched)"
run lr images --format '{{.Repository}}:{{.Tag}}'
is "$rc:$out" "0:$V1"$'\n' "B: lrun images after the crash lists only v1"
check_clean "B, after recovery"
is "$(jq -c '.' "$R/overlay-layers/layers.json")" "$v1layers" "B: v1's layer records are exactly as before the crash"
run lr image tree $V1
is "$out" "$tree1"$'\n\n' "B: image tree v1 unchanged"
ok "$(cmp -s "$R/overlay/$L1/diff/bin/busybox" /bin/busybox; echo $?)" "B: the shared base layer content is intact"
run lr load -i "$F/v2.tar"
is "$rc" 0 "B: loading the real v2.tar then succeeds"
is "$(grep -c 'skipped: already exists' <<<"$err") $(grep -c '^Copying blob .* done$' <<<"$err")" "2 1" "B: 2 blobs skipped, the new one extracted"
run lr image tree $V2
like "$out" '28ad61c640b7 Size: 10.24kB Top Layer of' "B: image tree v2 works"
check_clean "B, after reload"

done_testing
