#!/bin/bash
# test/bench/pull.sh - how fast lrun pulls from a local registry.
#
#   test/bench/pull.sh [RUNS]      (root; default 5 runs of each case)
#
# Builds a single-layer image of ~30 MB (compressed; text that compresses and
# random bytes that do not, in a few thousand files), pushes it to Debian's
# docker-registry on 127.0.0.1, and times, each run into a fresh store or
# directory on the same file system:
#   gzip -dc of the layer blob > /dev/null   the decompression floor
#   tar -xzf of the layer blob               what extraction costs
#   lrun pull                                (and podman pull, if installed)
#   lrun pull of servidorweb:v2 after :v1    one small layer; target < 10 ms
# and prints the medians and the ratios to tar -xzf (target: lrun <= 1.2x).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
RUNS=${1:-5}
LRUN=$top/lrun
[ "$(id -u)" = 0 ] || { echo "pull.sh: run as root" >&2; exit 1; }
[ -x "$LRUN" ] || "$top/build.sh" >/dev/null
T=$(mktemp -d /tmp/lrun-bench-pull.XXXXXX)
. "$top/test/lib/fixtures.sh"
. "$top/test/lib/registry.sh"
trap 'reg_cleanup; rm -rf "$T"' EXIT

echo "building the image..." >&2
mkdir -p "$T/src/text" "$T/src/bin"
perl -e 'srand(42); my @w = map { join "", map { ("a".."z")[rand 26] } 1 .. 2 + rand 8 } 1 .. 5000;
	for my $f (1 .. 3000) { open my $o, ">", "$ARGV[0]/f$f.txt" or die; my $n = 4000 + int rand 20000;
		my $s = ""; $s .= $w[rand @w] . (rand() < 0.1 ? "\n" : " ") while length $s < $n; print $o $s }' "$T/src/text"
for i in $(seq 12); do head -c 1000000 /dev/urandom >"$T/src/bin/r$i.bin"; done
fx_layer_tar "$T/src" "$T/layer.tar"
fx_docker_archive "$T/image.tar" localhost/bench:v1 '{}' "$T/layer.tar"
fx_servidorweb "$T/fx"
reg_start bench "$T/storage" >/dev/null
R=127.0.0.1:$REG_PORT
reg_push "docker-archive:$T/image.tar" "docker://$R/bench:v1"
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1"
reg_push "docker-archive:$T/fx/v2.tar" "docker://$R/servidorweb:v2"
digest=$(curl -sSf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://$R/v2/bench/manifests/v1" | jq -r '.layers[0].digest')
curl -sSf -o "$T/layer.tar.gz" "http://$R/v2/bench/blobs/$digest"
blob_mb=$(( $(stat -c %s "$T/layer.tar.gz") / 1000000 ))
tar_mb=$(( $(stat -c %s "$T/layer.tar") / 1000000 ))
files=$(tar tf "$T/layer.tar" | wc -l)

# time_ms CMD...: wall time of one run in milliseconds (3 decimals; fork
# and exec of the command included: /bin/true measures the floor)
time_ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo "scale=3; ($end - $start) / 1000000" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
podman_pull() { # DIR NAME: podman with a store of its own in DIR
	unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec podman --root "$1/root" --runroot "$1/run" \
		--tmpdir "$1/tmp" --storage-driver overlay --cgroup-manager cgroupfs --events-backend file \
		pull -q --tls-verify=false "$2"' sh "$@"
}
fresh() { rm -rf "$1"; mkdir -p "$1/tmp"; sync; }

# measure WHERE: RUNS rounds, each case once a round (the disk's state drifts
# over a run: interleaving keeps that out of the ratios); results in
# $T/<where>-<case>, one time a line
measure() {
	local where=$1 dir=$2 i
	for i in $(seq "$RUNS"); do
		time_ms true >>"$T/$where-true"
		fresh "$dir"; time_ms gzip -dc "$T/layer.tar.gz" >>"$T/$where-gzip"
		fresh "$dir"; time_ms tar -xzf "$T/layer.tar.gz" -C "$dir" >>"$T/$where-tar"
		fresh "$dir"; time_ms "$LRUN" --root "$dir/root" pull -q "$R/bench:v1" >>"$T/$where-lrun"
		if command -v podman >/dev/null; then
			fresh "$dir"; time_ms podman_pull "$dir" "$R/bench:v1" >>"$T/$where-podman"
		fi
	done
	# the small pulls in rounds of their own: right after the big trees
	# above are deleted, the file system is still busy with that
	fresh "$dir"
	sleep 2
	for i in $(seq "$RUNS"); do
		rm -rf "$dir/root"
		"$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v1" >/dev/null; sync
		time_ms "$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v2" >>"$T/$where-v2"
		sync; time_ms "$LRUN" --root "$dir/root" pull -q "$R/servidorweb:v2" >>"$T/$where-again"
	done
	rm -rf "$dir"
}

echo "timing ($RUNS rounds)..." >&2
measure disk "$T/out"
[ -d /dev/shm ] && measure memory "/dev/shm/lrun-bench-pull.$$"

report() {
	local where=$1 c
	[ -f "$T/$where-tar" ] || return 0
	for c in true gzip tar lrun podman v2 again; do
		[ -f "$T/$where-$c" ] && median <"$T/$where-$c" >"$T/$where-$c.median"
	done
	r() { cat "$T/$where-$1.median"; }
	ratio() { echo "scale=2; $(r "$1") / $(r tar)" | bc | sed 's/^\./0./'; }
	printf '\n%s (%s)\n' "$where" "$2"
	printf '%-36s %12s %10s\n' case "time (ms)" "vs tar"
	printf '%-36s %12s %10s\n' "gzip -dc >/dev/null (floor)" "$(r gzip)" "$(ratio gzip)x"
	printf '%-36s %12s %10s\n' "tar -xzf" "$(r tar)" "1.00x"
	printf '%-36s %12s %10s\n' "lrun pull" "$(r lrun)" "$(ratio lrun)x"
	[ -f "$T/$where-podman.median" ] && printf '%-36s %12s %10s\n' "podman pull" "$(r podman)" "$(ratio podman)x"
	printf '%-36s %12s\n' "lrun pull servidorweb:v2 after :v1" "$(r v2)"
	printf '%-36s %12s\n' "lrun pull servidorweb:v2 again" "$(r again)"
	printf '%-36s %12s\n' "(/bin/true: the timing floor)" "$(r true)"
}
printf '\nlrun pull benchmark: one layer, %s MB gzip blob, %s MB tar, %s entries; medians of %s rounds\n' \
	"$blob_mb" "$tar_mb" "$files" "$RUNS"
report disk "$(df -T "$T" | awk 'NR == 2 {print $2}') under $(dirname "$T")"
report memory "tmpfs, /dev/shm"
printf '\ntargets: lrun pull <= 1.2x tar -xzf; v2 after v1 < 10 ms\n'
