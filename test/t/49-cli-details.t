#!/bin/bash
# Details a podman user sees: a mistyped command gets podman's "Did you
# mean this?", the command groups (image, container, volume, system) print
# their help, --entrypoint takes a JSON array, -v destinations that clash
# (also as /data and /data/) are refused with podman's message, and ps
# shows the image name the container was created from.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
store_start servidorweb
R=$T/store V1=localhost:5000/servidorweb:v1
lr load -q -i "$F/v1.tar" >/dev/null || bail "cannot load the fixture"

# --- mistyped commands -------------------------------------------------------------
run lr imags
is "$rc:$out:$err" "125::Error: unrecognized command \`lrun imags\`

Did you mean this?
	image
	images

Try 'lrun --help' for more information
" "a mistyped command: podman's suggestions"
run lr xyzzy
is "$rc:$err" "125:Error: unrecognized command \`lrun xyzzy\`
Try 'lrun --help' for more information
" "nothing close: no suggestion"
run lr image lss
is "$rc:$err" "125:Error: unrecognized command \`lrun image lss\`
Try 'lrun image --help' for more information
" "a mistyped subcommand points at the group's help"

# --- the groups' help ----------------------------------------------------------------
for g in image container volume system; do
	run lr $g --help
	is "$rc:$(printf '%s' "$out" | sed -n '4,9p')" "0:  Manage $( [ $g = system ] && echo 'lrun (disk usage, information, check, repair, prune)' || echo ${g}s)

Usage:
  lrun $g [command]

Available Commands:" "$g --help: podman's shape"
done
is "$(lr image --help | sed -n '/^Available/,$p' | awk '{print $1}' | tr '\n' ' ')" \
	"Available build diff exists history import inspect ls load mount prune pull push rm save sign tag tree umount untag " \
	"image --help lists its commands, an alias once"
is "$(lr help system | sed -n '/^Available/,$p' | awk '{print $1}' | tr '\n' ' ')" "Available df check repair info events prune " "help system: the same"
run lr volume
is "$rc:$err:$(printf '%s' "$out" | head -1)" "125:Error: missing command 'lrun volume COMMAND'
:Manage volumes" "a group without a command: its help, then the error"

# --- --entrypoint ----------------------------------------------------------------------
run lr run --rm --entrypoint '["/bin/echo", "a  b"]' $V1 c
is "$rc:$out" "0:a  b c
" "--entrypoint as a JSON array: the program and its arguments"
run lr run --rm --entrypoint /bin/echo $V1 c
is "$rc:$out" "0:c
" "--entrypoint as a word"
run lr run --rm --entrypoint '' $V1 /bin/echo hi
is "$rc:$out" "0:hi
" "--entrypoint '': none, the command runs"
run lr run --rm --entrypoint '["/bin/echo"' $V1 c
is "$rc" 127 "text that is not a JSON array is one program name (not found: 127)"
cid=$(lr create --entrypoint '["/bin/echo", "x"]' $V1)
is "$(lr inspect --format '{{.Config.Entrypoint}}|{{.Path}}|{{.Args}}' "$cid")" "/bin/echo x|/bin/echo|[x]" \
	"inspect shows the JSON entrypoint's words"
lr rm "$cid" >/dev/null

# --- duplicate mount destinations --------------------------------------------------------
mkdir -p "$T/a" "$T/b"
run lr run --rm -v "$T/a:/data/" -v "$T/b:/data" $V1 true
is "$rc:$err" "125:Error: \"/data\": duplicate mount destination
" "-v on /data/ and /data clash (podman cleans the path)"
run lr run --rm -v "$T/a:/data" --tmpfs /data// $V1 true
is "$rc:$err" "125:Error: /data: duplicate mount destination
" "-v and --tmpfs on one destination"
run lr run --rm -v "$T/a:/data" -v "$T/a:/data/" $V1 true
is "$rc" 0 "the same mount twice is one"

# --- the IMAGE column: the name the container was created from ----------------------------
lr tag $V1 a.b/other:x
lr create --name by-tag other:x true >/dev/null
lr create --name by-id ${V1:0:0}53295387bff9 true >/dev/null
lr create --name by-name $V1 true >/dev/null
is "$(lr ps -a --format '{{.Names}} {{.Image}}' | sort)" "by-id $V1
by-name $V1
by-tag a.b/other:x" "ps: the name given (an ID: the image's first name)"
lr rm -a -f >/dev/null

done_testing
