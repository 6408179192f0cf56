#!/bin/bash
# images (table, -q, --no-trunc, --noheading, --format, json, REPO filter),
# image tree, inspect, tag/untag, rmi (shared layers kept, in-use check, -f).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb whiteouts

L1=d5ea046f6b72564323cd586a066831477b3d7246be35c7b87cb79eda3db027c4
L2=24db95f1fcb2e2bb9f6cc675a30ffee0c93d2d0f561e06484129aaa71e0f7c7b
L3=bc1dd8d4b7784df4ab9374c8c871adf7c3d8a4360a5e0ad3c508f8bbbb8d686b
L3b=28ad61c640b708043c82156b2deb526aafbd40269b2a721de00193bcdb189efe
V1ID=53295387bff92584f39da531cba95b308e801ff87fc40eec8eefd4544783976b
V2ID=fcdac5024f2875942e41adc74a869b4f952a64aab07b6a8209066c4de2005153
WID=359d758cd7938a7d6af0462bc3950d4a8e2ea1ce5473399ee7cdfcb5bcc6b8c5
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2 W=localhost/whiteouts:latest

R=$T/store
for f in v1 v2 whiteouts; do
	lr load -i "$F/$f.tar" >/dev/null 2>&1 || bail "cannot load $f.tar"
done
ago="$(human_duration $(( $(date +%s) - 1700000000 ))) ago"
B1=$(image_bytes "$R" $V1ID) B2=$(image_bytes "$R" $V2ID) BW=$(image_bytes "$R" $WID)
is "$B1 $B2 $BW" "2234583 2234583 22189" "image sizes from the indexes are podman's (2234583, 2234583, 22189)"
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ago" "$(images_size "$4")"; }
HDR=$'REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE'
rows() { # rows [full]: the 3 image rows
	local a=${V1ID:0:12} b=${V2ID:0:12} c=${WID:0:12}
	[ "${1:-}" = full ] && a=sha256:$V1ID b=sha256:$V2ID c=sha256:$WID
	row localhost:5000/servidorweb v1 "$a" "$B1"
	row localhost:5000/servidorweb v2 "$b" "$B2"
	row localhost/whiteouts latest "$c" "$BW"
}

# ============================================================== images ========
run lr images
is "$rc" 0 "images exits 0"
is "$out" "$({ echo "$HDR"; rows; } | tabw)"$'\n' "images: header + one row per name, podman's column padding"
is "$err" "" "images: nothing on stderr"
if [ "$ago" = "3 years ago" ]; then
	is "$out" "REPOSITORY                  TAG         IMAGE ID      CREATED      SIZE
localhost:5000/servidorweb  v1          53295387bff9  3 years ago  2.23 MB
localhost:5000/servidorweb  v2          fcdac5024f28  3 years ago  2.23 MB
localhost/whiteouts         latest      359d758cd793  3 years ago  22.2 kB
" "images: byte-identical to podman 4.3.1's output on the same fixtures"
else
	skip "clock is not 3 years after the fixtures' date; literal podman table not comparable"
fi
[[ $out == *" "$'\n'* ]]; ok $(( ! $? )) "images: no trailing spaces"
run lr images -a
is "$out" "$({ echo "$HDR"; rows; } | tabw)"$'\n' "images -a: the same table"
run lr images -q
is "$rc:$out" "0:${V1ID:0:12}"$'\n'"${V2ID:0:12}"$'\n'"${WID:0:12}"$'\n' "images -q: one 12-hex ID per image"
run lr images --no-trunc
is "$out" "$({ echo "$HDR"; rows full; } | tabw)"$'\n' "images --no-trunc: sha256:<64 hex> IDs, column widened"
run lr images --noheading
is "$out" "$(rows | tabw)"$'\n' "images --noheading: rows only"
run lr images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
is "$out" "${V1ID:0:12} $V1"$'\n'"${V2ID:0:12} $V2"$'\n'"${WID:0:12} $W"$'\n' "images --format '{{.ID}} {{.Repository}}:{{.Tag}}'"
run lr images --format json
is "$rc" 0 "images --format json exits 0"
ok "$(jq -e . <<<"$out" >/dev/null 2>&1; echo $?)" "images --format json: valid JSON"
is "$(jq -c '[.[] | [.Id, .Names, .Size, .VirtualSize, .Created, .CreatedAt, .Digest]]' <<<"$out")" \
	"[[\"$V1ID\",[\"$V1\"],$B1,$B1,1700000000,\"2023-11-14T22:13:20Z\",\"sha256:5cec53ea7a81b560b5bb8f2255aef34c98e71992ef44d546d95d10c876387b3d\"],[\"$V2ID\",[\"$V2\"],$B2,$B2,1700000000,\"2023-11-14T22:13:20Z\",\"sha256:9965793dc93e850e5cd93d3041e0858a8a0085ff6eb6a14e72d0e31378e5edfa\"],[\"$WID\",[\"$W\"],$BW,$BW,1700000000,\"2023-11-14T22:13:20Z\",\"sha256:6b1c7a257ede4060838ffcd633c86144943195039aaeb7f1c4d6425eacdc74c3\"]]" \
	"images --format json: Id, Names, Size (bytes), Created, Digest per image"
is "$(jq -r '.[0] | keys_unsorted | join(",")' <<<"$out")" \
	"Id,ParentId,RepoTags,RepoDigests,Size,SharedSize,VirtualSize,Labels,Containers,Names,Digest,History,Created,CreatedAt" \
	"images --format json: podman's key order"
is "$(jq -c '.[0].RepoDigests' <<<"$out")" '["localhost:5000/servidorweb@sha256:5cec53ea7a81b560b5bb8f2255aef34c98e71992ef44d546d95d10c876387b3d"]' \
	"images --format json: RepoDigests = repo@manifest digest"
is "$(sed -n 2p <<<"$out")" "    {" "images --format json: 4-space indent"
[[ $out == *$'\n    }\n]\n' ]]; ok $? "images --format json: ends with '    }', ']' and exactly one newline"

run lr images localhost:5000/servidorweb
is "$out" "$({ echo "$HDR"; rows | head -2; } | tabw)"$'\n' "images REPO: only that repository's rows"
run lr images localhost/whiteouts
is "$out" "$({ echo "$HDR"; rows | tail -1; } | tabw)"$'\n' "images localhost/whiteouts: one row"
run lr images localhost/nope
is "$rc:$out" "0:REPOSITORY  TAG         IMAGE ID    CREATED     SIZE"$'\n' "images of an unknown repository: header only"

# ========================================================== image tree ========
TREE_V2="Image ID: fcdac5024f28
Tags:     [$V2]
Size:     2.235MB
Image Layers
├── ID: d5ea046f6b72 Size: 2.007MB
├── ID: 24db95f1fcb2 Size:   215kB
└── ID: 28ad61c640b7 Size: 10.24kB Top Layer of: [$V2]

"
TREE_V1="Image ID: 53295387bff9
Tags:     [$V1]
Size:     2.235MB
Image Layers
├── ID: d5ea046f6b72 Size: 2.007MB
├── ID: 24db95f1fcb2 Size:   215kB
└── ID: bc1dd8d4b778 Size: 10.24kB Top Layer of: [$V1]

"
TREE_W="Image ID: 359d758cd793
Tags:     [$W]
Size:     22.19kB
Image Layers
├── ID: c320dda7aee8 Size: 10.24kB
└── ID: 0f994eab559a Size: 10.24kB Top Layer of: [$W]

"
run lr image tree $V2
is "$rc" 0 "image tree v2 exits 0"
is "$out" "$TREE_V2" "image tree v2: exactly podman's 7 lines and the trailing empty line"
is "$(printf '%s' "$out" | wc -l)" 8 "image tree v2: 8 newline-terminated lines (7 + blank)"
run lr image tree $V1
is "$out" "$TREE_V1" "image tree v1: exact"
run lr image tree $W
is "$out" "$TREE_W" "image tree whiteouts: exact"
run lr image tree localhost/nope:latest
is "$rc" 125 "image tree of an unknown image: exit 125"
like "$err" '^Error: .*localhost/nope' "image tree of an unknown image: Error: naming it"

# ============================================================= inspect ========
run lr inspect $V2
is "$rc" 0 "inspect v2 exits 0"
ok "$(jq -e . <<<"$out" >/dev/null 2>&1; echo $?)" "inspect: valid JSON"
J=$out
q() { jq -c "$1" <<<"$J"; }
is "$(q 'length')" 1 "inspect: array of one object"
is "$(q '.[0] | [.Id, .RepoTags, .Created, .Size, .Digest]')" \
	"[\"$V2ID\",[\"$V2\"],\"2023-11-14T22:13:20Z\",$B2,\"sha256:9965793dc93e850e5cd93d3041e0858a8a0085ff6eb6a14e72d0e31378e5edfa\"]" \
	"inspect: Id, RepoTags, Created, Size (bytes), Digest"
is "$(q '.[0].Config | [.Cmd, .Env, .WorkingDir]')" \
	'[["/bin/busybox","httpd","-f","-p","8080","-h","/var/www"],["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"/var/www"]' \
	"inspect: Config.Cmd, Env, WorkingDir from the image config"
is "$(q '.[0].RootFS')" "{\"Type\":\"layers\",\"Layers\":[\"sha256:$(sha256 "$F/layers/1.tar")\",\"sha256:$(sha256 "$F/layers/2.tar")\",\"sha256:$(sha256 "$F/layers/3v2.tar")\"]}" \
	"inspect: RootFS.Type layers, Layers = the diff ids"
is "$(q '.[0].GraphDriver.Name')" '"overlay"' "inspect: GraphDriver.Name = overlay"
is "$(q '.[0].GraphDriver.Data | [.LowerDir, .UpperDir, .WorkDir]')" \
	"[\"$R/overlay/$L2/diff:$R/overlay/$L1/diff\",\"$R/overlay/$L3b/diff\",\"$R/overlay/$L3b/work\"]" \
	"inspect: LowerDir (nearest first) / UpperDir / WorkDir under the root"
missing=0
for d in $(jq -r '.[0].GraphDriver.Data | (.LowerDir | split(":")[]), .UpperDir, .WorkDir' <<<"$J"); do
	[ -d "$d" ] || { missing=1; diag "  not a directory: $d"; }
done
ok $missing "inspect: every GraphDriver dir exists"
is "$(q '.[0] | [.Architecture, .Os, .ManifestType]')" '["amd64","linux","application/vnd.docker.distribution.manifest.v2+json"]' \
	"inspect: Architecture, Os, ManifestType"
is "$(q '.[0] | keys_unsorted | join(",")')" \
	'"Id,Digest,RepoTags,RepoDigests,Parent,Comment,Created,Config,Version,Author,Architecture,Os,Size,VirtualSize,GraphDriver,RootFS,Labels,Annotations,ManifestType,User,History,NamesHistory"' \
	"inspect: podman's key order"
is "$J" "[
     {
          \"Id\": \"$V2ID\",
          \"Digest\": \"sha256:9965793dc93e850e5cd93d3041e0858a8a0085ff6eb6a14e72d0e31378e5edfa\",
          \"RepoTags\": [
               \"$V2\"
          ],
          \"RepoDigests\": [
               \"localhost:5000/servidorweb@sha256:9965793dc93e850e5cd93d3041e0858a8a0085ff6eb6a14e72d0e31378e5edfa\"
          ],
          \"Parent\": \"\",
          \"Comment\": \"\",
          \"Created\": \"2023-11-14T22:13:20Z\",
          \"Config\": {
               \"Env\": [
                    \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"
               ],
               \"Cmd\": [
                    \"/bin/busybox\",
                    \"httpd\",
                    \"-f\",
                    \"-p\",
                    \"8080\",
                    \"-h\",
                    \"/var/www\"
               ],
               \"WorkingDir\": \"/var/www\"
          },
          \"Version\": \"\",
          \"Author\": \"\",
          \"Architecture\": \"amd64\",
          \"Os\": \"linux\",
          \"Size\": 2234583,
          \"VirtualSize\": 2234583,
          \"GraphDriver\": {
               \"Name\": \"overlay\",
               \"Data\": {
                    \"LowerDir\": \"$R/overlay/$L2/diff:$R/overlay/$L1/diff\",
                    \"UpperDir\": \"$R/overlay/$L3b/diff\",
                    \"WorkDir\": \"$R/overlay/$L3b/work\"
               }
          },
          \"RootFS\": {
               \"Type\": \"layers\",
               \"Layers\": [
                    \"sha256:d5ea046f6b72564323cd586a066831477b3d7246be35c7b87cb79eda3db027c4\",
                    \"sha256:9dc3b780237679fc754c68eb4ac428dc4745288463cd07eed3c3abfc2ccb5b54\",
                    \"sha256:a55907e0d56618f7a3deb65cbb6a98ed27dff868c7cc960659eef0e86e2fbcfe\"
               ]
          },
          \"Labels\": null,
          \"Annotations\": {},
          \"ManifestType\": \"application/vnd.docker.distribution.manifest.v2+json\",
          \"User\": \"\",
          \"History\": [
               {
                    \"created\": \"2023-11-14T22:13:20Z\",
                    \"created_by\": \"/bin/sh -c #(nop) ADD layer 1\"
               },
               {
                    \"created\": \"2023-11-14T22:13:20Z\",
                    \"created_by\": \"/bin/sh -c #(nop) ADD layer 2\"
               },
               {
                    \"created\": \"2023-11-14T22:13:20Z\",
                    \"created_by\": \"/bin/sh -c #(nop) ADD layer 3\"
               }
          ],
          \"NamesHistory\": [
               \"$V2\"
          ]
     }
]
" "inspect v2: byte-identical to podman's output (5-space indent, {} for empty maps, one final newline)"
run lr image inspect $V2
is "$out" "$J" "image inspect = inspect"
run lr inspect --format '{{.Id}}' $V2
is "$rc:$out" "0:$V2ID"$'\n' "inspect --format '{{.Id}}': the 64-hex ID"
run lr inspect --format '{{.Id}}' $V1 $W
is "$out" "$V1ID"$'\n'"$WID"$'\n' "inspect --format with two images: one line each"
run lr inspect ${V1ID:0:12}
is "$(jq -r '.[0].Id' <<<"$out" 2>&1)" "$V1ID" "inspect by short ID"
run lr inspect localhost/nope:latest
is "$rc" 125 "inspect unknown: exit 125"
is "$out" $'[]\n' "inspect unknown: stdout is exactly '[]'"
is "$err" $'Error: inspecting object: no such object: "localhost/nope:latest"\n' "inspect unknown: podman's error"
run lr image inspect localhost/nope:latest
is "$rc:$out" $'125:[]\n' "image inspect unknown: exit 125, stdout '[]'"
is "$err" $'Error: inspecting object: localhost/nope:latest: image not known\n' "image inspect unknown: podman's error"

# ========================================================= tag / untag ========
run lr tag $V2 localhost/extra:latest
is "$rc:$out:$err" "0::" "tag: exit 0, prints nothing"
is "$(jq -c --arg id $V2ID '.[] | select(.id == $id) | [.names, ."names-history"]' "$R/overlay-images/images.json")" \
	"[[\"$V2\",\"localhost/extra:latest\"],[\"localhost/extra:latest\",\"$V2\"]]" "tag: name appended to names, prepended to names-history"
run lr images
is "$out" "$({ echo "$HDR"; rows | head -2; row localhost/extra latest ${V2ID:0:12} "$B2"; rows | tail -1; } | tabw)"$'\n' \
	"images after tag: a row for the new name"
run lr images -q
is "$(wc -l <<<"${out%$'\n'}")" 3 "images -q after tag: IDs deduplicated (still 3 lines)"
run lr image tree localhost/extra:latest
like "$out" $'\nTags:     \\[localhost:5000/servidorweb:v2 localhost/extra:latest\\]\n' "image tree: Tags lists both names, space separated"
like "$out" $'28ad61c640b7 Size: 10.24kB Top Layer of: \\[localhost:5000/servidorweb:v2 localhost/extra:latest\\]\n' "image tree: Top Layer of lists both names"
run lr tag localhost/nope:latest localhost/x:y
is "$rc" 125 "tag unknown: exit 125"
is "$err" $'Error: localhost/nope:latest: image not known\n' "tag unknown: podman's error"

nd=$(ls "$R/overlay" | wc -l)
run lr rmi localhost/extra:latest
is "$rc:$out" $'0:Untagged: localhost/extra:latest\n' "rmi of an extra name: only 'Untagged: NAME'"
is "$(jq -c --arg id $V2ID '.[] | select(.id == $id) | .names' "$R/overlay-images/images.json")" "[\"$V2\"]" "rmi of an extra name: image kept with its other name"
is "$(ls "$R/overlay" | wc -l)" "$nd" "rmi of an extra name: no layer removed"

lr tag $W localhost/w2:latest
run lr untag $W localhost/w2:latest
is "$rc:$out" "0:" "untag IMG NAME: exit 0, silent"
is "$(jq -c --arg id $WID '.[] | select(.id == $id) | .names' "$R/overlay-images/images.json")" "[\"$W\"]" "untag IMG NAME removes only NAME"
run lr untag $W
is "$rc" 0 "untag IMG (no name): exit 0"
run lr images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
like "$out" "${WID:0:12} <none>:<none>" "untag IMG removes all names: the image shows as <none>:<none>"
run lr tag ${WID:0:12} $W
is "$rc" 0 "tag by short ID"

# ================================================================ rmi ========
link3b=$(cat "$R/overlay/$L3b/link")
tree1=$(lr image tree $V1)
lids=$(cat "$R/overlay-layers/layers.json")
run lr rmi $V2
is "$rc" 0 "rmi v2 exits 0"
is "$out" "Untagged: $V2"$'\n'"Deleted: $V2ID"$'\n' "rmi v2: Untagged: + Deleted: <64 hex>"
ok "$( [ ! -e "$R/overlay/$L3b" ]; echo $?)" "rmi v2: its top layer dir is gone"
ok "$( [ ! -e "$R/overlay/l/$link3b" ] && [ ! -L "$R/overlay/l/$link3b" ]; echo $?)" "rmi v2: its l/ link is gone"
ok "$( [ ! -e "$R/overlay-layers/$L3b.tar-split.gz" ]; echo $?)" "rmi v2: its tar-split is gone"
ok "$( [ ! -e "$R/overlay-images/$V2ID" ]; echo $?)" "rmi v2: its big-data dir is gone"
is "$(jq -c '[.[].id] | sort' "$R/overlay-layers/layers.json")" "$(jq -c --arg t $L3b '[.[].id | select(. != $t)] | sort' <<<"$lids")" \
	"rmi v2: layers.json keeps v1's 3 layers (and whiteouts'), drops v2's top"
intact=0
for id in $L1 $L2 $L3; do
	l=$(cat "$R/overlay/$id/link" 2>/dev/null)
	[ -d "$R/overlay/$id/diff" ] && [ -d "$R/overlay/l/$l/" ] || intact=1
done
ok $intact "rmi v2: v1's layers (incl. the 2 shared) and their l/ links intact"
ok "$(cmp -s "$R/overlay/$L1/diff/bin/busybox" /bin/busybox; echo $?)" "rmi v2: shared base layer content intact"
run lr images
is "$out" "$({ echo "$HDR"; rows | sed -n '1p;3p'; } | tabw)"$'\n' "images after rmi v2: v1 and whiteouts"
run lr image tree $V1
is "$out" "$tree1"$'\n\n' "image tree v1 unchanged by rmi v2"
is "$out" "$TREE_V1" "image tree v1 after rmi v2: exact"
run lr rmi $V2
is "$rc" 1 "rmi v2 again: exit 1"
is "$err" "Error: $V2: image not known"$'\n' "rmi v2 again: image not known"
run lr rmi localhost/nope:latest
is "$rc:$out" "1:" "rmi unknown: exit 1, nothing on stdout"
is "$err" $'Error: localhost/nope:latest: image not known\n' "rmi unknown: podman's error"

# ============================================= rmi of an image a container uses ==
CID=$(printf 'lrun-test-c1' | sha256sum | cut -c1-64)
C=$R/overlay-containers/containers.json
jq -cn --arg id "$CID" --arg img "$V1ID" --arg name "$V1" \
	'[{id: $id, names: ["c1"], image: $img, layer: ("f" * 64),
	   metadata: ({"image-name": $name, "image-id": $img, name: "c1", "created-at": 1700000000} | tojson),
	   created: "2026-01-01T00:00:00Z", flags: {MountLabel: "", ProcessLabel: ""}}]' | tr -d '\n' >"$C"
chmod 600 "$C"
cbefore=$(cat "$C")
run lr rmi $V1
is "$rc" 2 "rmi of an image used by a container: exit 2"
is "$err" "Error: image used by $CID: image is in use by a container: consider listing external containers and force-removing image"$'\n' \
	"rmi in-use: podman's message"
is "$out" "" "rmi in-use: nothing on stdout"
is "$(cat "$C")" "$cbefore" "rmi in-use: containers.json untouched"
run lr images --format '{{.ID}}'
like "$out" "^${V1ID:0:12}"$'\n' "rmi in-use: v1 still listed"
ok "$( [ -d "$R/overlay/$L3/diff" ]; echo $?)" "rmi in-use: v1's layers kept"
run lr rmi ${WID:0:12}
is "$out" "Untagged: $W"$'\n'"Deleted: $WID"$'\n' "rmi by short ID of an unused image: Untagged + Deleted"
run lr rmi -f $V1
is "$rc" 0 "rmi -f of the in-use image: exit 0"
is "$out" "Untagged: $V1"$'\n'"Deleted: $V1ID"$'\n' "rmi -f: Untagged + Deleted (nothing printed for the container)"
is "$(jq -c --arg id "$CID" '[.[] | select(.id == $id)] | length' "$C" 2>&1)" 0 "rmi -f: the container record is removed"
is "$(ls -A "$R/overlay")" "l" "rmi -f: no layer dir left"
is "$(ls -A "$R/overlay/l")" "" "rmi -f: no l/ link left"
is "$(jq -c . "$R/overlay-layers/layers.json") $(jq -c . "$R/overlay-images/images.json")" "[] []" "rmi -f: empty indexes"
run lr images
is "$out" $'REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n' "images on the emptied store: header only"

done_testing
