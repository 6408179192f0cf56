#!/bin/bash
# rename: the record's name and lrun.json's, podman's messages and codes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

ID1=$(L create --name rn1 --network none "$IMG" sh -c 'echo ran')
L create --name rn2 --network none "$IMG" true >/dev/null
run L rename rn1 rn2
is "$rc:$err" "125:Error: renaming container $ID1: name rn2 already in use, cannot rename container $ID1: container already exists$nl" \
	"rename to a name in use: 125, podman's message"
run L rename rn1 'bad name'
is "$rc:$err" "125:Error: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument$nl" "an invalid name: 125"
run L rename nosuch x
is "$rc:$err" "125:Error: no container with name or ID \"nosuch\" found: no such container$nl" "rename of nothing: 125"
run L rename rn1
is "$rc:$err" "125:Error: accepts 2 arg(s), received 1$nl" "one operand: 125"
run L rename rn1 rn3
is "$rc:$out:$err" "0::" "rename rn1 rn3: silent, 0"
is "$(L ps -a --filter id="$ID1" --format '{{.Names}}')" "rn3" "  ps shows the new name"
is "$(jq -r .name "$R/overlay-containers/$ID1/userdata/lrun.json")" "rn3" "  lrun.json too"
run L container rename rn3 rn1
is "$rc:$(L start -a rn1)" "0:ran" "container rename: the old name is free again, the container starts under it"
run L create --name rn3 --network none "$IMG" true
is "$rc" 0 "  and the name it left is free"

done_testing
