#!/bin/bash
# image sign: a registry's manifest signed by gpg ("simple signing"), kept as
# podman keeps it: DIR/REPOSITORY@sha256=HEX/signature-N, which gpg verifies
# and whose payload names the image and the manifest's digest; clear errors.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/registry.sh"

reg_test_begin sign gpg gpgconf
nl=$'\n'
export GNUPGHOME=$T/gnupg
mkdir -m 0700 "$GNUPGHOME"
at_exit 'gpgconf --kill gpg-agent >/dev/null 2>&1'
gpg --batch --gen-key >/dev/null 2>&1 <<EOF || bail "gpg cannot make a key"
Key-Type: RSA
Key-Length: 2048
Name-Real: Foo
Name-Email: foo@bar.com
Expire-Date: 0
%no-protection
%commit
EOF
fx_servidorweb "$T/fx" >/dev/null 2>&1 || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
lr() { "$LRUN" --root "$T/root" "$@"; }
lr load -i "$T/fx/v1.tar" >/dev/null 2>&1 || bail "load"
REF=127.0.0.1:$REG_PORT/web/servidorweb:v1
lr push localhost:5000/servidorweb:v1 "docker://$REF" >/dev/null 2>&1 || bail "push"
HEX=$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://127.0.0.1:$REG_PORT/v2/web/servidorweb/manifests/v1" | sha256sum | cut -c1-64)
D=$T/sigs/web/servidorweb@sha256=$HEX

run lr image sign --sign-by foo@bar.com --directory "$T/sigs" "docker://$REF"
is "$rc:$out:$err" "0::" "image sign: silent, 0"
ok_cmd "the signature is DIR/REPOSITORY@sha256=HEX/signature-1" test -s "$D/signature-1"
like "$(gpg --verify "$D/signature-1" 2>&1)" 'Good signature from "Foo <foo@bar.com>"' "gpg verifies it"
payload=$(gpg --decrypt "$D/signature-1" 2>/dev/null)
is "$(jq -r '.critical | "\(.type) \(.identity["docker-reference"]) \(.image["docker-manifest-digest"])"' <<<"$payload")" \
	"atomic container signature $REF sha256:$HEX" "the payload: simple signing's type, the reference, the manifest's digest"
lr image sign --sign-by foo@bar.com -d "$T/sigs" "docker://$REF"
ok_cmd "a second signature is signature-2" test -s "$D/signature-2"

run lr image sign --directory "$T/sigs" "docker://$REF"
is "$rc:$err" "125:Error: no signing key provided$nl" "no --sign-by: podman's error"
run lr image sign --sign-by foo@bar.com -d "$T/sigs" "$REF"
is "$rc:$err" "125:Error: invalid image name \"$REF\": only the docker:// transport can be signed$nl" \
	"no docker:// transport: a clear error"
run lr image sign --sign-by nobody@nowhere -d "$T/other" "docker://$REF"
is "$rc:$err" "125:Error: signing with key nobody@nowhere: gpg: signing failed: No secret key$nl" "an unknown key: gpg's failure said"
ok_cmd "… and no signature left" test ! -e "$T/other/web/servidorweb@sha256=$HEX/signature-1"
run lr image sign --sign-by foo@bar.com -d "$T/sigs" "docker://127.0.0.1:$REG_PORT/web/nothing:v1"
is "$rc" 125 "an image the registry does not have: 125"

done_testing
