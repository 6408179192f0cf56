#!/bin/bash
# test/bench/run --quick keeps working: it finishes within a minute, its table
# has every row with a numeric lrun median (and numeric medians for the peers
# that are installed), it writes only to --out, and it leaves nothing behind
# (scratch dir, cgroups, cgroup controllers moved to v1).
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/../lib/tap.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
for t in hyperfine jq unshare; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
[ -x /usr/bin/time ] || skip_all "GNU time not installed"
[ -x /bin/busybox ] || skip_all "no static /bin/busybox"
[ -x "$repo/lrun" ] || bail "no ./lrun (test/run builds it)"

T=$(mktemp -d /tmp/lrun-bench-t.XXXXXX)
at_exit 'rm -rf "$T"'

latest=$repo/test/bench/results/latest.md
latest_before=$(stat -c '%Y %s' "$latest" 2>/dev/null || echo absent)
scratch_before=$(ls -d /tmp/lrun-bench.* 2>/dev/null)
cg_before=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null)
v2_before=$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)

start=$(date +%s)
timeout 300 "$repo/test/bench/run" --quick --out "$T/quick.md" >"$T/stdout" 2>"$T/stderr"
rc=$?
took=$(($(date +%s) - start))
is "$rc" 0 "bench --quick exits 0" || diag "$(tail -n 30 "$T/stderr")"
# a guard against a quick mode that forgot to be quick (about 30 s alone; generous for a loaded machine)
ok "$([ "$took" -lt 180 ] && echo 0 || echo 1)" "bench --quick finishes in < 180 s (took ${took}s)"
ok "$([ -s "$T/quick.md" ] && echo 0 || echo 1)" "the table is written to --out"
is "$(stat -c '%Y %s' "$latest" 2>/dev/null || echo absent)" "$latest_before" "results/latest.md is left alone"
ok "$(grep -qxF '| work | lrun | podman | crun | bwrap | floor | ratio | target |' "$T/stdout" && echo 0 || echo 1)" \
	"the table is printed on stdout too"

md=$(cat "$T/quick.md" 2>/dev/null)
like "$md" "kernel $(uname -r | sed 's/[.+]/\\&/g')" "the kernel is named"
like "$md" "lrun: lrun version [0-9]" "lrun's version is named"
like "$md" "- date: 20[0-9][0-9]-" "the date is there"

# cell COLUMN LABEL: the cell of the row whose work starts with LABEL
# (columns: 1 work, 2 lrun, 3 podman, 4 crun, 5 bwrap, 6 floor, 7 ratio, 8 target)
cell() {
	awk -F'|' -v c=$(($1 + 1)) -v l="$2" 'index($2, " " l) == 1 {
		v = $c; gsub(/^ +| +$/, "", v); print v; exit }' "$T/quick.md"
}
num_ms='^[0-9]+(\.[0-9]+)? ms$'
like "$(cell 2 'binary size')" '^[0-9]+\.[0-9]+ MB \([0-9]+ B\)$' "binary size: lrun's is numeric"
like "$(cell 2 'max RSS')" '^[0-9]+\.[0-9]+ MB$' "max RSS: lrun's median is numeric"
for label in 'start:' '`ps -a -s`, 1 container' '`ps -a -s`, 5 containers' '`ps -a` (' '`images` (' '`system df -v` ('; do
	like "$(cell 2 "$label")" "$num_ms" "${label% (} lrun's median is numeric"
done

# the peers that are installed were measured
col=3
for peer in podman crun bwrap; do
	if command -v $peer >/dev/null; then
		like "$(cell $col 'start:')" "$num_ms" "start: $peer's median is numeric"
	else
		skip "$peer not installed"
	fi
	col=$((col + 1))
done
if command -v podman >/dev/null; then
	like "$(cell 3 '`ps -a -s`, 5 containers')" "$num_ms" "ps -a -s: podman's median is numeric"
else
	skip "podman not installed"
fi

if "$repo/lrun" pull --help >/dev/null 2>&1; then
	if command -v skopeo >/dev/null && command -v docker-registry >/dev/null; then
		like "$(cell 2 'pull a single-layer')" "$num_ms" "pull: lrun's median is numeric"
		like "$(cell 6 'pull a single-layer')" '^tar -xzf [0-9.]+ ms; gzip -dc [0-9.]+ ms$' "pull: the floor is measured"
		like "$(cell 2 'pull v2 after v1')" "$num_ms" "shared-layer pull: lrun's median is numeric"
	else
		like "$(cell 2 'pull')" '^skipped: not installed' "pull is skipped without skopeo/docker-registry"
		skip "no registry tools"; skip "no registry tools"
	fi
else
	is "$(cell 2 'pull')" "skipped: lrun has no pull yet" "pull row says it was skipped"
	ok "$(grep -qx 'pull: skipped: lrun has no pull yet' "$T/stdout" && echo 0 || echo 1)" "and so does stdout"
	skip "lrun has no pull"
fi

# nothing left behind
is "$(ls -d /tmp/lrun-bench.* 2>/dev/null)" "$scratch_before" "the scratch dir is removed"
is "$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null)" "$cg_before" "no cgroups left by podman"
is "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" "$v2_before" "cgroup2 controllers are back where they were"
is "$(findmnt -rn -o TARGET | grep -c lrun-bench)" 0 "nothing mounted"
done_testing
