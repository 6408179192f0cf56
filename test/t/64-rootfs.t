#!/bin/bash
# run/create --rootfs: the IMAGE operand is a host directory that is the
# container's root.  DIR:O puts an overlay over it whose writes go with the
# container (DIR unchanged); without :O the container writes into DIR.  The
# record names no image (podman's: image "", ImageName "", Rootfs DIR), rm
# never removes DIR, a missing DIR is podman's error, and the container's
# paths (a volume's destination) resolve inside DIR.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
N="--network none"
D=$T/dir
fx_busybox_rootfs "$D" >/dev/null 2>&1 || bail "fixtures: fx_busybox_rootfs failed"
tree() { (cd "$1" && find . -printf '%p %M %s\n' | LC_ALL=C sort; find . -type f -exec cat {} + | sha256sum); }
before=$(tree "$D")
layers=$(ls "$R/overlay")

# ---------------------------------------------------------------- :O --
run L run --rm $N --rootfs "$D:O" echo hi
is "$rc:$out:$err" "0:hi$nl:" "run --rootfs DIR:O echo hi"
run L run --rm $N --rootfs "$D:O" sh -c 'echo new > /f; echo more >> /etc/passwd; rm /bin/cat; cat /f; ls /bin/cat'
is "$rc:$out:$(tree "$D"):$(ls "$R/overlay")" "1:new$nl:$before:$layers" \
	"the container wrote, deleted and read its writes; DIR is unchanged; --rm took the overlay's layer"

# --------------------------------------------------- -d, exec, logs --
run L run -d --name d $N --rootfs "$D:O" sh -c 'echo started; echo x > /tmp/x; sleep 30'
is "$rc" 0 "run -d --rootfs DIR:O"
wrote() { L exec d test -s /tmp/x 2>/dev/null; }
wait_for 5 wrote
run L exec d sh -c 'cat /tmp/x; echo y > /y; cat /y'
is "$rc:$out:$err" "0:x${nl}y$nl:" "exec sees the container's writes"
run L logs d
is "$rc:$out" "0:started$nl" "logs"
run L ps --format '{{.Image}}|{{.ImageID}}|{{.Names}}'
is "$out" "||d$nl" "ps: IMAGE and IMAGE ID empty, as podman"
run L inspect d --format '{{.Image}}|{{.ImageName}}|{{.Rootfs}}'
is "$rc:$out" "0:||$D$nl" "inspect: Image and ImageName empty, Rootfs the directory (without :O)"
run L rm -f d
is "$rc:$out:$(tree "$D")" "0:d$nl:$before" "rm -f; after exec and rm -f the directory is unchanged"

# ----------------------------------------------------- without :O --
run L create --name w $N --rootfs "$D" sh -c 'echo w > /written; cat /etc/hostname >/dev/null'
is "$rc" 0 "create --rootfs DIR"
is "$(jq -c --arg n w '.[] | select(.names[0] == $n) | [.image, (.metadata | fromjson | ."image-name", ."image-id")]' \
	"$R/overlay-containers/containers.json")" '["","",""]' "the record names no image (podman's image \"\")"
layer=$(ctr_field w .layer)
is "$(jq -r --arg l "$layer" '.[] | select(.id == $l) | .parent // "none"' "$R/overlay-layers/layers.json")" none \
	"its layer has no parent"
run L start -a w
is "$rc:$out" "0:" "start -a"
is "$(cat "$D/written" 2>&1)" w "without :O the write lands in the directory"
run L rm w
is "$rc:$out" "0:w$nl" "rm"
is "$(cat "$D/written" 2>&1):$(ls "$D/bin/busybox")" "w:$D/bin/busybox" "rm leaves the directory and its files"
rm -f "$D/written"

# ------------------------------------------------------------ volumes --
mkdir -p "$T/vol" "$T/host"
run L run --rm $N -v "$T/vol:/data" --rootfs "$D:O" sh -c 'echo v > /data/v'
is "$rc:$(cat "$T/vol/v" 2>&1)" "0:v" "-v binds into the DIR:O container"
ln -s "$T/host" "$D/mnt"
run L run --rm $N -v "$T/vol:/mnt/v" --rootfs "$D" sh -c 'cat /mnt/v/v'
is "$rc:$out:$(ls -A "$T/host")" "0:v$nl:" "a destination under a symlink of DIR is mounted inside DIR, not on the host"
rm -rf "$D$T"
rm -f "$D/mnt"
before=$(tree "$D") # the mount points the first runs without :O made in it stay

# --------------------------------- cp, export, mount, container stopped --
run L run --name co $N --rootfs "$D:O" sh -c 'echo written > /f; rm /etc/group'
echo in > "$T/in"
run L cp "$T/in" co:/in
is "$rc:$(L cp co:/f - | tar xO):$(L cp co:/in - | tar xO):$(tree "$D")" "0:written:in:$before" \
	"cp out of and into a stopped DIR:O container: its layer over DIR, DIR as it was"
run L create --name cw $N --rootfs "$D" true
is "$(L cp cw:/etc/group - | tar xO | head -1)" "root:x:0:" "cp out of a stopped --rootfs DIR container: DIR itself"
# export: what the container sees
is "$(L export co | tar t | grep -x -e f -e etc/group -e bin/busybox | tr '\n' ' ')" "bin/busybox f " \
	"export of a DIR:O container: DIR with the layer's writes and deletions"
is "$(L export cw | tar t | grep -x -e etc/group -e bin/busybox | tr '\n' ' ')" "bin/busybox etc/group " \
	"export of a --rootfs DIR container: DIR"
# mount: DIR:O's layer over DIR; DIR itself (podman's Rootfs)
p=$(L mount co)
is "$(cat "$p/f" 2>&1):$(ls "$p/bin/busybox" 2>&1):$(L unmount co >/dev/null; echo $?)$(mounts_below "$p")" "written:$p/bin/busybox:0" \
	"mount of a DIR:O container: its layer over DIR; unmount"
is "$(L mount cw)" "$D" "mount of a --rootfs DIR container: DIR"
run L commit co img
is "$rc:$out:$err" "125::Error: cannot commit a container that uses an exploded rootfs$nl" "commit: podman's refusal"
L rm co cw >/dev/null

# ------------------------------------------------------------- errors --
for op in run create; do
	run L $op $N --rootfs "$T/nope" echo hi
	is "$rc:$out:$err" "125::Error: running container create option: stat $T/nope: no such file or directory$nl" \
		"$op --rootfs of a missing directory: podman's error, 125"
done
run L run $N --rootfs "$T/nope:O" echo hi
is "$rc:$err" "125:Error: running container create option: stat $T/nope: no such file or directory$nl" \
	"the same with :O"
run L create $N --rootfs "$D"
is "$rc:$err:$(jq length "$R/overlay-containers/containers.json"):$(tree "$D")" \
	"125:Error: no command or entrypoint provided, and no CMD or ENTRYPOINT from image$nl:0:$before" \
	"no command: podman's error; no container left behind, the directory as it was"

# an OCI bundle cannot name lrun's own root annotation
B=$T/bundle
mkdir -p "$B" && cp -a "$D" "$B/rootfs" && "$LRUN" --root "$T/state" spec --bundle "$B"
jq --arg d "$D" '.annotations["lrun.rootfs"] = $d | .process.terminal = false' "$B/config.json" >"$B/c.json" &&
	mv "$B/c.json" "$B/config.json"
run $TO "$LRUN" --root "$T/state" run --bundle "$B" o1
is "$rc:$err" "1:lrun: $B/config.json: the annotation lrun.rootfs is lrun's own$nl" \
	"OCI mode: a bundle's lrun.rootfs annotation is refused"

done_testing
