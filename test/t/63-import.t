#!/bin/bash
# lrun import: a tar (plain or compressed; a file, stdin or a URL on
# 127.0.0.1) becomes an image of one layer, with podman's config (created =
# the file's time, so podman and lrun give the same image ID), --change
# and --message; bad input fails with exit 125 and leaves the store as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start
R=$T/store
fx_busybox_rootfs "$T/rootfs" && echo imported >"$T/rootfs/etc/marker" && fx_layer_tar "$T/rootfs" "$T/fs.tar" ||
	bail "fixture"
touch -d @1700000000.5 "$T/fs.tar"
D=$(sha256 "$T/fs.tar") SIZE=$(stat -c %s "$T/fs.tar")
CREATED=2023-11-14T22:13:20.5Z
config() { # CONFIG-MEMBER COMMENT: the config podman writes for fs.tar
	printf '{"created":"%s","architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"/bin/sh -c #(nop) ADD file:%s in /","comment":"%s"}]}' \
		"$CREATED" "$1" "$D" "$CREATED" "$D" "$2"
}
ID=$(config '{}' "imported from tarball" | sha256sum | cut -c1-64)

run lr import "$T/fs.tar"
is "$rc" 0 "import FILE exits 0"
is "$out" "sha256:$ID"$'\n' "stdout: sha256:<image ID>"
is "$err" "Getting image source signatures
Copying blob ${D:0:12} done
Copying config ${ID:0:10} done
Writing manifest to image destination
Storing signatures
" "stderr: podman's progress lines"
stored=$(jq -r --arg id "$ID" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
is "$stored" "$D" "the layer's ID is its DiffID (the tar's digest)"
is "$(jq -r --arg id "$D" '.[] | select(.id == $id) | [."diff-digest", ."diff-size", ."compressed-diff-digest"] | @tsv' \
	"$R/overlay-layers/layers.json")" "sha256:$D	$SIZE	sha256:$D" "the layer's record: digests and size as the tar's"
ok "$([ -s "$R/overlay-layers/$D.tar-split.gz" ]; echo $?)" "the layer has its tar-split"
is "$(lr save "$ID" | tar xO "$D.tar" | sha256sum | cut -c1-64)" "$D" "save rebuilds the imported tar byte for byte"
is "$(lr images --format '{{.Repository}}:{{.Tag}} {{.ID}}')" "<none>:<none> ${ID:0:12}" "an untagged image"
run lr run --rm "$ID" cat /etc/marker
is "$rc:$out" "0:imported"$'\n' "the imported image runs"

if command -v podman >/dev/null; then
	run unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib && exec podman "$@"' podman \
		--root "$T/podman/root" --runroot "$T/podman/run" --storage-driver overlay --tmpdir "$T/podman/tmp" \
		import -q "$T/fs.tar"
	is "$out" "sha256:$ID"$'\n' "podman imports the same file as the same image ID"
else
	skip "podman not installed"
fi

# the same file again: the same image, its layer kept
run lr import "$T/fs.tar" localhost/again:1
is "$rc:$out" "0:sha256:$ID"$'\n' "importing the same file again: the same image"
like "$err" "Copying blob ${D:0:12} skipped: already exists" "… its layer is there already"
is "$(lr images --format '{{.Repository}}:{{.Tag}}')" "localhost/again:1" "… and gets the name"
# a short name goes to localhost/, as podman's
lr import -q "$T/fs.tar" short:1 >/dev/null
is "$(lr images --format '{{.Repository}}:{{.Tag}}' | sort)" "localhost/again:1
localhost/short:1" "import FILE short:1 names localhost/short:1"

# --change and --message
run lr import -q -c 'CMD ["/bin/sh","-c","echo hi"]' -c 'ENV A=b' -m "a message" "$T/fs.tar" localhost/imp:1
cfg='{"Env":["A=b"],"Cmd":["/bin/sh","-c","echo hi"]}'
is "$out" "sha256:$(config "$cfg" "a message" | sha256sum | cut -c1-64)"$'\n' \
	"-c CMD, -c ENV, -m: podman's config (so podman's image ID)"
is "$(lr inspect --format '{{json .Config}}' localhost/imp:1)" "$cfg" "… the settings"
run lr run --rm localhost/imp:1
is "$out" "hi"$'\n' "… CMD runs"
lr import -q -c 'EXPOSE 443/udp' -c 'EXPOSE 80' -c 'VOLUME /data' -c 'VOLUME ["/a","/b"]' -c 'LABEL a=b c="d e"' \
	-c 'WORKDIR /w' -c 'WORKDIR x' -c 'USER app' -c 'STOPSIGNAL SIGINT' -c 'ENTRYPOINT /bin/sh' \
	-c 'ENV A=1 B="2 3"' -c 'ENV C 4 5' -c 'ONBUILD RUN true' -c 'LABEL=d=e' "$T/fs.tar" localhost/all:1 >/dev/null
is "$(lr inspect --format '{{json .Config}}' localhost/all:1)" \
	'{"User":"app","ExposedPorts":{"443/udp":{},"80/tcp":{}},"Env":["A=1","B=2 3","C=4 5"],"Entrypoint":["/bin/sh","-c","/bin/sh"],"Volumes":{"/a":{},"/b":{},"/data":{}},"WorkingDir":"/w/x","Labels":{"a":"b","c":"d e","d":"e"},"StopSignal":"SIGINT","OnBuild":["RUN true"]}' \
	"every --change instruction, as a Containerfile means it"

# stdin, compressed, a URL
run sh -c "'$LRUN' --root '$R' import -q - <'$T/fs.tar'"
like "$out" '^sha256:[0-9a-f]{64}'$'\n' "import - reads stdin"
is "$(lr run --rm "${out:7:64}" cat /etc/marker)" imported "… the image has the files"
gzip -n -c "$T/fs.tar" >"$T/fs.tar.gz" && zstd -q -c "$T/fs.tar" >"$T/fs.tar.zst"
for f in fs.tar.gz fs.tar.zst; do
	id=$(lr import -q "$T/$f") && lr_layer=$(jq -r --arg id "${id#sha256:}" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
	is "$lr_layer" "$D" "import of $f: the layer is the uncompressed tar"
done
mkdir -p "$T/www" && cp "$T/fs.tar" "$T/www/"
PORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport')
busybox httpd -f -p "127.0.0.1:$PORT" -h "$T/www" &
BG_PIDS+=($!)
for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
run lr import -q "http://127.0.0.1:$PORT/fs.tar" localhost/url:1
like "$out" '^sha256:[0-9a-f]{64}'$'\n' "import http://127.0.0.1:PORT/fs.tar"
is "$(lr run --rm localhost/url:1 cat /etc/marker)" imported "… the image has the files"
run lr import -q "http://127.0.0.1:$PORT/nope.tar"
is "$rc" 125 "import of a URL that is not there: exit 125"
like "$err" "^Error: download http://127.0.0.1:$PORT/nope.tar: GET .*: unexpected HTTP status 404" "… says so"

# bad input leaves the store as it was
snap=$(store_snapshot "$R")
fx_busybox_rootfs "$T/other" && echo other >"$T/other/x" && fx_layer_tar "$T/other" "$T/other.tar" || bail "fixture"
head -c $(( $(stat -c %s "$T/other.tar") / 2 )) "$T/other.tar" >"$T/truncated.tar"
run lr import "$T/truncated.tar"
is "$rc" 125 "import of a truncated tar: exit 125"
like "$err" "Error: writing blob: .*Truncated tar archive" "… names the problem"
is "$(store_snapshot "$R")" "$snap" "… the store is as it was"
run lr import -c 'BOGUS x' "$T/fs.tar"
is "$rc:$err" "125:Error: invalid change \"BOGUS x\" - invalid instruction BOGUS"$'\n' "an unknown --change instruction"
run lr import -c 'EXPOSE eighty' "$T/fs.tar"
is "$rc:$err" "125:Error: invalid change \"EXPOSE eighty\": invalid containerPort: eighty"$'\n' "a bad EXPOSE"
run lr import "$T/nope.tar"
is "$rc:$err" "125:Error: open $T/nope.tar: No such file or directory"$'\n' "a missing file"
run lr import
is "$rc" 125 "import without a file: exit 125"
is "$(store_snapshot "$R")" "$snap" "after the failures the store is as it was"

done_testing
