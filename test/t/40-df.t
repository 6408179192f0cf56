#!/bin/bash
# system df / system df -v: totals, per-image SIZE / SHARED SIZE / UNIQUE SIZE,
# and the byte identity  sum(UNIQUE) + shared layers once = every layer's
# diff-size + every image's big data.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb whiteouts
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2 W=localhost/whiteouts:latest
V1ID=53295387bff92584f39da531cba95b308e801ff87fc40eec8eefd4544783976b
age=$(human_duration $(( $(date +%s) - 1700000000 )))

DF_HDR=$'TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE'
df_expect() { # df_expect TOTAL ACTIVE SIZEBYTES RECLAIMBYTES
	local pct=0
	[ "$3" -gt 0 ] && pct=$(( ($4 * 100 + $3 / 2) / $3 ))
	printf '%s\n' "$DF_HDR" \
		"$(printf 'Images\t%s\t%s\t%s\t%s (%s%%)' "$1" "$2" "$(human "$3")" "$(human "$4")" "$pct")" \
		$'Containers\t0\t0\t0B\t0B (0%)' $'Local Volumes\t0\t0\t0B\t0B (0%)' | tabw
}
IJ() { jq -c "$@" "$R/overlay-images/images.json"; }
LJ() { jq -c "$@" "$R/overlay-layers/layers.json"; }
# bytes of the layers that more than one image stacks on, for image $1
shared_bytes() {
	local id=$1 top l n sum=0 others
	top=$(IJ -r --arg id "$id" '.[] | select(.id == $id) | .layer')
	others=$(for o in $(IJ -r --arg id "$id" '.[] | select(.id != $id) | .layer'); do layer_chain "$R" "$o"; done)
	for l in $(layer_chain "$R" "$top"); do
		grep -qx "$l" <<<"$others" || continue
		sum=$(( sum + $(LJ -r --arg id "$l" '.[] | select(.id == $id) | ."diff-size"') ))
	done
	echo $sum
}

# ================================================================ empty ======
R=$T/store
run lr system df
is "$rc" 0 "system df on an empty store exits 0"
is "$out" "$(df_expect 0 0 0 0)"$'\n' "system df, empty store: 0 / 0 / 0B / 0B (0%)"
is "$out" "TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE
Images         0           0           0B          0B (0%)
Containers     0           0           0B          0B (0%)
Local Volumes  0           0           0B          0B (0%)
" "system df, empty store: byte-identical to podman's"

# ================================================================ v1 =========
lr load -i "$F/v1.tar" >/dev/null 2>&1 || bail "load v1"
B1=$(image_bytes "$R" $V1ID)
run lr system df
is "$out" "$(df_expect 1 0 "$B1" "$B1")"$'\n' "system df, v1: Images 1 0 $(human $B1) $(human $B1) (100%)"
like "$out" $'\nImages         1           0           2.235MB     2.235MB \\(100%\\)\n' "system df, v1: podman's Images row"

# ============================================================= v1 + v2 =======
lr load -i "$F/v2.tar" >/dev/null 2>&1 || bail "load v2"
run lr images --format json
declare -A SIZE
while read -r id size; do SIZE[$id]=$size; done < <(jq -r '.[] | "\(.Id) \(.Size)"' <<<"$out")
ids=$(IJ -r '.[].id')
for id in $ids; do
	is "${SIZE[$id]}" "$(image_bytes "$R" "$id")" "images --format json Size of ${id:0:12} = sum of its chain's diff-size + its big-data-sizes"
done
# lrun counts each layer once (podman 4.3 adds up image sizes, counting shared layers per image)
total=$(( $(jq '[.[]."diff-size" // 0] | add' "$R/overlay-layers/layers.json") + \
	$(jq '[.[]."big-data-sizes" | to_entries[].value] | add' "$R/overlay-images/images.json") ))
run lr system df
is "$out" "$(df_expect 2 0 "$total" "$total")"$'\n' \
	"system df, v1+v2: SIZE = every layer once + metadata ($(human $total))"

run lr system df -v
is "$rc" 0 "system df -v exits 0"
rows=$(for id in $ids; do
	name=$(IJ -r --arg id "$id" '.[] | select(.id == $id) | .names[0]')
	sh=$(shared_bytes "$id")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\n' "${name%:*}" "${name##*:}" "${id:0:12}" "$age" \
		"$(human "${SIZE[$id]}")" "$(human "$sh")" "$(human $(( SIZE[$id] - sh )))"
done)
exp="Images space usage:

$({ printf 'REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n'; echo "$rows"; } | tabw)

Containers space usage:

CONTAINER ID  IMAGE       COMMAND     LOCAL VOLUMES  SIZE        CREATED     STATUS      NAMES

Local Volumes space usage:

VOLUME NAME  LINKS       SIZE
"
is "$out" "$exp" "system df -v: per image SIZE, SHARED SIZE (layers used by >1 image), UNIQUE = SIZE - SHARED"
l1=$(LJ -r '.[0]."diff-size"') l2=$(LJ -r '.[1]."diff-size"')
is "$(shared_bytes $V1ID)" $((l1 + l2)) "v1 shares exactly layers 1 and 2 ($((l1 + l2)) bytes)"
cells() { awk -v r="$1" 'index($0, r) == 1 { print $(NF-3), $(NF-2), $(NF-1) }' <<<"$out"; }
is "$(cells "localhost:5000/servidorweb  v1")" "$(human $B1) $(human $((l1 + l2))) $(human $((B1 - l1 - l2)))" \
	"df -v v1 row: SIZE $(human $B1), SHARED = human(diff-size l1 + l2) = $(human $((l1 + l2))), UNIQUE = SIZE - SHARED"
is "$(cells "localhost:5000/servidorweb  v2")" "$(cells "localhost:5000/servidorweb  v1")" "df -v v2 row: the same three sizes"
like "$out" $'\nlocalhost:5000/servidorweb  v1          53295387bff9  [^\n]*  2.235MB     2.222MB      12.5kB       0\n' \
	"df -v: v1 row with podman's column layout"

# the identity, in bytes
identity() {
	local uniq=0 sharedonce=0 layers bigdata id
	for id in $(IJ -r '.[].id'); do uniq=$(( uniq + SIZE[$id] - $(shared_bytes "$id") )); done
	local all; all=$(for id in $(IJ -r '.[].layer'); do layer_chain "$R" "$id"; done | sort | uniq -c)
	while read -r n id; do
		[ "$n" -gt 1 ] && sharedonce=$(( sharedonce + $(LJ -r --arg id "$id" '.[] | select(.id == $id) | ."diff-size"') ))
	done <<<"$all"
	layers=$(LJ '[.[]."diff-size"] | add // 0')
	bigdata=$(IJ '[.[]."big-data-sizes"[]] | add // 0')
	echo "$(( uniq + sharedonce )) $(( layers + bigdata ))"
}
read -r lhs rhs <<<"$(identity)"
is "$lhs" "$rhs" "sum(UNIQUE) + shared layers once == sum(diff-size of all layers) + sum(big-data-sizes) ($rhs bytes)"

# diff-size is the tar stream: file bytes <= diff-size <= file bytes + headers/padding
bad=0
for id in $(LJ -r '.[].id'); do
	files=$(find "$R/overlay/$id/diff" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	entries=$(find "$R/overlay/$id/diff" -mindepth 1 | wc -l)
	ds=$(LJ -r --arg id "$id" '.[] | select(.id == $id) | ."diff-size"')
	if [ "$files" -gt "$ds" ] || [ "$ds" -gt $(( files + (entries + 2) * 1024 + 10240 )) ]; then
		bad=1; diag "  layer ${id:0:12}: files $files bytes, $entries entries, diff-size $ds"
	fi
done
ok $bad "each layer's diff-size is the extracted bytes + tar overhead (within (entries+2) KiB + one 10 KiB record)"

# ============================================================ + whiteouts =====
lr load -i "$F/whiteouts.tar" >/dev/null 2>&1 || bail "load whiteouts"
run lr images --format json
while read -r id size; do SIZE[$id]=$size; done < <(jq -r '.[] | "\(.Id) \(.Size)"' <<<"$out")
WID=$(IJ -r --arg n "$W" '.[] | select(.names | index($n)) | .id')
run lr system df -v
is "$(cells "localhost/whiteouts         latest")" "$(human ${SIZE[$WID]}) 0B $(human ${SIZE[$WID]})" \
	"df -v: an image sharing nothing has SHARED 0B, UNIQUE = SIZE"
is "$(cells "localhost:5000/servidorweb  v1")" "$(human $B1) $(human $((l1 + l2))) $(human $((B1 - l1 - l2)))" \
	"df -v: v1's numbers unchanged by an unrelated image"
read -r lhs rhs <<<"$(identity)"
is "$lhs" "$rhs" "identity still holds with 3 images ($rhs bytes)"

# ====================================================== with a container =====
R=$T/store2
lr load -i "$F/v1.tar" >/dev/null 2>&1 && lr load -i "$F/whiteouts.tar" >/dev/null 2>&1 || bail "load store2"
CID=$(printf 'lrun-df-c1' | sha256sum | cut -c1-64)
jq -cn --arg id "$CID" --arg img "$V1ID" \
	'[{id: $id, names: ["c1"], image: $img, layer: ("e" * 64), metadata: "{}",
	   created: "2026-01-01T00:00:00Z", flags: {MountLabel: "", ProcessLabel: ""}}]' | tr -d '\n' \
	>"$R/overlay-containers/containers.json"
run lr system df
bw=$(image_bytes "$R" "$(IJ -r --arg n "$W" '.[] | select(.names | index($n)) | .id')")
tot=$(( $(image_bytes "$R" $V1ID) + bw ))
is "$(sed -n 2p <<<"$out")" "$(df_expect 2 1 $tot $bw | sed -n 2p)" \
	"system df with a container on v1: ACTIVE 1, RECLAIMABLE = the unused image only ($(human $bw))"
like "$out" $'\nImages         2           1           2.257MB     22.19kB \\(1%\\)\n' "… podman's Images row"
run lr system df -v
like "$out" $'\nlocalhost:5000/servidorweb  v1 [^\n]* 1\n' "system df -v: CONTAINERS 1 on v1"
like "$out" $'\nlocalhost/whiteouts  [^\n]* 0\n' "system df -v: CONTAINERS 0 on whiteouts"

done_testing
