#!/bin/bash
# Secrets as podman 4.3.1 has them (the file driver): secret create|ls|
# inspect|rm, kept under the graph root as secrets/secrets.json and
# secrets/filedriver/secretsdata.json (0600, in 0700 directories); run and
# create --secret NAME[,type=mount|env,target=,uid=,gid=,mode=]: a read-only
# file at /run/secrets/NAME (0444) or a variable, copied into the container
# so it outlives the secret, and never shown by inspect.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# --- secret create ------------------------------------------------------------------------------
run L secret ls
is "$rc/$out" "0/ID          NAME        DRIVER      CREATED     UPDATED$nl" "secret ls: the header alone at first"
printf hunter2 >"$T/pw"
run L secret create mysec "$T/pw"
is "$rc/$err" "0/" "secret create NAME FILE"
like "$out" "^[0-9a-f]{25}$nl\$" "… prints the secret's ID (25 hex digits, as podman)"
id1=${out%$nl}
printf 'from stdin' >"$T/s2"
run L secret create s2 - <"$T/s2"
is "$rc" 0 "secret create NAME - reads stdin"
id2=${out%$nl}
run L secret create mysec "$T/pw"
is "$rc/$out/$err" "125//Error: mysec: secret name in use$nl" "a name in use: podman's error"
run L secret create bad/name "$T/pw"
is "$rc/$err" "125/Error: only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]: bad/name: invalid secret name$nl" \
	"a bad name: podman's error"
: >"$T/empty"
run L secret create e "$T/empty"
is "$rc/$err" "125/Error: secret data must be larger than 0 and less than 512000 bytes$nl" "empty data is refused"
run L secret create e
is "$rc/$err" "125/Error: accepts 2 arg(s), received 1$nl" "create takes NAME and FILE"
run L secret create e "$T/missing"
is "$rc/$err" "125/Error: open $T/missing: No such file or directory$nl" "a missing file"

run env SECRET_VAR=from-env "$LRUN" --root "$R" secret create --env -l a=b -l c envsec SECRET_VAR
is "$rc" 0 "create --env VAR: the data from the environment, with --label"
run L secret inspect envsec --format '{{json .Spec.Labels}}'
is "$out" '{"a":"b","c":""}'"$nl" "… labels in inspect's Spec.Labels"
is "$(jq -r '.secrets[] | select(.name == "envsec") | .labels.a' "$R/secrets/secrets.json")" b "… and in secrets.json, as podman keeps them"
run L secret create --env x NOPE_UNSET_VAR
is "$rc/$err" "125/Error: cannot create store secret data: environment variable NOPE_UNSET_VAR is not set$nl" "--env of an unset variable"
run L secret create -d vault x "$T/pw"
is "$rc/$err" "125/Error: invalid driver$nl" "a driver other than file: podman's error"
run L secret rm envsec
is "$rc" 0 "(envsec removed)"

# podman's secrets.lock (an fcntl lock, as c/storage's lockfile) is held while a secret is made
if command -v python3 >/dev/null; then
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(1.5)' \
		"$R/secrets/secrets.lock" "$T/locked" &
	locker=$!
	for _ in $(seq 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
	start=$(date +%s%N)
	L secret create waited "$T/pw" >/dev/null
	waited=$((($(date +%s%N) - start) / 1000000))
	wait "$locker"
	ok $((waited < 1000)) "secret create waits for podman's secrets.lock (${waited} ms)"
	L secret rm waited >/dev/null
else
	skip "no python3 to hold secrets.lock"
fi

# --- where they are kept ---------------------------------------------------------------------
is "$(stat -c %a "$R/secrets" "$R/secrets/filedriver" "$R/secrets/secrets.json" "$R/secrets/filedriver/secretsdata.json" | tr '\n' ' ')" \
	"700 700 600 600 " "secrets/ and filedriver/ 0700, the files 0600: no other user reads them"
is "$(jq -r --arg i "$id1" '.[$i]' "$R/secrets/filedriver/secretsdata.json" | base64 -d)" hunter2 \
	"the data: base64 in filedriver/secretsdata.json, as podman keeps it"
is "$(jq -r --arg i "$id1" '[.secrets[$i].name, .secrets[$i].id == $i, .secrets[$i].driver, .secrets[$i].driverOptions.path, .nameToID.mysec == $i, .idToName[$i]] | join(",")' "$R/secrets/secrets.json")" \
	"mysec,true,file,$R/secrets/filedriver,true,mysec" "secrets.json: podman's records, nameToID, idToName"

# --- secret ls ---------------------------------------------------------------------------------
run L secret ls
like "$out" "^ID                         NAME        DRIVER      CREATED +UPDATED$nl$id1  mysec       file        (Less than a second|[0-9]+ seconds?) ago +(Less than a second|[0-9]+ seconds?) ago$nl" \
	"secret ls: podman's table"
is "$(L secret ls --noheading | wc -l)" 2 "--noheading: two rows"
run L secret ls -q
is "$rc/$(sort <<<"${out%$nl}")" "0/$(printf '%s\n' "$id1" "$id2" | sort)" "-q: the IDs"
run L secret ls --format '{{.Name}} {{.Driver}} {{.ID}}' --filter name=^s
is "$rc/$out" "0/s2 file $id2$nl" "--format and --filter name=REGEX"
run L secret ls -q --filter "id=${id1:0:6}"
is "$out" "$id1$nl" "--filter id= (a prefix matches)"
run L secret ls --filter bogus=1
is "$rc/$err" "125/Error: invalid filter \"bogus\"$nl" "an unknown filter: podman's error"

# --- secret inspect --------------------------------------------------------------------------------
run L secret inspect mysec
is "$rc" 0 "secret inspect NAME"
is "$(jq -r '.[0] | [.ID, .Spec.Name, .Spec.Driver.Name, .Spec.Driver.Options.path, (.Spec.Labels|length), .CreatedAt == .UpdatedAt] | join(",")' <<<"$out")" \
	"$id1,mysec,file,$R/secrets/filedriver,0,true" "inspect: podman's fields"
like "$out" "^\[$nl    \{$nl        \"ID\": \"$id1\",$nl        \"CreatedAt\": \"[0-9T:.-]+Z\",$nl" "… indented as podman's"
is "$(grep -c hunter2 <<<"$out")/$(grep -c '"mysec"' <<<"$out")" 0/1 "… and never the data"
run L secret inspect --format '{{.Spec.Name}}' "$id2" mysec
is "$rc/$out" "0/s2${nl}mysec$nl" "inspect --format, by ID and by name"
run L secret inspect --pretty mysec
like "$rc/$out" "^0/ID:              $id1${nl}Name:              mysec${nl}Driver:            file${nl}Created at:        [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ \\+0000 UTC${nl}Updated at:        [0-9-]+ [0-9:.]+ \\+0000 UTC$nl\$" \
	"inspect --pretty: podman's text"
run L secret inspect mysec nope
is "$rc/$(jq -r '.[].Spec.Name' <<<"$out")/$err" "125/mysec/Error: inspecting secret: no secret with name or id \"nope\": no such secret$nl" \
	"a missing secret: the others shown, podman's error, 125"

# --- run --secret ---------------------------------------------------------------------------------------
run L run --rm --network none --secret mysec "$IMG" sh -c \
	'cat /run/secrets/mysec; echo; stat -c "%a %u %g" /run/secrets/mysec; echo x >/run/secrets/mysec'
is "$rc/$out" "1/hunter2${nl}444 0 0$nl" "--secret NAME: /run/secrets/NAME, 0444, root's"
like "$err" "Read-only file system" "… mounted read-only"
run L run --rm --network none --secret mysec,type=mount,target=/etc/x,uid=5,gid=6,mode=0400 --secret s2,target=rel "$IMG" \
	sh -c 'stat -c "%a %u %g" /etc/x; cat /etc/x; echo; cat /run/secrets/rel; echo'
is "$rc/$out" "0/400 5 6${nl}hunter2${nl}from stdin$nl" "target= (absolute, or relative to /run/secrets), uid=, gid=, mode="
run L run --rm --network none --secret mysec,type=env,target=FOO --secret s2,type=env "$IMG" sh -c 'echo "$FOO/$s2"'
is "$rc/$out" "0/hunter2/from stdin$nl" "type=env: the variable target= names (default: the name)"
L run -d --name e1 --network none --secret mysec,type=env "$IMG" sleep 60 >/dev/null
run L exec e1 sh -c 'echo "[$mysec]"'
is "$rc/$out" "0/[hunter2]$nl" "exec has the container's env secrets, as podman's"
L rm -f -t0 e1 >/dev/null
run L run --rm --secret mysec,bogus=1 "$IMG" true
is "$rc/$err" "125/Error: option bogus=1 invalid: parsing secret$nl" "an unknown option: podman's error"
run L run --rm --secret mysec,type=foo "$IMG" true
is "$rc/$err" "125/Error: type foo is invalid: parsing secret$nl" "an unknown type: podman's error"
run L run --rm --secret nope "$IMG" true
is "$rc/$err/$(L ps -aq)" "125/Error: no secret with name or id \"nope\": no such secret$nl/" "a missing secret: podman's error, no container"

# a container keeps its own copy: nothing of the data in inspect; it outlives the secret
L create --name c1 --network none --secret mysec --secret s2,type=env,target=S2 "$IMG" sh -c 'cat /run/secrets/mysec; echo "/$S2"' >/dev/null
run L inspect c1 --format '{{json .Config.Secrets}}'
is "$rc/$out" "0/[{\"Name\":\"mysec\",\"ID\":\"$id1\",\"UID\":0,\"GID\":0,\"Mode\":292}]$nl" \
	"inspect's Config.Secrets: the mounted ones, as podman's"
run L inspect c1
is "$rc/$(grep -cE 'hunter2|from stdin' <<<"$out")" 0/0 "container inspect shows no secret's data (nor the variable)"
run L secret rm mysec s2
is "$rc/$out" "0/$id1$nl$id2$nl" "secret rm NAME...: their IDs; in use is no error, as in podman"
run L secret ls -q
is "$rc/$out" "0/" "… gone"
run L start -a c1
is "$rc/$out" "0/hunter2/from stdin$nl" "the container still has both after the secrets went"
run L secret rm nope
is "$rc/$err" "125/Error: no secret with name or id \"nope\": no such secret$nl" "rm of no secret: podman's error"
run L secret rm
is "$rc/$err" "125/Error: \`lrun secret rm\` requires one argument, or the --all flag$nl" "rm wants a name or --all"
L secret create a "$T/pw" >/dev/null && L secret create b "$T/pw" >/dev/null
run L secret rm --all
is "$rc/$(grep -c . <<<"$out")/$(L secret ls -q)" "0/2/" "rm --all"

# an image's /run/secrets symlink is resolved inside the container's root
fx_busybox_rootfs "$T/hostile"
mkdir -p "$T/hostile/run" && ln -s ../../../../../../tmp/lrun-secret-escape "$T/hostile/run/secrets"
(cd "$T/hostile" && tar -cf "$T/hostile.tar" .)
L import "$T/hostile.tar" localhost/hostile-secret >/dev/null 2>&1
rm -rf /tmp/lrun-secret-escape
L secret create esc "$T/pw" >/dev/null
run L run --rm --network none --secret esc localhost/hostile-secret cat /tmp/lrun-secret-escape/esc
is "$rc/$out" "0/hunter2" "an image's /run/secrets symlink: followed inside the container's root"
is "$rc/$(test -e /tmp/lrun-secret-escape && echo escaped)" "0/" "… never out of it"
L rm -af >/dev/null

done_testing
