#!/bin/bash
# Global options (--log-level, -D, --noout, help COMMAND), info and version
# in podman's structure, container/image exists, start/stop/kill/restart/rm
# with --all and --filter, kill then start, ps --filter/--sort, rmi -a,
# --label and --restart kept and shown.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# ------------------------------------------------------ global options --
run L --log-level=telepathic info
is "$rc" 1 "--log-level with an unknown level: exit 1"
like "$err" '^Log Level "telepathic" is not supported' "--log-level: podman's message"
run L --log-level=debug version --format '{{.Client.Version}}'
like "$err" ' level=debug ' "--log-level=debug: debug lines"
like "$err" ' level=info ' "--log-level=debug: info lines"
run L --log-level=info version
[[ $err != *" level=debug "* && $err == *" level=info "* ]]; ok $? "--log-level=info: info, no debug"
run L -D version
like "$err" ' level=debug ' "-D: debug lines"
run L --debug --log-level=panic info
is "$rc:$err" "1:Setting --log-level and --debug is not allowed$nl" "--debug with --log-level: exit 1"
run L --log-level=warn version
is "$err" "" "--log-level=warn: no log lines"
run L --noout version
is "$rc:$out" "0:" "--noout: nothing on stdout"
run L help rm
like "$rc:$out" "^0:Remove one or more containers${nl}" "help rm: rm's help"
run L --help
like "$out" "${nl}Available Commands:${nl}" "--help: the commands"

# --------------------------------------------------------- info, version --
run L info --format '{{.Host.Arch}}|{{.Store.GraphRoot}}|{{.Store.GraphDriverName}}|{{.Host.OCIRuntime.Name}}|{{.Store.ImageStore.Number}}'
arch=$(uname -m); [ "$arch" = x86_64 ] && arch=amd64; [ "$arch" = aarch64 ] && arch=arm64
is "$rc:$out" "0:$arch|$R|overlay|lrun|1$nl" "info --format: podman's field names"
run L info --format json
is "$(jq -r '[.host.os, .store.graphRoot, (.store.imageStore.number|tostring), .host.ociRuntime.name] | join(" ")' <<<"$out")" \
	"linux $R 1 lrun" "info --format json: podman's keys"
run L info
like "$out" "^host:${nl}  arch: $arch${nl}" "info: YAML, host first"
like "$out" "${nl}store:${nl}" "info: store"
like "$out" "${nl}  graphRoot: $R${nl}" "info: graphRoot"
like "$out" "${nl}  imageStore:${nl}    number: 1${nl}" "info: imageStore number"
run L version --format '{{.Client.Version}} {{.Server.Os}}'
is "$out" "$(L version --format "{{.Client.Version}}") linux$nl" "version --format"
run L version
like "$out" "^Version: +[0-9.]+${nl}API Version: " "version: podman's lines"
run L version --format '{{.Nope}}'
is "$rc" 125 "version --format with an unknown field: 125"

# -------------------------------------------------------------- exists --
run L image exists "$IMG"; is "$rc" 0 "image exists: 0"
run L image exists nosuch:1; is "$rc:$out:$err" "1::" "image exists of nothing: 1, silent"
L create --name c0 "$IMG" true >/dev/null
run L container exists c0; is "$rc" 0 "container exists: 0"
run L container exists nosuch; is "$rc:$out:$err" "1::" "container exists of nothing: 1, silent"

# ------------------------------------------------- lifecycle on several --
L rm -a -f >/dev/null
L run -d --name s1 --label team=a --restart=always "$IMG" sleep 60 >/dev/null
L run -d --name s2 --label team=b "$IMG" sleep 60 >/dev/null
L create --name c1 "$IMG" true >/dev/null
id1=$(L inspect --format '{{.Id}}' s1) id2=$(L inspect --format '{{.Id}}' s2) idc=$(L inspect --format '{{.Id}}' c1)
run L inspect --format '{{.HostConfig.RestartPolicy.Name}} {{.Config.Labels.team}} {{index .Config.Labels "team"}}' s1
is "$out" "always a a$nl" "--restart and --label kept: inspect shows them"
run L ps --filter label=team=a --format '{{.Names}}'
is "$out" "s1$nl" "ps --filter label=KEY=VALUE"
run L ps --filter label=team --format '{{.Names}}' --sort names
is "$out" "s1${nl}s2$nl" "ps --filter label=KEY --sort names"
run L ps -a --filter status=created --format '{{.Names}}'
is "$out" "c1$nl" "ps --filter status=created"
run L ps --filter status=created --format '{{.Names}}'
is "$out" "c1$nl" "ps --filter status=created without -a: a status filter looks at all (docker's, podman's)"
run L ps -a --filter name=s --filter name=c1 --sort names --format '{{.Names}}'
is "$out" "c1${nl}s1${nl}s2$nl" "ps: two filters of one key are alternatives"
run L ps -a --filter name=s --filter status=created --format '{{.Names}}'
is "$out" "" "ps: filters of two keys must all match"
run L ps -a --filter id="${id2:0:5}" --format '{{.Names}}'
is "$out" "s2$nl" "ps --filter id=PREFIX"
run L ps -a --filter ancestor="$IMG" --format '{{.Names}}' --sort names
is "$out" "c1${nl}s1${nl}s2$nl" "ps --filter ancestor=IMAGE"
run L ps --filter bogus=1
is "$rc:$err" "125:Error: bogus is an invalid filter$nl" "ps --filter of an unknown key: 125"
run L ps --sort bogus
is "$rc" 125 "ps --sort of an unknown key: 125"
run L stop --filter label=team=b -t 0
is "$rc:$out" "0:$id2$nl" "stop --filter: only the match, by ID"
run L stop -a -t 0
is "$rc:$out" "0:$id1$nl" "stop --all: the running ones"
run L start --all
is "$rc:$(sort <<<"${out%$nl}")" "0:$(printf '%s\n' "$id1" "$id2" "$idc" | sort)" "start --all: every container not running"
run L start --all c1
is "$rc:$err" "125:Error: either start all containers or the container(s) provided in the arguments$nl" "start --all NAME: podman's error"
L wait c1 >/dev/null
run L start --filter restart-policy=always s1 c1
is "$rc:$out" "0:s1$nl" "start --filter restart-policy=always NAMES: the match only"
run L start --filter restart-policy=fake s1
is "$rc:$err" "125:Error: fake invalid restart policy$nl" "an invalid restart policy filter: podman's error"
run L kill s1
is "$rc:$out" "0:s1$nl" "kill"
run L start s1
is "$rc:$out" "0:s1$nl" "start right after kill works"
is "$(L inspect --format '{{.State.Status}}' s1)" "running" "and it runs"
pid=$(L inspect --format '{{.State.Pid}}' s2)
run L restart -t 0 s2
is "$rc:$out" "0:s2$nl" "restart"
pid2=$(L inspect --format '{{.State.Status}} {{.State.Pid}}' s2)
[ "${pid2#running }" != "$pid" ] && [ "${pid2%% *}" = running ]; ok $? "restart: running again, a new process ($pid -> $pid2)"
run L stop --ignore nosuch s1 -t 0
is "$rc:$out" "0:s1$nl" "stop --ignore: a missing container is no error"
run L stop nosuch
is "$rc" 125 "stop of a missing container: 125"
run L kill -a
is "$rc:$out" "0:$id2$nl" "kill --all: the running ones, by ID"
run L rm -a --filter status=created
is "$rc:$out" "0:" "rm --filter status=created: none left created"
run L rm --all --filter name=s1
is "$rc:$out" "0:$id1$nl" "rm --all --filter name="
run L run --restart=bogus "$IMG" true
is "$rc" 125 "run --restart=bogus: 125"

# ------------------------------------------------------- run details --
run L run --rm "$IMG" sh -c 'stat -c %s /run/.containerenv; echo $container'
is "$rc:$out" "0:0${nl}lrun$nl" "/run/.containerenv exists, empty; container=lrun in the environment"
run L run --rm --privileged --name pv "$IMG" sh -c '. /run/.containerenv; echo $engine $name $image $id $imageid $rootless'
like "$out" "^lrun-[0-9.]+ pv $IMG [0-9a-f]{64} [0-9a-f]{64} 0$nl$" "privileged: /run/.containerenv names the container"
run L run --rm -e container=other "$IMG" sh -c 'echo $container'
is "$out" "other$nl" "-e container=... wins"
L run -d --name rp "$IMG" sleep 60 >/dev/null
old=$(L inspect --format '{{.Id}}' rp)
run L run -d --replace --name rp "$IMG" sleep 60
is "$rc" 0 "run --replace with a running container of that name"
[ "$(L inspect --format '{{.Id}}' rp)" != "$old" ] && ! L container exists "$old"; ok $? "--replace: the old one is gone, the name is the new one's"
run L ps --filter name=rp --format '{{.Names}}'
is "$out" "rp$nl" "ps --filter lists running ones only without -a"
L stop -t 0 rp >/dev/null
run L ps --filter name=rp --format '{{.Names}}'
is "$out" "" "ps --filter without -a: a stopped match is not listed"
run L container exists --external rp
is "$rc" 0 "container exists --external"
L create --name bad "$IMG" /no/such/command >/dev/null
run L start bad
is "$rc" 125 "start of a container whose command is missing: 125 (run: 127)"
run L run --rm "$IMG" /no/such/command
is "$rc" 127 "run of a missing command: 127"
run L run --rm "$IMG" /etc
is "$rc" 126 "run of a directory: 126"

# --------------------------------------------------------------- rmi -a --
L rm -a -f >/dev/null
L tag "$IMG" localhost/second:1
run L rmi -a
like "$rc:$out" "^0:Untagged: " "rmi -a: exit 0"
is "$(L images -q)" "" "rmi -a: no image left"
run L rmi -a
is "$rc:$out" "0:" "rmi -a with no images: nothing to do"
run L rmi --ignore nosuch:1
is "$rc:$err" "0:" "rmi --ignore of a missing image: exit 0"

done_testing
