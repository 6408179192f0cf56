#!/bin/bash
# Rootless networking: an ordinary user's containers get podman's rootless
# network, slirp4netns (10.0.2.100, gateway 10.0.2.2, the host's loopback
# out of reach unless allow_host_loopback=true); -p through lrun's proxy
# into the container's namespace; --network none and host as root's.  All
# traffic goes to 127.0.0.1 only.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/registry.sh"
. "$here/../lib/rootless.sh"
command -v slirp4netns >/dev/null || skip_all "no slirp4netns"
command -v curl >/dev/null || skip_all "no curl"
rootless_setup
IMG=localhost:5000/servidorweb:v1
lu load -q -i "$FX/v1.tar" >/dev/null 2>&1 || bail "the user's load"
S=$RH/.local/share/lrun
# a web server on the host's loopback only
mkdir -p "$T/www" && echo "host page" >"$T/www/index.html"
HP=$(reg_free_port)
busybox httpd -f -p "127.0.0.1:$HP" -h "$T/www" &
BG_PIDS+=($!)
for i in $(seq 300); do curl -s "http://127.0.0.1:$HP/" >/dev/null && break; sleep 0.1; done

# ------------------------------------------------ the default: slirp4netns --
run lu run --rm "$IMG" sh -c 'ip -o -4 addr show tap0 | awk "{ print \$4 }"; ip route | head -1; grep host.containers /etc/hosts'
is "$rc|$out" $'0|10.0.2.100/24\ndefault via 10.0.2.2 dev tap0 \n10.0.2.2\thost.containers.internal host.docker.internal\n' \
	"run: slirp4netns by default (10.0.2.100, gateway 10.0.2.2 as host.containers.internal)"
run lu run --rm "$IMG" busybox wget -q -O - "http://10.0.2.2:$HP/"
is "$rc" 1 "the host's loopback is out of reach by default (podman's allow_host_loopback=false)"
run lu run --rm --network slirp4netns:allow_host_loopback=true "$IMG" busybox wget -q -O - "http://10.0.2.2:$HP/"
is "$rc|$out" $'0|host page\n' "slirp4netns:allow_host_loopback=true: outbound to the host's 127.0.0.1 through 10.0.2.2"
run lu run --rm --network slirp4netns:bogus=1 "$IMG" true
is "$rc|$err" $'125|Error: unknown option for slirp4netns: bogus=1\n' "an unknown slirp4netns option: exit 125"

# ---------------------------------------------------------------------- -p --
CP=$(reg_free_port)
run lu run -d --name web -p "127.0.0.1:$CP:8080" "$IMG"
is "$rc" 0 "run -d -p 127.0.0.1:$CP:8080 as the user"
for i in $(seq 300); do page=$(curl -s "http://127.0.0.1:$CP/index.html") && [ -n "$page" ] && break; sleep 0.1; done
is "$page" "<html><body><h1>servidorweb</h1></body></html>" "the host reaches the container's port"
is "$(curl -s "http://127.0.0.1:$CP/blob.bin" | sha256sum | cut -c1-64)" \
	"$(tar xOf "$FX/layers/2.tar" var/www/blob.bin | sha256sum | cut -c1-64)" "  200 kB through the proxy, byte for byte" ||
	diag "$(ss -ltnp | grep ":$CP "; ps -ef | grep -v grep | grep "lrun\|slirp")"
run lu port web
is "$rc|$out" "0|8080/tcp -> 127.0.0.1:$CP"$'\n' "port"
run lu ps --format '{{.Names}} {{.Ports}}'
is "$out" "web 127.0.0.1:$CP->8080/tcp"$'\n' "ps: the published port"
id=$(lu inspect --format '{{.Id}}' web)
ok $([ -s "$S/overlay-containers/$id/userdata/slirp4netns.log" ]; echo $?) "slirp4netns logs to userdata/slirp4netns.log"
run lu run -d --name web2 -p "127.0.0.1:$CP:8080" "$IMG"
is "$rc" 125 "a port taken: exit 125"
lu rm -f web2 >/dev/null 2>&1
run lu rm -f web
is "$rc" 0 "rm -f"
for i in $(seq 300); do curl -s "http://127.0.0.1:$CP/" >/dev/null || break; sleep 0.1; done
ok $(curl -s "http://127.0.0.1:$CP/" >/dev/null; echo $((!$?))) "the port is free once the container is gone"
left() { for p in $(user_pids); do cat "/proc/$p/comm"; done 2>/dev/null | sort | tr '\n' ' '; }
for i in $(seq 300); do [ "$(left)" = "lrun-pause " ] && break; sleep 0.1; done
is "$(left)" "lrun-pause " \
	"no slirp4netns, proxy or monitor left: only the pause process"

# --------------------------------------------------------- none and host --
run lu run --rm --network none "$IMG" sh -c 'ls /sys/class/net'
is "$rc|$out" $'0|lo\n' "--network none: only lo"
run lu run --rm --network host "$IMG" busybox wget -q -O - "http://127.0.0.1:$HP/"
is "$rc|$out" $'0|host page\n' "--network host: the host's loopback"
done_testing
