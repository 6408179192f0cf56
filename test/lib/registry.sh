# registry.sh - real registries (Debian's docker-registry) and their helpers
# for lrun's pull tests (test/t/40-pull-*.t).  Source after tap.sh.
#
#   reg_test_begin NAME [TOOL...]
#                             skip_all unless root with the tools (TOOL: more
#                             commands this test needs); sets T, a new temp
#                             dir, and LRUN; at exit every process started
#                             here is killed and T removed (kept when $KEEP
#                             is set, for a look after a failure)
#   reg_check [TOOL...]       "" when the tools are here, else why not
#   reg_free_port             a free TCP port on 127.0.0.1
#   reg_start NAME STORAGE [YAML...]
#                             start a registry on 127.0.0.1:<free port> serving
#                             STORAGE; YAML lines are appended to its config
#                             ("  tls: ..." continues the http: block, "auth:"
#                             starts a new one).  Sets REG_PORT and REG_LOG
#                             (its access log).
#   reg_push SRC DEST         skopeo copy SRC DEST (e.g. docker-archive:x.tar
#                             docker://127.0.0.1:5000/x:v1), no TLS check
#   reg_put_manifest URL TYPE FILE
#                             PUT a manifest (an index made by the test)
#   reg_blob_gets LOG REPO    how many "GET /v2/REPO/blobs/..." LOG holds
#   reg_proxy PORT UPSTREAM MODE [ARG]
#                             start test/lib/proxy.pl (see there); logs to
#                             $T/proxy-PORT.log
#   reg_token_server PORT KEY CERT ISSUER
#                             start test/lib/token-server.pl; logs to $T/token.log
#   reg_make_ca DIR           DIR/ca.{crt,key}: a test CA (EC P-256)
#   reg_make_cert DIR NAME SAN [USAGE]
#                             DIR/NAME.{crt,key} signed by DIR/ca, for SAN
#                             (e.g. "DNS:registry.test,IP:127.0.0.1"); USAGE
#                             serverAuth (default) or clientAuth
#   reg_archive_id ARCHIVE    the image ID of a docker-archive's first image
#   reg_check_store ROOT      "" when ROOT's layers.json, overlay/ dirs and l/
#                             links agree and nothing is incomplete, else what is wrong
#   reg_cleanup               kill every process started here

REG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_reg_pids=()

reg_check() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return; }
	local t
	for t in docker-registry skopeo curl openssl perl jq unshare "$@"; do
		command -v "$t" >/dev/null || { echo "$t not installed"; return; }
	done
}

reg_test_begin() {
	local name=$1 why
	shift
	why=$(reg_check "$@")
	[ -z "$why" ] || skip_all "$why"
	T=$(mktemp -d "/tmp/lrun-pull-$name.XXXXXX")
	LRUN=$(cd "$REG_LIB/../.." && pwd)/lrun
	at_exit 'reg_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$T"'
}

reg_archive_id() {
	tar xOf "$1" manifest.json | jq -r '.[0].Config | rtrimstr(".json")'
}

reg_cleanup() {
	local p
	for p in "${_reg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${_reg_pids[@]}"; do wait "$p" 2>/dev/null || true; done # (safe under set -e)
	_reg_pids=()
}

reg_free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport'
}

# _reg_wait_port PORT [HOST]: up to 10 s for something to listen there
_reg_wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "registry.sh: nothing listens on ${2:-127.0.0.1}:$1" >&2
	return 1
}

reg_start() {
	local name=$1 storage=$2 port
	shift 2
	port=$(reg_free_port)
	mkdir -p "$storage"
	{
		printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$storage"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$T/$name.yml"
	docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
	_reg_pids+=($!)
	REG_PORT=$port REG_LOG=$T/$name.log
	_reg_wait_port "$port"
}

reg_push() {
	unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec skopeo --insecure-policy copy -q --dest-tls-verify=false "$@"' \
		sk "$@"
}

reg_put_manifest() {
	curl -sSf -X PUT -H "Content-Type: $2" --data-binary "@$3" "$1" >/dev/null
}

reg_blob_gets() {
	grep -c "\"GET /v2/$2/blobs/sha256:" "$1"
}

reg_proxy() {
	mkdir -p "$T/proxy-state-$1"
	PROXY_STATE=$T/proxy-state-$1 PROXY_LOG=$T/proxy-$1.log perl "$REG_LIB/proxy.pl" "$@" &
	_reg_pids+=($!)
	_reg_wait_port "$1"
}

reg_token_server() {
	TOKEN_LOG=$T/token.log perl "$REG_LIB/token-server.pl" "$@" &
	_reg_pids+=($!)
	_reg_wait_port "$1"
}

reg_make_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=lrun-test-ca -keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
}

reg_make_cert() {
	local dir=$1 name=$2 san=$3 usage=${4:-serverAuth}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${san#*:}" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$san" "$usage" >"$dir/$name.ext" &&
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
		-extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
}

reg_check_store() {
	local root=$1 id link
	local layers=$root/overlay-layers/layers.json
	[ -f "$layers" ] || { echo "no layers.json"; return; }
	jq -e 'all(.[]; (.flags.incomplete // false) == false)' "$layers" >/dev/null || echo "an incomplete layer"
	for id in $(jq -r '.[].id' "$layers"); do
		[ -d "$root/overlay/$id/diff" ] || echo "layer $id has no diff/"
		link=$(cat "$root/overlay/$id/link" 2>/dev/null)
		[ "$(readlink "$root/overlay/l/$link")" = "../$id/diff" ] || echo "layer $id: l/$link is wrong"
	done
	for id in $(ls "$root/overlay" | grep -v '^l$'); do
		jq -e --arg id "$id" 'any(.[]; .id == $id)' "$layers" >/dev/null || echo "overlay/$id is not in layers.json"
	done
	for link in $(ls "$root/overlay/l"); do
		[ -e "$root/overlay/l/$link" ] || echo "dangling l/$link"
	done
	local images=$root/overlay-images/images.json
	[ -f "$images" ] || return 0
	for id in $(jq -r '.[].layer' "$images"); do
		jq -e --arg id "$id" 'any(.[]; .id == $id)' "$layers" >/dev/null || echo "an image's top layer $id is missing"
	done
}
