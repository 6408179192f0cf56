#!/bin/bash
# --format as podman renders Go templates (fields, pipes, functions, if,
# range, with, variables, errors), and container inspect in podman's shape.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
IID=$(L images -q --no-trunc | head -1); IID=${IID#sha256:}

# f TEMPLATE EXPECTED NAME: image inspect --format TEMPLATE of $IMG
f() { run L image inspect --format "$1" "$IMG"; is "$rc:$out" "0:$2$nl" "$3"; }
f '{{.Id}}' "$IID" "a field"
f 'id={{truncate .Id 12}}.' "id=${IID:0:12}." "truncate, text around an action"
f '{{json .RepoTags}}' '["'"$IMG"'"]' "json of a list"
f '{{.RepoTags}}' "[$IMG]" "a list as Go prints it"
f '{{index .RepoTags 0 | upper}}' "$(tr a-z A-Z <<<"$IMG")" "index, then a pipe into upper"
f '{{lower "AbC"}} {{title "ab cd"}}' "abc Ab Cd" "lower, title"
f '{{join .RepoTags ","}}|{{len .RepoTags}}' "$IMG|1" "join, len"
f '{{printf "%-6s|%3d|%q" .Os 7 "x"}}' 'linux |  7|"x"' "printf with widths"
f '{{if eq .Os "linux"}}L{{else if .Os}}O{{else}}N{{end}}' "L" "if eq"
f '{{if eq .Os "x"}}L{{else if .Os}}O{{else}}N{{end}}' "O" "else if"
f '{{if not .Os}}N{{else}}Y{{end}}{{if and .Os .Id}}A{{end}}{{if or "" .Os}}O{{end}}' "YAO" "not, and, or"
f '{{range .RepoTags}}[{{.}}]{{end}}' "[$IMG]" "range over a list"
f '{{range $i, $e := .RepoTags}}{{$i}}={{$e}}{{end}}' "0=$IMG" "range with index and element variables"
f '{{$x := .Os}}{{$x}}/{{$.Os}}' "linux/linux" "variables and \$"
f '{{with .Config}}{{index .Cmd 0}}{{end}}{{with ""}}x{{else}}-{{end}}' "/bin/busybox-" "with, with's else"
f '{{- .Os -}}   x' "linuxx" "trim markers"
f '{{"\n"}}' "$nl" "a quoted newline"
f '{{.Os}}\t{{.Architecture}}' "linux	amd64" "\\t in the text is a tab"
f '{{(index .RepoTags 0)}}' "$IMG" "parentheses"
run L image inspect --format '{{.XYZ}}' "$IMG"
is "$rc" 125 "an unknown field: exit 125"
like "$err" "^Error: template: can't evaluate field XYZ" "an unknown field: the error names it"
is "$out" "" "an unknown field: no output"
run L image inspect --format '{{bogus .Os}}' "$IMG"
is "$rc:$err" "125:Error: template: function \"bogus\" not defined$nl" "an unknown function: 125"
run L image inspect --format '{{.Os' "$IMG"
is "$rc:$err" "125:Error: template: unclosed action$nl" "an unclosed action: 125"
run L image inspect --format '{{if .Os}}x' "$IMG"
is "$rc:$err" "125:Error: template: unexpected EOF$nl" "if without end: 125"
run L images --format 'table {{.Repository}}\t{{.Tag|upper}}'
is "$out" "$(printf 'REPOSITORY\tTAG\n%s\tV1\n' "${IMG%:*}" | tabw)$nl" "table with a pipe: headers, rows"
run L images --format '{{.Bogus}}'
is "$rc" 125 "images --format with an unknown field: 125"

# ---------------------------------------------------- container inspect --
L run -d --name web -v "$T:/mnt:ro" "$IMG" sleep 60 >/dev/null
ID=$(L ps -q --no-trunc)
run L inspect --format '{{.Id}} {{.Name}} {{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.Path}} {{.Args}}' web
is "$out" "$ID web running true 0 sleep [60]$nl" "inspect CTR: Id, Name, State, Path, Args"
run L container inspect --format '{{.ImageName}} {{.Image}} {{.Config.Cmd}} {{.HostConfig.LogConfig.Type}}' web
is "$out" "$IMG $IID [sleep 60] k8s-file$nl" "container inspect: ImageName, Image, Config.Cmd, LogConfig"
run L inspect --format '{{.Config.Labels.nope}} {{range .ExecIDs}}x{{else}}none{{end}}' web
is "$out" "<no value> none$nl" "a missing map key prints <no value>; range's else"
run L inspect --format '{{(index .Mounts 0).Type}} {{(index .Mounts 0).Source}} {{(index .Mounts 0).Destination}} {{(index .Mounts 0).RW}}' web
is "$out" "bind $T /mnt false$nl" "inspect: Mounts"
pid=$(L inspect --format '{{.State.Pid}}' web)
is "$(tr '\0' ' ' </proc/$pid/cmdline)" "sleep 60 " "State.Pid is the container's process"
run L inspect web
is "$(jq -r '.[0] | [.Id, .State.Status, .Config.Tty, .HostConfig.AutoRemove, (.GraphDriver.Name)] | @tsv' <<<"$out")" \
	"$ID	running	false	false	overlay" "inspect CTR: JSON in podman's shape"
is "$(jq -r '.[0] | has("SizeRw")' <<<"$out")" "false" "no SizeRw without --size"
run L container inspect --size --format '{{.SizeRw}} {{gt .SizeRootFs 0}}' web
like "$out" "^[0-9]+ true$nl$" "--size: SizeRw and SizeRootFs"
L kill web >/dev/null; L wait web >/dev/null
run L inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}' web
is "$out" "exited 137 0$nl" "after kill: exited 137, no pid"
run L inspect --type image --format '{{.Id}}' "$IMG"
is "$out" "$IID$nl" "inspect --type image"
run L container inspect "$IMG"
is "$rc:$out:$err" "125:[]$nl:Error: no such container $IMG$nl" "container inspect of an image: no such container"
run L inspect nosuch
is "$rc:$err" "125:Error: inspecting object: no such object: \"nosuch\"$nl" "inspect of nothing: 125"
run L inspect --format '{{.Nope}}' web
is "$rc" 125 "container inspect with an unknown field: 125"

done_testing
