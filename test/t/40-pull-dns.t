#!/bin/bash
# lrun resolves registry names itself (a static binary cannot count on
# glibc's NSS modules): the hosts file, then DNS over UDP to resolv.conf's
# nameservers, here a dnsmasq the test runs on a spare loopback address.
# Also: lrun pulls from inside an empty chroot that holds nothing but itself.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin dns dnsmasq

fx_servidorweb "$T/fx" || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
P=$REG_PORT
reg_push "docker-archive:$T/fx/v1.tar" "docker://127.0.0.1:$P/servidorweb:v1" || bail "skopeo cannot push"
V1=$(reg_archive_id "$T/fx/v1.tar")

# a DNS server for *.test on 127.53.0.1:53 (a loopback address of its own, so
# the usual port does not clash): registry.test is 127.0.0.1, other .test
# names do not exist but alias.test, a CNAME of registry.test, and six.test,
# which has only an IPv6 address
NS=127.53.0.1
dnsmasq -d -C /dev/null --no-resolv --no-hosts --no-poll --user=root --pid-file= --bind-interfaces \
	--listen-address=$NS --port=53 --host-record=registry.test,127.0.0.1 --cname=alias.test,registry.test \
	--address=/six.test/::1 --local=/test/ --log-queries \
	>"$T/dnsmasq.log" 2>&1 &
_reg_pids+=($!)
for i in $(seq 50); do grep -q 'started' "$T/dnsmasq.log" && break; sleep 0.1; done
grep -q 'started' "$T/dnsmasq.log" || bail "dnsmasq does not start: $(cat "$T/dnsmasq.log")"

printf 'nameserver %s\n' $NS >"$T/resolv.conf"
: >"$T/no-hosts"
export LRUN_HOSTS=$T/no-hosts LRUN_RESOLV_CONF=$T/resolv.conf
# (these names are not literally loopback: --tls-verify=false lets lrun fall
# back to the registry's plain http)
n=0
pull() {
	n=$((n + 1))
	"$LRUN" --root "$T/root$n" pull -q --tls-verify=false "$@" >"$T/out" 2>"$T/err"
}

queries() { grep -c "query\[$1\] $2 from" "$T/dnsmasq.log"; }
pull "registry.test:$P/servidorweb:v1"
ok $? "a name from the DNS server" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "$V1" "the image"
is "$(queries A registry.test)" 1 "one A query for the whole pull (three download threads)"
is "$(queries AAAA registry.test)" 1 "and one AAAA query"

pull "alias.test:$P/servidorweb:v1"
ok $? "a CNAME" || diag "$(cat "$T/err")"

# docker's reference grammar has no trailing dot (podman could not list the
# store holding such a name): refused with a clear error, nothing pulled
pull "registry.test.:$P/servidorweb:v1"
is "$?:$(cat "$T/err")" "125:Error: invalid reference \"registry.test.:$P/servidorweb:v1\": bad registry host" \
	"a fully qualified name (trailing dot): not in docker's grammar, refused"

printf 'search example.invalid test\nnameserver %s\noptions ndots:1 timeout:1 attempts:1\n' $NS >"$T/resolv-search.conf"
before=$(queries A registry.test)
LRUN_RESOLV_CONF=$T/resolv-search.conf pull "registry:$P/servidorweb:v1"
ok $? "a short name completed by the search list" || diag "$(cat "$T/err")"
is "$(queries A registry.example.invalid):$(( $(queries A registry.test) - before ))" 1:1 \
	"the search domains were tried in order"

pull "nope.test:$P/servidorweb:v1"
is "$?" 125 "an unknown name: exit 125"
like "$(cat "$T/err")" "lookup nope.test: no such host$" "an unknown name: no such host"

printf 'nameserver 127.53.0.2\noptions timeout:1 attempts:1\n' >"$T/resolv-dead.conf"
start=$(date +%s)
LRUN_RESOLV_CONF=$T/resolv-dead.conf pull "registry.test:$P/servidorweb:v1"
is "$?" 125 "no DNS server: exit 125"
like "$(cat "$T/err")" "lookup registry.test: no DNS server answered" "no DNS server: the message says so"
ok "$([ $(( $(date +%s) - start )) -le 5 ] && echo 0 || echo 1)" "no DNS server: it does not hang"
printf 'nameserver 127.53.0.2\nnameserver %s\noptions timeout:1\n' $NS >"$T/resolv-second.conf"
LRUN_RESOLV_CONF=$T/resolv-second.conf pull "registry.test:$P/servidorweb:v1"
ok $? "the second nameserver answers when the first does not" || diag "$(cat "$T/err")"

echo "127.0.0.1 other-name.test" >"$T/hosts"
before=$(grep -c 'other-name' "$T/dnsmasq.log")
LRUN_HOSTS=$T/hosts pull "other-name.test:$P/servidorweb:v1"
ok $? "the hosts file comes first" || diag "$(cat "$T/err")"
is "$(grep -c 'other-name' "$T/dnsmasq.log")" "$before" "no DNS query for a name in the hosts file"

# IPv6: a registry on [::1], by its literal address and by a name with
# only an AAAA record
if (exec 3<>/dev/udp/::1/9) 2>/dev/null && reg_start six "$T/storage" && sed -i "s/addr: 127.0.0.1:$REG_PORT/addr: '[::1]:$REG_PORT'/" "$T/six.yml"; then
	kill "${_reg_pids[-1]}"; wait "${_reg_pids[-1]}" 2>/dev/null
	docker-registry serve "$T/six.yml" >"$T/six.log" 2>&1 &
	_reg_pids+=($!)
	_reg_wait_port "$REG_PORT" ::1
	pull "[::1]:$REG_PORT/servidorweb:v1"   # not in podman 4.3's grammar either
	is "$?:$(cat "$T/err")" "125:Error: invalid reference \"[::1]:$REG_PORT/servidorweb:v1\": bad registry host" \
		"IPv6: a literal address is refused (the store could not hold the name for podman)"
	pull "six.test:$REG_PORT/servidorweb:v1"
	ok $? "IPv6: a name with an AAAA record only" || diag "$(cat "$T/err")"
else
	skip "no IPv6 loopback"
	skip "no IPv6 loopback"
fi

# the default files, /etc/hosts and /etc/resolv.conf, in a mount namespace
out=$(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts &&
	exec env -u LRUN_HOSTS -u LRUN_RESOLV_CONF "$3" --root "$4" pull -q --tls-verify=false "registry.test:$5/servidorweb:v1"' \
	sh "$T/resolv.conf" "$T/no-hosts" "$LRUN" "$T/root-etc" "$P" 2>&1)
is "$out" "$V1" "/etc/resolv.conf is read"

# nothing but the binary: no libc, no NSS modules, no CA bundle, no /dev
mkdir -p "$T/chroot/bin" "$T/chroot/etc"
cp "$LRUN" "$T/chroot/bin/lrun"
cp "$T/resolv.conf" "$T/chroot/etc/resolv.conf"
out=$(env -u LRUN_HOSTS -u LRUN_RESOLV_CONF chroot "$T/chroot" /bin/lrun --root /store pull -q --tls-verify=false \
	"registry.test:$P/servidorweb:v1" 2>&1)
is "$out" "$V1" "a pull from an empty chroot (as in an initramfs)"
is "$(reg_check_store "$T/chroot/store")" "" "the chroot's store is consistent"

done_testing
