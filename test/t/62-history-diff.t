#!/bin/bash
# lrun history (podman's columns, --no-trunc, -q, --human=false, --format,
# json) from the config's history, and lrun diff of images (A/C/D against
# the parent layer, or another image; --format json), as podman prints them.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb whiteouts
R=$T/store
for f in v1 v2 whiteouts; do lr load -i "$F/$f.tar" >/dev/null 2>&1 || bail "load $f"; done
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
V1ID=$(reg_id() { tar xOf "$1" manifest.json | jq -r '.[0].Config | rtrimstr(".json")'; }; reg_id "$F/v1.tar")
V2ID=$(tar xOf "$F/v2.tar" manifest.json | jq -r '.[0].Config | rtrimstr(".json")')
ago="$(human_duration $(( $(date +%s) - 1700000000 ))) ago"

# --- history --------------------------------------------------------------------------
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@"; }
run lr history $V1
is "$rc" 0 "history exits 0"
is "$out" "$({ row ID CREATED "CREATED BY" SIZE COMMENT
	row "${V1ID:0:12}" "$ago" "/bin/sh -c #(nop) ADD layer 3" "10.2 kB" ""
	row "<missing>" "$ago" "/bin/sh -c #(nop) ADD layer 2" "215 kB" ""
	row "<missing>" "$ago" "/bin/sh -c #(nop) ADD layer 1" "2.01 MB" ""; } | tabw)"$'\n' \
	"history: podman's table, newest first; a layer's size; <missing> where no image has that top layer"
run lr history --no-trunc $V1
like "$out" $'\n'"$V1ID  " "--no-trunc: the full image ID"
run lr history -qH $V2
is "$out" "${V2ID:0:12}
<missing>
<missing>
" "-qH: the IDs"
run lr history --human=false $V2
is "$(awk 'NR == 2 { print $2 }' <<<"$out")" 2023-11-14T22:13:20Z "--human=false: created as RFC 3339"
run lr image history --format '{{.ID}}\t{{.ID}}' $V1
is "$(head -1 <<<"$out")" "${V1ID:0:12}	${V1ID:0:12}" "--format with \\t: a tab between the fields"
run lr history --format '{{.CreatedSince}}--{{.CreatedAt}}' $V1
is "$(head -1 <<<"$out")" "$(lr images --format '{{.CreatedSince}}--{{.CreatedAt}}' $V1)" \
	"CreatedSince and CreatedAt as images prints them"
is "$(head -1 <<<"$out")" "$ago--2023-11-14 22:13:20 +0000 UTC" "… Go's time format"
run lr history --format json $V1
is "$out" "[{\"id\":\"$V1ID\",\"created\":\"2023-11-14T22:13:20Z\",\"CreatedBy\":\"/bin/sh -c #(nop) ADD layer 3\",\"size\":10240,\"Created\":\"2023-11-14T22:13:20Z\"},{\"id\":\"\\u003cmissing\\u003e\",\"created\":\"2023-11-14T22:13:20Z\",\"CreatedBy\":\"/bin/sh -c #(nop) ADD layer 2\",\"size\":215040,\"Created\":\"2023-11-14T22:13:20Z\"},{\"id\":\"\\u003cmissing\\u003e\",\"created\":\"2023-11-14T22:13:20Z\",\"CreatedBy\":\"/bin/sh -c #(nop) ADD layer 1\",\"size\":2007040,\"Created\":\"2023-11-14T22:13:20Z\"}]
" "--format json: podman's one line"

# an image whose history has entries that made no layer (ENV, CMD) and a long command
mkdir -p "$T/h" && cp "$F/layers/1.tar" "$F/layers/2.tar" "$T/h/"
long="/bin/sh -c apt-get update && apt-get install -y apache2 && rm -rf /var/lib/apt/lists/*"
fx_docker_archive "$T/h/pre.tar" localhost/hist:1 '{}' "$T/h/1.tar" "$T/h/2.tar"
mkdir -p "$T/h/x" && tar -C "$T/h/x" -xf "$T/h/pre.tar"
cfg=$(jq -r '.[0].Config' "$T/h/x/manifest.json")
jq -c --arg long "$long" '.history = [.history[0], {created: "2023-11-14T22:13:20Z", created_by: "/bin/sh -c #(nop) ENV A=b",
	empty_layer: true, comment: "set A"}, (.history[1] | .created_by = $long)]' "$T/h/x/$cfg" | tr -d '\n' >"$T/h/x/new.json"
new=$(sha256 "$T/h/x/new.json") && mv "$T/h/x/new.json" "$T/h/x/$new.json" && rm "$T/h/x/$cfg"
jq -c --arg c "$new.json" '.[0].Config = $c' "$T/h/x/manifest.json" | tr -d '\n' >"$T/h/x/m" && mv "$T/h/x/m" "$T/h/x/manifest.json"
(cd "$T/h/x" && tar -cf "$T/h/hist.tar" *) && lr load -i "$T/h/hist.tar" >/dev/null 2>&1 || bail "load hist"
run lr history localhost/hist:1
is "$out" "$({ row ID CREATED "CREATED BY" SIZE COMMENT
	row "${new:0:12}" "$ago" "${long:0:42}..." "215 kB" ""
	row "<missing>" "$ago" "/bin/sh -c #(nop) ENV A=b" "0 B" "set A"
	row "<missing>" "$ago" "/bin/sh -c #(nop) ADD layer 1" "2.01 MB" ""; } | tabw)"$'\n' \
	"history: an empty_layer entry has size 0 and does not step down a layer; CREATED BY cut at 45"
run lr history --no-trunc --format '{{.CreatedBy}}' localhost/hist:1
is "$(head -1 <<<"$out")" "$long" "--no-trunc: CREATED BY whole"
run lr history
is "$rc:$err" "125:Error: accepts 1 arg(s), received 0"$'\n' "history without an image"
run lr history localhost/nope:1
is "$rc:$err" "125:Error: localhost/nope:1: image not known"$'\n' "history of an unknown image"

# --- diff -------------------------------------------------------------------------------
run lr diff $V1
is "$rc:$out" "0:C /etc
A /etc/servidorweb-version
" "diff: the top layer against its parent (the directory of an addition is changed)"
run lr diff --format json $V1
is "$out" '{
     "changed": [
          "/etc"
     ],
     "added": [
          "/etc/servidorweb-version"
     ]
}
' "diff --format json: podman's groups"
run lr diff localhost/whiteouts:latest
is "$out" "C /a
D /a/gone
C /d
A /d/new
" "diff: a whiteout is a deletion"
run lr diff $V1 $V2
is "$rc:$out" "0:" "diff v1 v2: the one file differs in content only (same size and time): no change, as podman"
run lr diff --format json $V1 $V2
is "$out" "{}"$'\n' "… json: {}"
run lr diff $V2 localhost/whiteouts:latest
is "$(head -3 <<<"$out")" "D /a
A /bin
A /bin/busybox" "diff of unrelated images: deletions and additions, sorted"
is "$(grep -c '^A /var/www/index.html$' <<<"$out")" 1 "… the whole of a new directory is added"
run lr diff --format yaml $V1
is "$rc:$err" "125:Error: only supported value for '--format' is 'json'"$'\n' "diff --format other than json"
run lr diff localhost/nope:1
is "$rc:$err" "125:Error: localhost/nope:1 not found: layer not known"$'\n' "diff of an unknown name"

done_testing
