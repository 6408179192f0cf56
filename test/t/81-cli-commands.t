#!/bin/bash
# The commands as podman prints them: `table` templates laid out by Go's
# tabwriter, names history, ps's order, info's fields and the global
# --storage-opt/--storage-driver/--volumepath, duplicate -v messages.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# --- names history: each name the image has goes first in turn (containers/storage)
L tag "$IMG" hist-a >/dev/null
L rmi hist-a >/dev/null
is "$(L images "$IMG" --format '{{.History}}')" "localhost:5000/servidorweb:v1, localhost/hist-a:latest" \
	"History after tag+rmi: the current name first"
L tag "$IMG" hist-b >/dev/null
L rmi hist-b >/dev/null
is "$(L images "$IMG" --format '{{.History}}')" \
	"localhost:5000/servidorweb:v1, localhost/hist-b:latest, localhost/hist-a:latest" "… then the newer untagged name"

# --- table templates: every space is a column break, columns as wide as their widest cell + 2 (at least 12)
L tag "$IMG" a.b/c:d
L tag "$IMG" zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx:y7Cayq2d37cNsV2
ID=$(L inspect --format '{{.ID}}' "$IMG")
run L images --sort repository --format 'table {{.Repository}} {{.Tag}} {{.ID}}'
is "$rc:$out" "0:REPOSITORY                      TAG              IMAGE ID
a.b/c                           d                ${ID:0:12}
localhost:5000/servidorweb      v1               ${ID:0:12}
zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx  y7Cayq2d37cNsV2  ${ID:0:12}$nl" "table: columns aligned as podman's tabwriter"
run L images --sort repository --format 'table {{.Repository}}:\t{{ .Tag }}'
is "$out" "REPOSITORY:                      TAG
a.b/c:                           d
localhost:5000/servidorweb:      v1
zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx:  y7Cayq2d37cNsV2$nl" "table: text joins its column, spaces inside actions are fine"
run L images --sort repository --format '{{.Repository}}\t{{.Tag}}\n'
is "$out" "a.b/c	d
localhost:5000/servidorweb	v1
zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx	y7Cayq2d37cNsV2$nl" "no table: tabs kept, a template's own newline ends the row (no blank line)"
run L images --sort repository --format 'table {{.Tag}}{{if eq .Tag "d"}}\tshort{{end}}\tx'
is "$out" "TAG              x
d                short       x
v1               x
y7Cayq2d37cNsV2  x$nl" "tabwriter: a column is as wide as the run of lines that have it (at least 12)"
L rmi a.b/c:d zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx:y7Cayq2d37cNsV2 >/dev/null

# --- ps: oldest first, as podman's --sort created (its default)
L create --name old --network none "$IMG" true >/dev/null
sleep 1.1
L create --name new --network none "$IMG" true >/dev/null
is "$(L ps -a --format '{{.Names}}' | tr '\n' ' ')" "old new " "ps -a: oldest first"
is "$(L ps -a --sort created --format '{{.Names}}' | tr '\n' ' ')" "old new " "ps --sort created: oldest first"
is "$(L ps -a --sort names --format '{{.Names}}' | tr '\n' ' ')" "new old " "ps --sort names"
for n in s1 s2 s3; do L create --name $n --network none "$IMG" true >/dev/null; done
is "$(L ps -a --format '{{.Names}}' | tr '\n' ' ')" "old new s1 s2 s3 " "… made in one second: in the order made"
is "$(L ps -a --last 2 --format '{{.Names}}' | tr '\n' ' ')" "s2 s3 " "--last 2: the two newest"
L rm old new s1 s2 s3 >/dev/null

# --- rm and containers that need another (--network container:)
A=$(L create --network none "$IMG" true)
B=$(L create --network container:$A "$IMG" true)
C=$(L create --network container:$B "$IMG" true)
run L rm $A
is "$rc:$out:$err" "125::Error: container $A has dependent containers which must be removed before it: $B: container already exists$nl" \
	"rm of a container another needs: podman's refusal"
run L rm $B $A
is "$rc:$(L ps -aq --no-trunc | sort | tr '\n' ' ')" "125:$(printf '%s\n' $A $B $C | sort | tr '\n' ' ')" \
	"rm of two while a third needs one of them: both stay"
run L rm --depend $A
is "$rc:$out" "0:$C$nl$B$nl$A$nl" "rm --depend: its dependents first, deepest first"
A=$(L create --network none "$IMG" true)
B=$(L create --network container:$A "$IMG" true)
run L rm -a
is "$rc:$out:$(L ps -aq)" "0:$B$nl$A$nl:" "rm -a: a dependent before what it needs"

# --- info: podman's keys, and the global flags about the store
run L info --format '{{.Host.BuildahVersion}} {{.Host.Conmon.Package}} {{.Store.GraphDriverName}}'
is "$rc:$out" "0:$("$LRUN" version --format '{{.Client.Version}}') lrun overlay$nl" "info: buildahVersion (lrun builds), conmon (lrun monitors)"
is "$(L info --format json | jq -r .host.conmon.path)" "$(readlink -f "$LRUN")" "info json: host.conmon.path is lrun"
is "$(CONTAINERS_STORAGE_CONF=$T/s.conf L info --format '{{.Store.ConfigFile}}')" "$T/s.conf" \
	"info: store.configFile is the storage.conf in use"
run L --storage-opt '' info --format '{{.Store.GraphOptions}}'
is "$rc:$out" "0:map[]$nl" "--storage-opt '': no options"
run L --storage-opt overlay.mountopt=nodev info
is "$rc:$err" "125:Error: storage option \"overlay.mountopt=nodev\": lrun's overlay driver takes no options$nl" \
	"--storage-opt with an option: a clear error"
run $TO "$LRUN" --storage-driver=vfs --root "$T/empty" images
is "$rc:$out" "0:REPOSITORY  TAG         IMAGE ID    CREATED     SIZE$nl" "--storage-driver=vfs: the store is read"
run $TO "$LRUN" --storage-driver=vfs --root "$T/empty" import "$T/nothing.tar" x
is "$rc:$err" "125:Error: storage driver \"vfs\": lrun keeps images with the overlay driver only$nl" "… never written"
run L --volumepath "$T/vols" info --format '{{.Store.VolumePath}}'
is "$rc:$out" "0:$T/vols$nl" "--volumepath: info says it"
L --volumepath "$T/vols" volume create vp >/dev/null
L --volumepath "$T/vols" run --rm --network none -v vp:/d "$IMG" sh -c 'echo in > /d/f'
is "$(cat "$T/vols/vp/_data/f" 2>&1):$(L volume ls -q)" "in:" "--volumepath: volumes live there (and not under the root)"
run L --volumepath rel info
is "$rc:$err" "125:Error: --volumepath \"rel\" must be an absolute path$nl" "--volumepath must be absolute"

# --- podman's other global options: --runroot/--tmpdir accepted, --cgroup-manager, --events-backend
run L --runroot "$T/rr" --tmpdir "$T/td" --syslog --cgroup-manager cgroupfs --events-backend file \
	run --rm --network none "$IMG" echo podman-globals
is "$rc:$out:$err" "0:podman-globals${nl}:" "--runroot --tmpdir --syslog --cgroup-manager cgroupfs --events-backend file: a podman command line runs"
run L --runroot="$T/rr" --cgroup-manager=cgroupfs ps -a --format '{{.Names}}' --filter name=nosuchname
is "$rc:$out:$err" "0::" "… with --opt=value, before a command runc has too (ps): podman's ps, not runc's"
run L --cgroup-manager systemd ps
is "$rc:$err" "125:Error: cgroup manager \"systemd\": lrun manages the container's cgroups itself (cgroupfs)$nl" \
	"--cgroup-manager systemd: a clear error"
run L --cgroup-manager cgroupfs run --rm --network none "$IMG" echo cg
is "$rc:$out" "0:cg$nl" "--cgroup-manager alone before podman's run: podman's run (runc's would need a bundle)"
run L --runroot "$T/rr" --cgroup-manager systemd ps
is "$rc:$err" "125:Error: cgroup manager \"systemd\": lrun manages the container's cgroups itself (cgroupfs)$nl" \
	"--cgroup-manager systemd: a clear error"
run L --runroot "$T/rr" --cgroup-manager bogus ps
is "$rc:$err" "125:Error: configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument$nl" \
	"--cgroup-manager bogus: podman's error"
run L --events-backend bogus ps
is "$rc:$err" "125:Error: configuring runtime: \"bogus\" is not a valid events backend: invalid argument$nl" \
	"--events-backend bogus: podman's error"
n0=$(L events --stream=false | wc -l)
L --events-backend none run --rm --network none "$IMG" true
L --events-backend none volume create evnone >/dev/null
is "$(L events --stream=false | wc -l)" "$n0" "--events-backend none: the run and the volume left no event"
run L --events-backend none events --stream=false
is "$rc:$err" "125:Error: cannot read events with the \"none\" backend$nl" "… and events refuses to read, as podman"
L volume rm evnone >/dev/null
n0=$(L events --stream=false | wc -l)
L run --rm --network none "$IMG" true
is "$(L events --stream=false --format '{{.Status}}' | tail -n +$((n0 + 1)) | tr '\n' ' ')" \
	"create pull init start attach died remove " "without it the run's events are kept"
run L --bogus ps
is "$rc:$err" "125:Error: unknown flag: --bogus${nl}See 'lrun --help'$nl" "an unknown global flag: podman's message (one space)"

# --- volume commands on the flag tables: flags anywhere, --help does nothing else
run L volume create vf1 --label a=b
is "$rc:$out" "0:vf1$nl" "volume create NAME --label: a flag after the name"
is "$(L volume ls --format '{{.Name}} {{.Labels}}' -n)" "vf1 map[a:b]" "volume ls --format -n"
is "$(L volume inspect vf1 --format '{{.Name}}')" "vf1" "volume inspect NAME --format"
run L volume create vf2 --help
is "$rc:$(L volume exists vf2; echo $?)" "0:1" "volume create --help: nothing made"
like "$out" "^Create a new volume$nl${nl}Usage:$nl  lrun volume create \[options\] \[NAME\]" "… its help printed"
run L volume rm vf1 --bogus
is "$rc:$err" "125:Error: unknown flag: --bogus${nl}See 'lrun volume rm --help'$nl" "an unknown flag: podman's error"
run L volume ls extra
is "$rc:$err" "125:Error: \`lrun volume ls\` takes no arguments$nl" "volume ls takes no arguments"
run L volume rm vf1 -f
is "$rc:$out:$(L volume ls -q)" "0:vf1$nl:" "volume rm NAME -f"

# --- system prune removes the networks no container uses (podman's "Deleted Networks")
L network create pn1 >/dev/null
L network create pn2 --label k=v >/dev/null
run L system prune -f --filter label=k=v
is "$rc:$out" "0:Deleted Networks${nl}pn2${nl}Total reclaimed space: 0B$nl" "system prune --filter label=: that network"
run L system prune -f
is "$rc:$out:$(L network ls --format '{{.Name}}' | grep -c pn)" "0:Deleted Networks${nl}pn1${nl}Total reclaimed space: 0B$nl:0" \
	"system prune: every unused network"

# --- two -v on one destination: podman quotes it only when they differ before cleaning
mkdir -p "$T/a" "$T/b"
run L run --rm -v "$T/a:$T/a" -v "$T/b:$T/a" "$IMG" true
is "$rc:$err" "125:Error: $T/a: duplicate mount destination$nl" "two -v on one destination: podman's message"
run L run --rm -v vol1:/vol1 -v vol2:/vol1 "$IMG" true
is "$rc:$err" "125:Error: /vol1: duplicate mount destination$nl" "… named volumes too"
run L run --rm -v "$T/a:/d/" -v "$T/b:/d" "$IMG" true
is "$rc:$err" "125:Error: \"/d\": duplicate mount destination$nl" "/d/ and /d: quoted, as podman's second check"

done_testing
