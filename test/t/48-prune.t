#!/bin/bash
# images --filter (reference, before, since, dangling, label, id) and
# --digests; an untagged image another stacks on (a build's intermediate)
# hidden without -a; image prune [-a] [-f], container prune, system prune
# [-a] [--volumes] [-f] with podman's questions, output and exit codes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb
V1ID=53295387bff92584f39da531cba95b308e801ff87fc40eec8eefd4544783976b
V2ID=fcdac5024f2875942e41adc74a869b4f952a64aab07b6a8209066c4de2005153
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
R=$T/store
lr load -q -i "$F/v1.tar" >/dev/null && lr load -q -i "$F/v2.tar" >/dev/null || bail "cannot load the fixtures"
lr tag $V1 a.b/c:d >/dev/null
names() { lr images --format '{{.Repository}}:{{.Tag}}' "$@" | tr '\n' ' '; }

# --- images --filter ------------------------------------------------------------
is "$(names --filter reference=servidorweb)" "$V1 a.b/c:d $V2 " \
	"reference=NAME: the images with that name, each row of theirs (podman 4.3)"
is "$(names --filter 'reference=*web:v2')" "$V2 " "reference= takes a glob"
is "$(names --filter reference=a.b/c --filter reference=nothing)" "$V1 a.b/c:d " "the same key twice: either matches"
is "$(names --filter id=${V2ID:0:12})" "$V2 " "id=PREFIX"
is "$(names --filter dangling=true)" "" "dangling=true: none yet"
is "$(names --filter label=nothing)" "" "label=KEY: no image has it"
run lr images --filter bogus=1
is "$rc:$err" "125:Error: unsupported image filter \"bogus\"
" "an unknown filter: podman's error"
run lr images --filter dangling=maybe
is "$rc:$err" "125:Error: non-boolean value \"dangling\" for maybe filter: strconv.ParseBool: parsing \"maybe\": invalid syntax
" "a dangling= that is not a boolean: podman's error"
is "$(names --filter after=$V2ID):$(names --filter since=$V2ID)" ":" "after= (since=): none is newer than v2"
is "$(names --sort repository)" "a.b/c:d $V1 $V2 " "--sort repository"
run lr images --sort bogus
is "$rc" 125 "--sort with an unknown key: 125"
is "$(lr images --format '{{.History}}|{{.Labels}}' $V2)" "$V2|map[]" "{{.History}} and {{.Labels}} as podman's"
run lr rmi -f bogus
is "$rc:$out:$err" "0::" "rmi -f of a missing image: nothing, exit 0 (podman)"
D1=$(jq -r '.[] | select(.id == "'$V1ID'") | .digest' "$R/overlay-images/images.json")
is "$(lr images --digests --filter id=$V1ID | awk 'NR == 1 {print $1, $2, $3, $4, $5; next} {print $1, $2, $3, $4}')" "REPOSITORY TAG DIGEST IMAGE ID
localhost:5000/servidorweb v1 $D1 ${V1ID:0:12}
a.b/c d $D1 ${V1ID:0:12}" "--digests adds the DIGEST column"

# --- an intermediate image: untagged, another image stacks on it ---------------
cid=$(lr create $V1 true) && CID=$(lr commit -q "$cid" child:1) || bail "commit"
lr rm "$cid" >/dev/null
lr untag $V1ID
is "$(names)" "localhost/child:1 $V2 " "images hides the untagged parent of another image"
is "$(names -a)" "localhost/child:1 <none>:<none> $V2 " "images -a shows it"
is "$(names --filter dangling=true)" "" "an intermediate image is not dangling"

# --- image prune ----------------------------------------------------------------
lr untag $V2
run lr image prune </dev/null
is "$rc:$out:$err" "125:WARNING! This command removes all dangling images.
Are you sure you want to continue? [y/N] :Error: EOF
" "image prune asks; stdin at its end: Error: EOF, 125"
run lr image prune <<<"n"
is "$rc:$(names -a)" "0:localhost/child:1 <none>:<none> <none>:<none> " "answered no: nothing goes"
run lr image prune <<<"yes"
is "$rc:$out" "0:WARNING! This command removes all dangling images.
Are you sure you want to continue? [y/N] $V2ID
" "answered yes: the dangling image goes, its ID printed"
is "$(names -a)" "localhost/child:1 <none>:<none> " "the intermediate image stays"
run lr image prune -a -f
is "$rc:$out" "0:$CID
$V1ID
" "prune -a: the unused images, children first"
is "$(names -a):$(jq length "$R/overlay-layers/layers.json")" ":0" "no image, no layer left"
run lr image prune x
is "$rc:$err" "125:Error: \`lrun image prune\` takes no arguments
" "prune takes no arguments"

# --- container prune ----------------------------------------------------------------
lr load -q -i "$F/v1.tar" >/dev/null
c1=$(lr create --name stopped $V1 true) c2=$(lr run -d --name up $V1 sleep 60)
run lr container prune </dev/null
is "$rc:$out:$err" "125:WARNING! This will remove all non running containers.
Are you sure you want to continue? [y/N] :Error: EOF
" "container prune asks"
run lr container prune -f
is "$rc:$out" "0:$c1
" "container prune -f: the containers not running go"
is "$(lr ps -a --format '{{.Names}}')" "up" "the running one stays"
lr rm -f -t 0 up >/dev/null

# --- system prune ---------------------------------------------------------------------
lr load -q -i "$F/v2.tar" >/dev/null
lr untag $V2
c3=$(lr create --name gone $V1 true)
lr volume create unused >/dev/null
run lr system prune </dev/null
is "$rc:$out" "125:WARNING! This command removes:
	- all stopped containers
	- all networks not used by at least one container
	- all dangling images
	- all dangling build cache

Are you sure you want to continue? [y/N] " "system prune asks as podman"
run lr system prune --volumes -a <<<"N"
is "$rc:$out" "0:WARNING! This command removes:
	- all stopped containers
	- all networks not used by at least one container
	- all volumes not used by at least one container
	- all images without at least one container associated with them
	- all build cache

Are you sure you want to continue? [y/N] " "with -a --volumes it says so"
is "$(lr ps -aq | wc -l):$(names -a)" "1:$V1 <none>:<none> " "answered N: nothing went"
run lr system prune -f
B=$(human $(( $(image_bytes "$R" $V2ID 2>/dev/null || echo 0) )))
like "$out" "^Deleted Containers
$c3
Deleted Images
$V2ID
Total reclaimed space: [0-9.]+[kM]?B
\$" "system prune -f: containers, then dangling images, then the total"
is "$rc:$(lr volume ls -q)" "0:unused" "volumes stay without --volumes"
run lr system prune -f --volumes
is "$rc:$out" "0:Deleted Volumes
unused
Total reclaimed space: 0B
" "--volumes removes the unused volumes"
run lr system prune -f -a
like "$rc:$out" "^0:Deleted Images
$V1ID
Total reclaimed space: [0-9.]+MB
\$" "-a: every image no container uses"
run lr system prune -f
is "$rc:$out" "0:Total reclaimed space: 0B
" "nothing to prune"

done_testing
