#!/bin/bash
# lrun pull over TLS and with authentication, against real registries that
# share one storage: TLS with a CA the test makes (--cert-dir, certs.d,
# SSL_CERT_FILE, --tls-verify=false, client certificates), htpasswd basic
# auth, bearer tokens from a token server the test runs; lrun login/logout
# and the auth files; 401 and 403 failures.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin auth htpasswd

fx_servidorweb "$T/fx" || bail "fixtures do not build"
S=$T/storage
reg_start push "$S" || bail "the registry does not start"
P=127.0.0.1:$REG_PORT
reg_push "docker-archive:$T/fx/v1.tar" "docker://$P/servidorweb:v1" &&
reg_push "docker-archive:$T/fx/v1.tar" "docker://$P/public/servidorweb:v1" &&
reg_push "docker-archive:$T/fx/v1.tar" "docker://$P/private/servidorweb:v1" || bail "skopeo cannot push the fixtures"
V1=$(reg_archive_id "$T/fx/v1.tar")

C=$T/ca
reg_make_ca "$C" && reg_make_cert "$C" server "DNS:registry.test,IP:127.0.0.1" &&
	reg_make_cert "$C" client "DNS:lrun-client" clientAuth || bail "openssl cannot make the certificates"
echo "127.0.0.1 registry.test" >"$T/hosts"
export LRUN_HOSTS=$T/hosts
TLS_YAML=("  tls:" "    certificate: $C/server.crt" "    key: $C/server.key")

# pull NAME ARGS...: into a fresh store; stdout to $T/out, stderr to $T/err
n=0
pull() {
	n=$((n + 1))
	"$LRUN" --root "$T/root$n" pull -q "$@" >"$T/out" 2>"$T/err"
}

# --- TLS with the test's CA ----------------------------------------------------------
reg_start tls "$S" "${TLS_YAML[@]}" || bail "the TLS registry does not start"
TP=$REG_PORT
mkdir -p "$T/certs"
cp "$C/ca.crt" "$T/certs/ca.crt"
pull "registry.test:$TP/servidorweb:v1"
is "$?" 125 "TLS: an unknown CA fails"
like "$(cat "$T/err")" "^Error: initializing source docker://registry.test:$TP/servidorweb:v1: reading manifest v1 in registry.test:$TP/servidorweb: GET https://registry.test:$TP/v2/servidorweb/manifests/v1: tls: the certificate of registry.test:$TP is not trusted: " \
	"TLS: the message says the certificate is not trusted"
pull --cert-dir "$T/certs" "registry.test:$TP/servidorweb:v1"
ok $? "TLS: --cert-dir with the CA" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "$V1" "TLS: the image"
SSL_CERT_FILE=$C/ca.crt pull "registry.test:$TP/servidorweb:v1"
ok $? "TLS: SSL_CERT_FILE as the system bundle" || diag "$(cat "$T/err")"
pull --tls-verify=false "registry.test:$TP/servidorweb:v1"
ok $? "TLS: --tls-verify=false" || diag "$(cat "$T/err")"
pull "127.0.0.1:$TP/servidorweb:v1"
ok $? "TLS: a loopback registry is not verified (docker's insecure default)" || diag "$(cat "$T/err")"
pull --tls-verify=true "localhost:$TP/servidorweb:v1"
is "$?" 125 "TLS: --tls-verify=true verifies even localhost (its name is not in the certificate)"
if [ -d /etc/containers ]; then
	# the default places: /etc/containers/certs.d/<host:port>/ca.crt and /etc/hosts
	pull_default_places() {
		unshare -m sh -c 'set -e
			if [ -d /etc/containers/certs.d ]; then d=/etc/containers/certs.d; else d=/etc/containers; fi
			mount -t tmpfs tmpfs $d
			mkdir -p /etc/containers/certs.d/registry.test:$1
			cp "$2" /etc/containers/certs.d/registry.test:$1/ca.crt
			mount --bind "$3" /etc/hosts
			exec env -u LRUN_HOSTS "$4" --root "$5" pull -q registry.test:$1/servidorweb:v1' \
			sh "$TP" "$C/ca.crt" "$T/hosts" "$LRUN" "$T/root-default"
	}
	out=$(pull_default_places 2>&1)
	is "$out" "$V1" "TLS: /etc/containers/certs.d/<host:port>/ca.crt and /etc/hosts are used"
else
	skip "no /etc/containers"
fi

# --- client certificates --------------------------------------------------------------
reg_start mtls "$S" "${TLS_YAML[@]}" "    clientcas:" "      - $C/ca.crt" || bail "the mTLS registry does not start"
MP=$REG_PORT
pull --cert-dir "$T/certs" "registry.test:$MP/servidorweb:v1"
is "$?" 125 "mTLS: no client certificate, no pull"
cp "$C/client.crt" "$T/certs/client.cert"
cp "$C/client.key" "$T/certs/client.key"
pull --cert-dir "$T/certs" "registry.test:$MP/servidorweb:v1"
ok $? "mTLS: client.cert and client.key from the cert dir" || diag "$(cat "$T/err")"

# --- basic auth (htpasswd) ----------------------------------------------------------
htpasswd -Bbn alice secret >"$T/htpasswd"
reg_start basic "$S" "${TLS_YAML[@]}" "auth:" "  htpasswd:" "    realm: lrun-test" "    path: $T/htpasswd" ||
	bail "the basic-auth registry does not start"
B=registry.test:$REG_PORT BLOG=$REG_LOG
export REGISTRY_AUTH_FILE=$T/auth.json
pull --cert-dir "$T/certs" "$B/servidorweb:v1"
is "$?" 125 "basic: no credentials: exit 125"
like "$(cat "$T/err")" ": unauthorized: authentication required$" "basic: no credentials: unauthorized"
pull --cert-dir "$T/certs" --creds alice:wrong "$B/servidorweb:v1"
is "$?" 125 "basic: a wrong password: exit 125"
like "$(cat "$T/err")" "unauthorized: " "basic: a wrong password: unauthorized"
pull --cert-dir "$T/certs" --creds alice:secret "$B/servidorweb:v1"
ok $? "basic: --creds alice:secret" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "$V1" "basic: the image"

# login / logout with the auth file
"$LRUN" login --cert-dir "$T/certs" -u alice -p wrong "$B" >"$T/out" 2>"$T/err"
is "$?" 125 "login with a wrong password: exit 125"
like "$(cat "$T/err")" "^Error: logging into \"$B\": invalid username/password" "login: invalid username/password"
ok "$([ ! -e "$T/auth.json" ] && echo 0 || echo 1)" "login: nothing stored after a failure"
echo secret | "$LRUN" login --cert-dir "$T/certs" -u alice --password-stdin "$B" >"$T/out" 2>"$T/err"
ok $? "login --password-stdin" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "Login Succeeded!" "login: podman's message"
is "$(jq -r --arg k "$B" '.auths[$k].auth' "$T/auth.json" | base64 -d)" "alice:secret" "login: auth.json as podman writes it"
is "$(stat -c %a "$T/auth.json")" 600 "login: auth.json is private"
pull --cert-dir "$T/certs" "$B/servidorweb:v1"
ok $? "basic: pull with the stored credentials" || diag "$(cat "$T/err")"
is "$("$LRUN" logout "$B")" "Removed login credentials for $B" "logout"
is "$(jq -c .auths "$T/auth.json")" "{}" "logout: the entry is gone"
pull --cert-dir "$T/certs" "$B/servidorweb:v1"
is "$?" 125 "after logout: unauthorized again"
"$LRUN" logout "$B" 2>"$T/err"
is "$?:$(cat "$T/err")" "125:Error: not logged into $B" "logout when not logged in"
unset REGISTRY_AUTH_FILE
mkdir -p "$T/xdg" "$T/home/.docker"
printf '{"auths":{"https://%s/v1/":{"auth":"%s"}}}' "$B" "$(printf alice:secret | base64)" >"$T/home/.docker/config.json"
HOME=$T/home XDG_RUNTIME_DIR=$T/xdg pull --cert-dir "$T/certs" "$B/servidorweb:v1"
ok $? "basic: credentials from ~/.docker/config.json" || diag "$(cat "$T/err")"
HOME=$T/home XDG_RUNTIME_DIR=$T/xdg "$LRUN" login --cert-dir "$T/certs" -u alice -p secret "$B" >/dev/null
is "$(jq -r --arg k "$B" '.auths[$k].auth' "$T/xdg/containers/auth.json" | base64 -d)" "alice:secret" \
	"login writes \${XDG_RUNTIME_DIR}/containers/auth.json"
HOME=$T/home XDG_RUNTIME_DIR=$T/xdg "$LRUN" logout --all >/dev/null
HOME=$T/home XDG_RUNTIME_DIR=$T/xdg "$LRUN" logout "$B" 2>"$T/err"
like "$(cat "$T/err")" "stored by docker login" "logout: docker's credentials are left to docker"

# --- bearer tokens --------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lrun-test-token -keyout "$T/token.key" \
	-out "$T/token.crt" 2>/dev/null || bail "openssl cannot make the token key"
TKP=$(reg_free_port)
reg_token_server "$TKP" "$T/token.key" "$T/token.crt" lrun-test-issuer || bail "the token server does not start"
reg_start token-registry "$S" "auth:" "  token:" "    realm: http://127.0.0.1:$TKP/token" "    service: lrun-test" \
	"    issuer: lrun-test-issuer" "    rootcertbundle: $T/token.crt" || bail "the token registry does not start"
K=127.0.0.1:$REG_PORT
export REGISTRY_AUTH_FILE=$T/auth.json
pull "$K/public/servidorweb:v1"
ok $? "token: an anonymous pull of a public repository" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "$V1" "token: the image"
is "$(cat "$T/token.log")" "user=- scope=repository:public/servidorweb:pull status=200" \
	"token: one token for the whole pull, for the repository's pull scope"
pull "$K/private/servidorweb:v1"
is "$?" 125 "token: anonymous, private: exit 125"
like "$(cat "$T/err")" "reading manifest v1 in $K/private/servidorweb: unauthorized: " "token: anonymous, private: unauthorized"
pull --creds alice:secret "$K/private/servidorweb:v1"
ok $? "token: alice may pull the private repository" || diag "$(cat "$T/err")"
pull --creds alice:nope "$K/private/servidorweb:v1"
is "$(cat "$T/err")" "Error: initializing source docker://$K/private/servidorweb:v1: reading manifest v1 in $K/private/servidorweb: unable to retrieve auth token: invalid username/password: unauthorized: authentication failed" \
	"token: 401 from the token server"
pull --creds eve:secret "$K/private/servidorweb:v1"
is "$(cat "$T/err")" "Error: initializing source docker://$K/private/servidorweb:v1: reading manifest v1 in $K/private/servidorweb: unable to retrieve auth token: denied: requested access to the resource is denied" \
	"token: 403 from the token server"
"$LRUN" login -u alice -p secret "$K" >"$T/out" 2>"$T/err"
ok $? "token: login" || diag "$(cat "$T/err")"
pull "$K/private/servidorweb:v1"
ok $? "token: pull with the stored credentials" || diag "$(cat "$T/err")"
"$LRUN" login -u alice -p nope "$K" >/dev/null 2>"$T/err"
like "$(cat "$T/err")" "invalid username/password" "token: login with a wrong password"

done_testing
