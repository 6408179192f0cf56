# lrun.sh - helpers shared by the lrun tests (source after tap.sh).
#
#   LRUN                 the binary under test (default: ./lrun of this checkout)
#   lrun_tmp             T=<fresh mktemp -d>; at exit: kill background jobs
#                        listed in BG_PIDS, unmount anything below $T, rm -rf $T
#   lr ARGS...           "$LRUN" --root "$R" ARGS...
#   run CMD...           run CMD; $out/$err = its stdout/stderr byte-exact
#                        (trailing newlines kept), $rc = exit status
#   human N [PREC]       go-units HumanSizeWithPrecision (default PREC 4)
#   human_duration SECS  go-units HumanDuration
#   store_snapshot ROOT  canonical text of a store's indexes and file names
#   sha256 FILE          hex sha256 of FILE
#   layer_chain ROOT ID  layer IDs from ID down to the base, one per line

LRUN_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LRUN=${LRUN:-$LRUN_TOP/lrun}
export LC_ALL=C TZ=UTC
BG_PIDS=()

[ -x "$LRUN" ] || bail "no lrun binary at $LRUN (run ./build.sh first)"

_lrun_cleanup() {
	local p m
	for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	# unmount (deepest first) whatever a test left mounted below $T
	while read -r m; do umount -l "$m" 2>/dev/null; done < <(
		awk -v t="$T" 'index($2, t "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf "$T"
}
lrun_tmp() {
	T=$(mktemp -d /tmp/lrun-test.XXXXXX) || bail "mktemp failed"
	at_exit _lrun_cleanup
}

lr() { "$LRUN" --root "$R" "$@"; }

run() {
	local o e
	o=$(mktemp "$T/.run-out.XXXXXX") e=$(mktemp "$T/.run-err.XXXXXX")
	"$@" >"$o" 2>"$e"
	rc=$?
	out=$(cat "$o"; printf x) out=${out%x}
	err=$(cat "$e"; printf x) err=${err%x}
	rm -f "$o" "$e"
	return 0
}

sha256() { local s; s=$(sha256sum <"$1"); echo "${s%% *}"; }

human() {
	local n=$1 p=${2:-4}
	awk -v n="$n" -v p="$p" 'BEGIN {
		split("B kB MB GB TB PB EB ZB YB", u, " "); i = 1
		while (n >= 1000 && i < 9) { n /= 1000; i++ }
		printf("%." p "g%s\n", n, u[i]) }'
}

human_duration() {
	local s=$1 m h
	if [ "$s" -lt 1 ]; then echo "Less than a second"; return; fi
	if [ "$s" -eq 1 ]; then echo "1 second"; return; fi
	if [ "$s" -lt 60 ]; then echo "$s seconds"; return; fi
	m=$((s / 60))
	if [ "$m" -eq 1 ]; then echo "About a minute"; return; fi
	if [ "$m" -lt 60 ]; then echo "$m minutes"; return; fi
	h=$(((s + 1800) / 3600))
	if [ "$h" -eq 1 ]; then echo "About an hour"; return; fi
	if [ "$h" -lt 48 ]; then echo "$h hours"; return; fi
	if [ "$h" -lt $((24 * 7 * 2)) ]; then echo "$((h / 24)) days"; return; fi
	if [ "$h" -lt $((24 * 30 * 2)) ]; then echo "$((h / 24 / 7)) weeks"; return; fi
	if [ "$h" -lt $((24 * 365 * 2)) ]; then echo "$((h / 24 / 30)) months"; return; fi
	echo "$((s / 3600 / 24 / 365)) years"
}

# Everything a failed command must not change: both indexes byte for byte
# and the names of every file outside the layers' diff/ trees.
store_snapshot() {
	local r=$1 f
	for f in overlay-layers/layers.json overlay-images/images.json overlay-containers/containers.json; do
		echo "== $f"
		if [ -f "$r/$f" ]; then cat "$r/$f"; echo; else echo "(absent)"; fi
	done
	echo "== files"
	(cd "$r" && find . \( -path './overlay/*/diff/*' -o -path './overlay/*/merged/*' \
		-o -path './overlay/*/work/*' \) -prune -o -print | sort)
}

layer_chain() {
	local r=$1 id=$2
	while [ -n "$id" ]; do
		echo "$id"
		id=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .parent // empty' "$r/overlay-layers/layers.json")
	done
}

# progress_norm: read load's stderr on stdin, print it with every run of
# consecutive "Copying blob" lines sorted (podman copies blobs in parallel, so
# their order is not part of the contract).
progress_norm() {
	local line run=()
	while IFS= read -r line; do
		if [[ $line == "Copying blob "* ]]; then run+=("$line"); continue; fi
		if [ ${#run[@]} -gt 0 ]; then printf '%s\n' "${run[@]}" | sort; run=(); fi
		printf '%s\n' "$line"
	done
	if [ ${#run[@]} -gt 0 ]; then printf '%s\n' "${run[@]}" | sort; fi
}
# progress_expect CONFIGHEX "BLOBHEX STATE"... : the expected, normalized
# stderr of one image's load (STATE: done | skipped)
progress_expect() {
	local cfg=$1 b; shift
	echo "Getting image source signatures"
	for b in "$@"; do
		case ${b#* } in
		done) echo "Copying blob ${b:0:12} done" ;;
		skipped) echo "Copying blob ${b:0:12} skipped: already exists" ;;
		esac
	done | sort
	echo "Copying config ${cfg:0:10} done"
	echo "Writing manifest to image destination"
	echo "Storing signatures"
}

# tabw: lines of TAB-separated cells on stdin -> podman's table (Go tabwriter
# minwidth 12, padding 2): every column but the last padded to
# max(12, widest cell + 2); the last column unpadded.
tabw() {
	awk -F'\t' '{ n[NR] = NF; for (i = 1; i <= NF; i++) { c[NR, i] = $i
			if (i < NF && length($i) > w[i]) w[i] = length($i) } }
		END { for (r = 1; r <= NR; r++) { l = ""
			for (i = 1; i <= n[r]; i++) {
				if (i < n[r]) { x = w[i] + 2; if (x < 12) x = 12; l = l sprintf("%-" x "s", c[r, i]) }
				else l = l c[r, i] }
			print l } }'
}

# image_bytes ROOT IMAGE-ID: podman's image size = sum of the diff-size of
# every layer in its chain + sum of its big-data-sizes (from the indexes)
image_bytes() {
	local r=$1 id=$2 top sum=0 l s
	top=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .layer' "$r/overlay-images/images.json")
	for l in $(layer_chain "$r" "$top"); do
		s=$(jq -r --arg id "$l" '.[] | select(.id == $id) | ."diff-size"' "$r/overlay-layers/layers.json")
		sum=$((sum + s))
	done
	s=$(jq -r --arg id "$id" '.[] | select(.id == $id) | [."big-data-sizes"[]] | add // 0' "$r/overlay-images/images.json")
	echo $((sum + s))
}
# images_size BYTES: the SIZE cell of "images" (%.3g, a space before the unit)
images_size() { human "$1" 3 | sed -E 's/^([0-9.e+]+)([A-Za-z]+)$/\1 \2/'; }
