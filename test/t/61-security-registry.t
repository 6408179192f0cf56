#!/bin/bash
# Security against a hostile registry (issue 10): each check runs
# test/lib/hostile-registry.py on 127.0.0.1 (or in a network namespace of
# its own) performing one attack, and asserts what lrun sent and did.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/registry.sh"
command -v python3 >/dev/null || skip_all "no python3 for the hostile registry"
lrun_tmp
R=$T/store HOSTILE=$here/../lib/hostile-registry.py
export HOSTILE_LOG=$T/hostile.log

# hostile MODE PORT... [-- ARG...]: start the server, wait until it listens
hostile() {
	rm -f "$T/ready" "$HOSTILE_LOG"
	HOSTILE_READY=$T/ready python3 "$HOSTILE" "$@" &
	BG_PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/ready" ] && return 0; sleep 0.05; done
	bail "the hostile registry ($1) does not start"
}
hostile_stop() { kill "${BG_PIDS[-1]}" 2>/dev/null; wait "${BG_PIDS[-1]}" 2>/dev/null; unset 'BG_PIDS[-1]'; }
no_control() { ! printf %s "$1" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]'; }

# --- 11: credentials go only to the exact scheme, host and port they were
# given for.  In a network namespace of its own the registry is
# 127.0.0.1 (port 80 after the insecure fallback from 443); it asks for
# Basic credentials, then redirects to 127.0.0.1:444.
if unshare -n true 2>/dev/null; then
	rm -f "$T/ready" "$HOSTILE_LOG"
	run timeout 60 unshare -n bash -c '
		ip link set lo up || exit 99
		HOSTILE_READY=$1/ready python3 "$2" basic-redirect 80 443 444 -- http://127.0.0.1:444 & pid=$!
		for _ in $(seq 100); do [ -s "$1/ready" ] && break; sleep 0.05; done
		"$3" --root "$1/store" pull --creds alice:secret 127.0.0.1/x:1; rc=$?
		kill $pid; exit $rc' - "$T" "$HOSTILE" "$LRUN"
	is "$rc" 125 "11 default port: the pull fails (the redirect target has nothing)"
	is "$(grep -c '^80 GET /v2/x/manifests/1 auth=Basic' "$HOSTILE_LOG")" 1 "11 default port: the registry itself got the credentials"
	is "$(grep '^444 ' "$HOSTILE_LOG")" "444 GET /v2/x/manifests/1 auth=-" \
		"11 default port: the redirect to another port of the same host got no Authorization"
else
	skip "no network namespaces" 3
fi

# the token realm redirects to another port: the Basic credentials meant
# for the realm do not follow
P1=$(reg_free_port) P2=$(reg_free_port)
hostile token-redirect "$P1" "$P2" -- "http://127.0.0.1:$P2"
run lr pull --creds alice:secret "127.0.0.1:$P1/x:1"
is "$rc" 125 "11 token realm redirected: the pull fails"
like "$(grep "^$P1 GET /token" "$HOSTILE_LOG")" "auth=Basic" "11 token realm redirected: the realm got the credentials"
is "$(grep "^$P2 " "$HOSTILE_LOG" | sed 's/?.*auth=/ auth=/')" "$P2 GET /token auth=-" \
	"11 token realm redirected: the other origin got no Authorization"
hostile_stop

# --- 14: a blob is checked against its digest before a byte of it goes
# into the store: a gzip bomb served under another digest fills nothing
# (the store is a 24 MB tmpfs; the bomb unpacks to 64 MB)
H=$T/bomb; mkdir -p "$H/blobs"
python3 - "$H/bomb.gz" <<'PY' || bail "cannot make the bomb"
import gzip, io, sys, tarfile
class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.left); b[:k] = bytes(k); self.left -= k; return k
with gzip.open(sys.argv[1], 'wb', compresslevel=9) as g, tarfile.open(fileobj=g, mode='w|') as t:
    info = tarfile.TarInfo('zeros'); info.size = 64 << 20
    t.addfile(info, io.BufferedReader(Zeros(info.size)))
PY
bomb_size=$(stat -c %s "$H/bomb.gz")
fake=$(printf 'not the bomb' | sha256sum | cut -c1-64)
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$fake" >"$H/config"
cfg=$(sha256 "$H/config"); mv "$H/config" "$H/blobs/$cfg"
printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"sha256:%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":"sha256:%s"}]}' \
	"$(stat -c %s "$H/blobs/$cfg")" "$cfg" "$bomb_size" "$fake" >"$H/manifest.json"
R3=$T/small-store; mkdir -p "$R3"
mount -t tmpfs -o size=24m lrun-test "$R3" || bail "cannot mount a tmpfs store"
P1=$(reg_free_port)
HOSTILE_DIR=$H hostile bomb "$P1"
run env TMPDIR="$T" "$LRUN" --root "$R3" pull "127.0.0.1:$P1/bomb:1"
is "$rc" 125 "14 bomb: the pull fails"
like "$err" "blob digest mismatch: expected sha256:$fake" "14 bomb: because the blob's digest is wrong (not a full disk)"
kb=$(du -sk "$R3" | cut -f1)
ok "$([ "$kb" -lt 1024 ]; echo $?)" "14 bomb: the store holds ${kb} kB afterwards (under 1 MB)"
is "$(jq length "$R3/overlay-layers/layers.json" 2>/dev/null || echo 0)" 0 "14 bomb: no layer recorded"
hostile_stop
umount "$R3"

# --- 15: a response head has a deadline, 1xx responses and trailers a cap
export LRUN_NET_TIMEOUT=2
declare -A why=([continue]="too many 1xx informational responses" [trailers]="trailers are too large"
	[slowloris]="timed out waiting for the response head")
for mode in continue trailers slowloris; do
	P1=$(reg_free_port)
	hostile "$mode" "$P1"
	start=$(date +%s)
	run timeout 60 "$LRUN" --root "$R" pull "127.0.0.1:$P1/x:1"
	took=$(($(date +%s) - start))
	is "$rc" 125 "15 $mode: the pull fails with 125 (not killed by the 60 s guard)"
	like "$err" "${why[$mode]}" "15 $mode: the error says why"
	ok "$([ "$took" -le 40 ]; echo $?)" "15 $mode: it gave up after ${took} s (4 tries at LRUN_NET_TIMEOUT=2)"
	hostile_stop
done
unset LRUN_NET_TIMEOUT

# --- 16: a Location with CR, LF or spaces never reaches a request line
P1=$(reg_free_port)
hostile location "$P1" -- "/v2/x/blobs/a b\\x0dX-Injected: 1"
run lr pull "127.0.0.1:$P1/x:1"
is "$rc" 125 "16 Location with CR and space: the pull fails"
like "$err" 'invalid URL "http://127.0.0.1:'"$P1"'/v2/x/blobs/a b\\rX-Injected: 1"' "16 Location: the error shows it escaped"
ok "$(no_control "$err"; echo $?)" "16 Location: no control byte reaches the terminal"
is "$(grep -c -v "^$P1 GET /v2/x/manifests/1 auth=-\$" "$HOSTILE_LOG")" 0 "16 Location: no request went to the redirect"
hostile_stop

# load -i DIR: names in a layout resolve inside it
[ -x /bin/busybox ] || { skip "no busybox" 4; done_testing; exit; }
fx_busybox_rootfs "$T/rootfs" && fx_layer_tar "$T/rootfs" "$T/bb.tar" && fx_oci_layout "$T/layout" x "$T/bb.tar" >/dev/null ||
	bail "fixtures do not build"
secret=$T/outside-secret
printf 'SECRET-BYTES-%s\n' "$(head -c 24 /dev/urandom | base64)" >"$secret"
cp -a "$T/layout" "$T/evil1"
rm "$T/evil1/index.json"; ln -s "$secret" "$T/evil1/index.json"
run lr load -i "$T/evil1"
is "$rc:$out" "125:" "16 load -i DIR: index.json -> a file outside: refused"
ok "$(grep -q SECRET <<<"$err"; [ $? = 1 ]; echo $?)" "16 load -i DIR: no byte of the outside file in the error"
cp -a "$T/layout" "$T/evil2"
blob=$(find "$T/evil2/blobs/sha256" -type f -size +100k | head -1)
rm "$blob"; ln -s "$secret" "$blob"
run lr load -i "$T/evil2"
is "$rc:$out" "125:" "16 load -i DIR: a layer blob -> a file outside: refused"
ok "$(grep -q SECRET <<<"$err"; [ $? = 1 ]; echo $?)" "16 load -i DIR: no byte of the outside file in that error"
cp -a "$T/layout" "$T/inside"
mkdir "$T/inside/real"; mv "$T/inside/index.json" "$T/inside/real/index.json"; ln -s /real/index.json "$T/inside/index.json"
run lr load -q -i "$T/inside"
is "$rc" 0 "16 load -i DIR: an absolute symlink inside the layout resolves inside it"

done_testing
