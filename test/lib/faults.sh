# faults.sh - kill -9 at a chosen system call, and the store's invariants
# after the next command.  Source after tap.sh, fixtures.sh and lrun.sh.
#
#   faults_start         skip_all unless root with podman and a static
#                        busybox; T (lrun_tmp, the working directory),
#                        F=$T/fx (fx_servidorweb), V1 and V2 its image names
#   FAULT_CALLS          the system calls that change the store's metadata
#                        (the points a kill is injected at)
#   fault_points OUT CMD...   run CMD once under strace; OUT gets one line per
#                        metadata call of its main thread, "NAME N" (the Nth
#                        NAME), in order
#   fault_kill NAME N CMD...  run CMD with SIGKILL delivered at the entry of
#                        its Nth NAME call (strace's fault injection: the
#                        call never happens); $rc = the status
#   store_problems ROOT  print every broken invariant of the store at ROOT
#                        (nothing when it is sound): indexes parse, no
#                        incomplete layer, one overlay/ directory and one l/
#                        link per layer, every layer has diff/ and a valid
#                        link (and lower when it has a parent), every layer is
#                        used, every image's and container's layer chain is
#                        complete, no temp file or unrecorded directory beside
#                        the indexes, layer names unique
#   podman_store ROOT ARGS...  podman on the store at ROOT, in a private mount
#                        namespace (tmpfs over /var/lib and /dev/shm), so no
#                        host store is touched

FAULT_CALLS=renameat,renameat2,rename,unlinkat,unlink,rmdir,mkdirat,mkdir,symlinkat,linkat,fsync,fdatasync,syncfs

fault_points() {
	local out=$1; shift
	strace -qq -o "$out.raw" -e trace="$FAULT_CALLS" "$@" >/dev/null 2>&1
	awk -F'(' '/^[a-z0-9_]+\(/ { n[$1]++; print $1, n[$1] }' "$out.raw" >"$out"
	rm -f "$out.raw"
}

fault_kill() {
	local name=$1 n=$2; shift 2
	# through sh: bash would report the kill on stderr
	rc=$(sh -c '"$@" >/dev/null 2>&1; echo $?' sh \
		strace -qq -o /dev/null -e trace="$name" -e inject="$name:signal=KILL:when=$n" "$@")
}

store_problems() {
	local r=$1 f
	# the files, one fact a line: D dir-in-overlay, F file-in-a-layer-dir,
	# K link-name target, N layer-id link-file-text, X index-dir/entry
	{
		(cd "$r/overlay" && find . -mindepth 1 -maxdepth 2 ! -path './l/*' -printf '%P\n') |
			awk '/\// { print "F " $0; next } /^[0-9a-f]+$/ { print "D " $0 }'
		find "$r/overlay/l" -mindepth 1 -maxdepth 1 -printf 'K %f %l\n'
		(cd "$r/overlay" && grep -H '' -- */link 2>/dev/null | sed 's,^\([^/]*\)/link:,N \1 ,')
		(cd "$r" && find overlay-layers overlay-images overlay-containers -mindepth 1 -maxdepth 1 -printf 'X %p\n' &&
			find overlay-containers -path '*/userdata/.tmp-*' -printf 'X %p\n')
	} >"$T/.facts"
	local l1=$r/overlay-layers/layers.json l2=$r/overlay-layers/volatile-layers.json
	local i1=$r/overlay-images/images.json
	local c1=$r/overlay-containers/containers.json c2=$r/overlay-containers/volatile-containers.json
	for f in l1 l2 i1 c1 c2; do [ -e "${!f}" ] || eval "$f=/dev/null"; done
	jq -rn --rawfile facts "$T/.facts" --slurpfile l1 "$l1" --slurpfile l2 "$l2" --slurpfile i1 "$i1" \
		--slurpfile c1 "$c1" --slurpfile c2 "$c2" '
	(($l1[0] // []) + ($l2[0] // [])) as $L | ($i1[0] // []) as $I | (($c1[0] // []) + ($c2[0] // [])) as $C |
	($facts | split("\n") | map(select(length > 0) | split(" "))) as $f |
	($L | map(.id)) as $ids |
	($f | map(select(.[0] == "D") | .[1])) as $dirs |
	($f | map(select(.[0] == "F") | .[1])) as $files |
	($f | map(select(.[0] == "K") | {key: .[1], value: .[2]}) | from_entries) as $links |
	($f | map(select(.[0] == "N") | {key: .[1], value: (.[2] // "")}) | from_entries) as $linkof |
	($f | map(select(.[0] == "X") | .[1])) as $x |
	(($I | map(.layer)) + ($C | map(.layer)) + ($L | map(.parent // empty))) as $used |
	( ($L[] | select(.flags.incomplete == true) | "layer \(.id) is incomplete"),
	  (($dirs - $ids)[] | "overlay/\(.) has no layer record"),
	  (($ids - $dirs)[] | "layer \(.) has no directory"),
	  ($L[] | .id as $id |
		(if ($files | index("\($id)/diff")) then empty else "layer \($id) has no diff/" end),
		(if (($linkof[$id] // "") | test("^[A-Z2-7]{26}$")) then
			(if $links[$linkof[$id]] == "../\($id)/diff" then empty else "layer \($id): l/\($linkof[$id]) is wrong" end)
		 else "layer \($id) has no valid link" end),
		(if .parent and ($files | index("\($id)/lower") | not) then "layer \($id) has no lower" else empty end),
		(if .parent and (.parent as $p | $ids | index($p) | not) then "layer \($id) has no parent \(.parent)" else empty end),
		(if ($used | index($id)) then empty else "layer \($id) is unused (leaked)" end)),
	  (($links | keys - [$linkof[]])[] | "l/\(.) names no layer"),
	  (($I + $C)[] | select(.layer and (.layer as $t | $ids | index($t) | not)) | "\(.id) has no layer \(.layer)"),
	  ([$L[].names // [] | .[]] | group_by(.) | .[] | select(length > 1) | "layer name \(.[0]) is used twice"),
	  ($x[] | select(test("/[.]tmp-")) | "stray \(.)"),
	  ($x[] | capture("^overlay-containers/(?<id>[0-9a-f]{64})$") | .id | select(. as $i | $C | map(.id) | index($i) | not) |
		"overlay-containers/\(.) has no record"),
	  ($x[] | capture("^overlay-images/(?<id>[0-9a-f]{64})$") | .id | select(. as $i | $I | map(.id) | index($i) | not) |
		"overlay-images/\(.) has no record"),
	  ($x[] | capture("^overlay-layers/(?<id>[0-9a-f]{64})[.]tar-split[.]gz$") | .id | select(. as $i | $ids | index($i) | not) |
		"overlay-layers/\(.).tar-split.gz has no layer") )' 2>&1 || echo "an index does not parse"
}

podman_store() {
	local root=$1; shift
	mkdir -p "$T/podman-tmp"
	TMPDIR=$T/podman-tmp unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib &&
		mount -t tmpfs tmpfs /dev/shm && exec podman "$@"' podman \
		--root "$root" --runroot "$T/podman-run-${root##*/}" --storage-driver overlay --tmpdir "$T/podman-tmp/libpod" \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

faults_start() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
	command -v podman >/dev/null || skip_all "podman not installed"
	[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the fixtures"
	lrun_tmp
	cd "$T" || bail "cd $T"
	F=$T/fx
	fx_servidorweb "$F" >/dev/null || bail "fixtures do not build"
	V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
}
