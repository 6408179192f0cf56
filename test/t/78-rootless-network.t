#!/bin/bash
# Rootless networking: an ordinary user's containers get podman's rootless
# network, slirp4netns (10.0.2.100, gateway 10.0.2.2, the host's loopback
# out of reach unless allow_host_loopback=true); -p through lrun's proxy
# into the container's namespace; --network pasta (podman 4.4's, Debian's
# passt) with -p; --network none and host as root's.  All
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
is "$rc" 126 "a port taken: exit 126 (podman's, for a port in use)"
lu rm -f web2 >/dev/null 2>&1
run lu rm -f web
is "$rc" 0 "rm -f"
for i in $(seq 300); do curl -s "http://127.0.0.1:$CP/" >/dev/null || break; sleep 0.1; done
ok $(curl -s "http://127.0.0.1:$CP/" >/dev/null; echo $((!$?))) "the port is free once the container is gone"
left() { for p in $(user_pids); do cat "/proc/$p/comm"; done 2>/dev/null | sort | tr '\n' ' '; }
for i in $(seq 300); do [ "$(left)" = "lrun-pause " ] && break; sleep 0.1; done
is "$(left)" "lrun-pause " \
	"no slirp4netns, proxy or monitor left: only the pause process"

# ------------------------------------------------------------------ pasta --
# podman's (4.4) --network pasta[:OPTIONS]: pasta copies the host's
# addresses, -p becomes pasta's -t, the host's loopback only when asked
# (-T PORT forwards the container's 127.0.0.1:PORT to the host's).
if command -v pasta >/dev/null; then
	run lu run --rm --network pasta "$IMG" sh -c 'ip -o link show | grep -c -v " lo:"; ip route | grep -c "^default"'
	is "$rc|$out" $'0|1\n1\n' "--network pasta: one interface besides lo, a default route (the host's copied)" ||
		diag "$err"
	run lu run --rm --network "pasta:-T,$HP" "$IMG" busybox wget -q -O - "http://127.0.0.1:$HP/"
	is "$rc|$out" $'0|host page\n' "pasta:-T,$HP: outbound to the host's 127.0.0.1:$HP from the container's loopback"
	run lu run --rm --network pasta "$IMG" busybox wget -q -O - "http://127.0.0.1:$HP/"
	is "$rc" 1 "without -T the host's loopback is out of reach"
	PP=$(reg_free_port)
	run lu run -d --name pw --network pasta -p "127.0.0.1:$PP:8080" "$IMG"
	is "$rc" 0 "run -d --network pasta -p 127.0.0.1:$PP:8080"
	for i in $(seq 300); do page=$(curl -s "http://127.0.0.1:$PP/index.html") && [ -n "$page" ] && break; sleep 0.1; done
	is "$page" "<html><body><h1>servidorweb</h1></body></html>" "the host reaches the container's port through pasta"
	run lu port pw
	is "$rc|$out" "0|8080/tcp -> 127.0.0.1:$PP"$'\n' "port"
	id=$(lu inspect --format '{{.Id}}' pw)
	like "$(ps -o args= -p "$(cat "$S/overlay-containers/$id/userdata/pasta.pid")")" \
		"^pasta --config-net -t 127.0.0.1/$PP:8080 -u none -T none -U none --no-map-gw " \
		"pasta runs with podman's arguments (-t for -p, none for the rest, --no-map-gw)"
	run lu run -d --name pw2 --network pasta -p "127.0.0.1:$PP:8080" "$IMG"
	is "$rc" 126 "a port taken: exit 126 (podman's, for a port in use)"
	lu rm -f pw2 >/dev/null 2>&1
	run lu run --rm --network pasta:--bogus "$IMG" true
	is "$rc|$err" $'126|Error: failed to start pasta: pasta: unrecognized option \'--bogus\'\n' \
		"a bad pasta option: pasta's message, exit 126 (the container could not start)"
	lu rm -f pw >/dev/null
	for i in $(seq 300); do [ "$(left)" = "lrun-pause " ] && break; sleep 0.1; done
	is "$(left)" "lrun-pause " "rm -f: pasta is gone with the container"
	ok $(curl -s "http://127.0.0.1:$PP/" >/dev/null; echo $((!$?))) "its port is free"
	run lu run --rm --network slirp4netns "$IMG" true
	is "$rc" 0 "slirp4netns stays the default and works alongside"
else
	for i in $(seq 13); do skip "no pasta (Debian's passt)"; done
fi

# --------------------------------------------------------- none and host --
run lu run --rm --network none "$IMG" sh -c 'ls /sys/class/net'
is "$rc|$out" $'0|lo\n' "--network none: only lo"
run lu run --rm --network host "$IMG" busybox wget -q -O - "http://127.0.0.1:$HP/"
is "$rc|$out" $'0|host page\n' "--network host: the host's loopback"
done_testing
