#!/bin/bash
# test/bench/pull.sh - how fast lrun pulls from a local registry.
#
#   test/bench/pull.sh [RUNS]      (root; default 5 rounds)
#
# Builds a single-layer image of ~30 MB (compressed; text that compresses and
# random bytes that do not, in ~3000 files), pushes it with skopeo to
# Debian's docker-registry on 127.0.0.1, and times, each run into a fresh
# store or directory on the same file system:
#   gzip -dc of the layer blob > /dev/null   the decompression floor
#   tar -xzf of the layer blob               what extraction costs
#   lrun pull                                (and podman pull, if installed)
#   lrun pull of servidorweb:v2 after :v1    one small new layer; target < 10 ms
# and prints medians and the ratios to tar -xzf (target: lrun <= 1.2x), on
# the disk of /tmp and on tmpfs (/dev/shm).  The cases are interleaved, one
# of each a round: these machines drift, and the ratios should not.
#
# Run by test/bench/run (its contract: BENCH_W set): measures in BENCH_W
# only, BENCH_RUNS rounds after BENCH_WARMUP untimed ones, a ~3 MB image when
# BENCH_QUICK=1, podman as BENCH_PODMAN when BENCH_HAVE_PODMAN=1, and prints
# its two rows of that table (lines starting with "|"); the rest is log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
LRUN=${LRUN:-$top/lrun}
CONTRACT=${BENCH_W:+1}
RUNS=${BENCH_RUNS:-${1:-5}}
WARMUP=${BENCH_WARMUP:-0}
QUICK=${BENCH_QUICK:-0}
[ "$(id -u)" = 0 ] || { echo "pull.sh: run as root" >&2; exit 1; }
[ -x "$LRUN" ] || "$top/build.sh" >/dev/null
if [ -n "$CONTRACT" ]; then
	mkdir -p "$BENCH_W"
	T=$(mktemp -d "$BENCH_W/pull.XXXXXX")
else
	T=$(mktemp -d /tmp/lrun-bench-pull.XXXXXX)
fi
. "$top/test/lib/fixtures.sh"
. "$top/test/lib/registry.sh"
trap 'reg_cleanup; rm -rf "$T"' EXIT

# podman with a store of its own in DIR (standalone), or as test/bench/run says
podman_pull() { # DIR NAME
	if [ -n "$CONTRACT" ]; then
		$BENCH_PODMAN rmi -f "$2" >/dev/null 2>&1 || true
		$BENCH_PODMAN pull -q --tls-verify=false "$2"
		return
	fi
	unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec podman --root "$1/root" --runroot "$1/run" \
		--tmpdir "$1/tmp" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file \
		pull -q --tls-verify=false "$2"' sh "$@"
}
have_podman() {
	if [ -n "$CONTRACT" ]; then [ "${BENCH_HAVE_PODMAN:-0}" = 1 ]; else command -v podman >/dev/null; fi
}

echo "building the image..." >&2
files=3000 random=12
[ "$QUICK" = 1 ] && files=300 random=1
mkdir -p "$T/src/text" "$T/src/bin"
perl -e 'my ($dir, $files) = @ARGV; srand(42);
	my @w = map { join "", map { ("a".."z")[rand 26] } 1 .. 2 + rand 8 } 1 .. 5000;
	for my $f (1 .. $files) { open my $o, ">", "$dir/f$f.txt" or die; my $n = 4000 + int rand 20000;
		my $s = ""; $s .= $w[rand @w] . (rand() < 0.1 ? "\n" : " ") while length $s < $n; print $o $s }' \
	"$T/src/text" "$files"
for i in $(seq "$random"); do head -c 1000000 /dev/urandom >"$T/src/bin/r$i.bin"; done
fx_layer_tar "$T/src" "$T/layer.tar"
fx_docker_archive "$T/image.tar" localhost/bench:v1 '{}' "$T/layer.tar"
fx_servidorweb "$T/fx"
rm -rf "$T/src"
reg_start bench "$T/storage" >/dev/null
R=127.0.0.1:$REG_PORT
reg_push "docker-archive:$T/image.tar" "docker://$R/bench:v1"
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1"
reg_push "docker-archive:$T/fx/v2.tar" "docker://$R/servidorweb:v2"
digest=$(curl -sSf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://$R/v2/bench/manifests/v1" | jq -r '.layers[0].digest')
curl -sSf -o "$T/layer.tar.gz" "http://$R/v2/bench/blobs/$digest"
DESC=$(awk -v c="$(stat -c %s "$T/layer.tar.gz")" -v u="$(stat -c %s "$T/layer.tar")" \
	-v n="$(tar tf "$T/layer.tar" | wc -l)" 'BEGIN { printf "%.1f MB gzip, %.0f MB tar, %d entries", c / 1e6, u / 1e6, n }')
rm -f "$T/layer.tar"
# a reference for a v2-after-v1 pull: curl fetching what lrun fetches, the
# manifest, the config and the new layer (one process, one after another;
# lrun asks for the last two at once)
V2_URLS=("http://$R/v2/servidorweb/manifests/v2")
for d in $(curl -sSf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://$R/v2/servidorweb/manifests/v2" | jq -r '.config.digest, .layers[2].digest'); do
	V2_URLS+=("http://$R/v2/servidorweb/blobs/$d")
done
registry_floor() { curl -sSf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	-o /dev/null -o /dev/null -o /dev/null "${V2_URLS[@]}"; }

# time_ms CMD...: wall time of one run in milliseconds (fork and exec of
# the command included: /bin/true measures that floor)
time_ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	awk -v d=$((end - start)) 'BEGIN { printf "%.3f\n", d / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fresh() { rm -rf "$1"; mkdir -p "$1/tmp"; sync; }

# measure WHERE DIR: rounds of every case (WARMUP untimed first); the times
# go to $T/<WHERE>-<case>, one a line.  The small pulls come first: right
# after the big trees of the others are deleted, the file system is still
# busy with that for a while.
measure() {
	local where=$1 dir=$2 i out
	fresh "$dir"
	sleep 2
	for i in $(seq $((WARMUP + RUNS))); do
		out=/dev/null
		[ "$i" -gt "$WARMUP" ] && out=$T/$where
		rm -rf "$dir/root"
		"$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v1" >/dev/null; sync
		time_ms "$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v2" >>"$out-v2"
		sync; time_ms "$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v2" >>"$out-again"
		time_ms registry_floor >>"$out-registry"
	done
	for i in $(seq $((WARMUP + RUNS))); do
		have_podman || break
		out=/dev/null
		[ "$i" -gt "$WARMUP" ] && out=$T/$where
		[ -n "$CONTRACT" ] || rm -rf "$dir/p"
		podman_pull "$dir/p" "$R/servidorweb:v1" >/dev/null 2>&1; sync
		time_ms podman_pull "$dir/p" "$R/servidorweb:v2" >>"$out-podman2"
	done
	for i in $(seq $((WARMUP + RUNS))); do
		out=/dev/null
		[ "$i" -gt "$WARMUP" ] && out=$T/$where
		time_ms true >>"$out-true"
		fresh "$dir"; time_ms gzip -dc "$T/layer.tar.gz" >>"$out-gzip"
		fresh "$dir"; time_ms tar -xzf "$T/layer.tar.gz" -C "$dir" >>"$out-tar"
		fresh "$dir"; time_ms "$LRUN" --root "$dir/root" pull -q "$R/bench:v1" >>"$out-lrun"
		if have_podman; then
			fresh "$dir"; time_ms podman_pull "$dir" "$R/bench:v1" >>"$out-podman"
		fi
	done
	rm -rf "$dir"
}

echo "timing ($RUNS rounds)..." >&2
if [ -n "$CONTRACT" ]; then
	measure disk "$T/out"
else
	measure disk "$T/out"
	[ -d /dev/shm ] && measure memory "/dev/shm/lrun-bench-pull.$$"
fi

m() { if [ -s "$T/$1-$2" ]; then median <"$T/$1-$2"; fi; } # m WHERE CASE: the median, in ms
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b }'; }

if [ -n "$CONTRACT" ]; then # the rows of test/bench/run's table
	ms() { [ -n "$1" ] && awk -v m="$1" 'BEGIN { if (m < 10) printf "%.2f ms", m; else if (m < 100) printf "%.1f ms", m; else printf "%.0f ms", m }' || echo "—"; }
	lrun=$(m disk lrun) tar=$(m disk tar) gz=$(m disk gzip) pod=$(m disk podman) v2=$(m disk v2) pod2=$(m disk podman2)
	ratios="lrun/tar-xzf $(ratio "$lrun" "$tar")×; lrun/gzip-dc $(ratio "$lrun" "$gz")×"
	[ -n "$pod" ] && ratios="podman/lrun $(ratio "$pod" "$lrun")×; $ratios"
	met=$(awk -v a="$lrun" -v b="$tar" 'BEGIN { print (a <= 1.2 * b) ? "met" : "MISSED" }')
	echo "| pull a single-layer image from a local registry ($DESC; lrun pull.sh) | $(ms "$lrun") | $(ms "$pod") | — | — | tar -xzf $(ms "$tar"); gzip -dc $(ms "$gz") | $ratios | $met: ≤ 1.2× tar -xzf |"
	met=$(awk -v a="$v2" 'BEGIN { print (a < 10) ? "met" : "MISSED" }')
	reg=$(m disk registry)
	echo "| pull v2 after v1 (all layers shared but one small one) | $(ms "$v2") | $(ms "$pod2") | — | — | curl of the same 3 requests $(ms "$reg") | ${pod2:+podman/lrun $(ratio "$pod2" "$v2")×; }lrun/curl $(ratio "$v2" "$reg")× | $met: ≤ 10 ms |"
	exit 0
fi

report() {
	local w=$1
	[ -s "$T/$w-tar" ] || return 0
	printf '\n%s (%s)\n' "$w" "$2"
	printf '%-36s %12s %10s\n' case "time (ms)" "vs tar"
	printf '%-36s %12s %9sx\n' "gzip -dc >/dev/null (floor)" "$(m "$w" gzip)" "$(ratio "$(m "$w" gzip)" "$(m "$w" tar)")"
	printf '%-36s %12s %10s\n' "tar -xzf" "$(m "$w" tar)" "1.00x"
	printf '%-36s %12s %9sx\n' "lrun pull" "$(m "$w" lrun)" "$(ratio "$(m "$w" lrun)" "$(m "$w" tar)")"
	[ -s "$T/$w-podman" ] && printf '%-36s %12s %9sx\n' "podman pull" "$(m "$w" podman)" "$(ratio "$(m "$w" podman)" "$(m "$w" tar)")"
	printf '%-36s %12s\n' "lrun pull servidorweb:v2 after :v1" "$(m "$w" v2)"
	[ -s "$T/$w-podman2" ] && printf '%-36s %12s\n' "podman pull servidorweb:v2 after :v1" "$(m "$w" podman2)"
	printf '%-36s %12s\n' "  (curl of the same 3 requests)" "$(m "$w" registry)"
	printf '%-36s %12s\n' "lrun pull servidorweb:v2 again" "$(m "$w" again)"
	printf '%-36s %12s\n' "(/bin/true: the timing floor)" "$(m "$w" true)"
}
printf '\nlrun pull benchmark: one layer, %s; medians of %s rounds\n' "$DESC" "$RUNS"
report disk "$(df -T "$T" | awk 'NR == 2 {print $2}') under $(dirname "$T")"
report memory "tmpfs, /dev/shm"
printf '\ntargets: lrun pull <= 1.2x tar -xzf; v2 after v1 < 10 ms\n'
