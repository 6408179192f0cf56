#!/bin/bash
# Published ports: -p [IP:][HOSTPORT:]PORT[/tcp|udp] and ranges, -P with
# the image's EXPOSE, `port`, ps's PORTS column, a clash refused before
# the container starts, the port free again once the container stops (or
# its monitor is killed).  Traffic only to 127.0.0.1 and the containers
# made here; host ports are ones the kernel just handed out as free.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v nft >/dev/null || skip_all "no nft (apt-get install nftables)"
ctr_start
free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp")->sockport'; }
bindable() { perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], ReuseAddr => 1)' "$1"; }
get() { $TO wget -q -T 5 -O - "http://127.0.0.1:$1/index.html" 2>&1; }
PAGE="<html><body><h1>servidorweb</h1></body></html>$nl"

# ------------------------------------------------------------------ -p --
HP=$(free_port)
run $TO "$LRUN" --root "$R" run -d --name web -p "127.0.0.1:$HP:8080" "$IMG"
is "$rc|$err" "0|" "run -d -p 127.0.0.1:$HP:8080"
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$HP" 2>/dev/null
is "$(get "$HP")" "${PAGE%$nl}" "the container's server answers on the host's 127.0.0.1:$HP"
run "$LRUN" --root "$R" ps --format '{{.Names}} {{.Ports}}'
is "$out" "web 127.0.0.1:$HP->8080/tcp$nl" "ps: PORTS in docker's form"
run "$LRUN" --root "$R" ps
like "$out" "  127\\.0\\.0\\.1:$HP->8080/tcp  +web$nl\$" "  and in the table's PORTS column"
run "$LRUN" --root "$R" port web
is "$rc|$out" "0|8080/tcp -> 127.0.0.1:$HP$nl" "port web"
run "$LRUN" --root "$R" port web 8080/tcp
is "$out" "127.0.0.1:$HP$nl" "port web 8080/tcp"
run "$LRUN" --root "$R" port web 81
is "$rc|$err" "125|Error: failed to find published port \"81\"$nl" "port of a port not published: exit 125"

# a clash: refused before the container starts
run $TO "$LRUN" --root "$R" run --rm --name clash -p "127.0.0.1:$HP:80" "$IMG" sh -c 'echo started'
is "$rc|$out|$err" "126||Error: cannot listen on the TCP port: listen tcp4 127.0.0.1:$HP: Address already in use$nl" \
	"the same host port again: exit 126 (podman: a start that failed), a clear error, the command never ran"
is "$(jq '[.[] | select(.names[0] == "clash")] | length' "$R/overlay-containers/containers.json")" 0 "  and --rm removed it"

# the port goes with the container
"$LRUN" --root "$R" stop -t 1 web >/dev/null
ok $(bindable "$HP"; echo $?) "after stop the host port is free"
ok $(! pgrep -f '^lrun-proxy' >/dev/null; echo $?) "  and no proxy is left"
"$LRUN" --root "$R" start web >/dev/null
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$HP" 2>/dev/null
is "$(get "$HP")" "${PAGE%$nl}" "start again: published again"
proxy=$(pgrep -f '^lrun-proxy' | head -n 1)
monitor=$(awk '/^PPid:/ {print $2}' "/proc/$proxy/status" 2>/dev/null)
is "$monitor" "$(ctr_field web '.flags["lrun.monitor"]')" "the proxy is a child of the container's monitor"
kill -9 "$monitor"
wait_for 5 bindable "$HP"
ok $(bindable "$HP"; echo $?) "kill -9 of the monitor: the proxy goes with it, the port is free"
"$LRUN" --root "$R" rm -f web >/dev/null

# ----------------------------------------------------- ranges, UDP, any --
H1=$(free_port); H2=$(free_port)
run $TO "$LRUN" --root "$R" run -d --name multi -p "$H1:8080" -p "127.0.0.1::8080" -p "127.0.0.1:$H2:9000/udp" "$IMG"
is "$rc|$err" "0|" "-p HOSTPORT:PORT, -p IP::PORT (any free port), -p .../udp"
any=$("$LRUN" --root "$R" port multi | sed -n 's|^8080/tcp -> 127.0.0.1:||p')
like "$any" '^[0-9]+$' "  port shows the port the kernel picked"
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$H1" 2>/dev/null
is "$(get "$H1")|$(get "$any")" "${PAGE%$nl}|${PAGE%$nl}" "  both reach the server (0.0.0.0:$H1 via 127.0.0.1)"
# busybox has no UDP server: the container's own counter of datagrams to a
# port nobody listens on (its namespace's /proc/net/snmp) shows them arrive
udp_noports() { "$LRUN" --root "$R" exec multi grep '^Udp:' /proc/net/snmp | awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "NoPorts") c = i } NR == 2 { print $c }'; }
before=$(udp_noports)
perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Proto => "udp", PeerAddr => "127.0.0.1:'"$H2"'"); $s->send("datagram $_\n") for 1..3'
for _ in $(seq 50); do [ "$(udp_noports)" = $((before + 3)) ] && break; sleep 0.1; done
is "$(udp_noports)" "$((before + 3))" "  3 UDP datagrams to 127.0.0.1:$H2 reach the container's port 9000"
run "$LRUN" --root "$R" ps --format '{{.Ports}}'
is "$out" "0.0.0.0:$H1->8080/tcp, 127.0.0.1:$any->8080/tcp, 127.0.0.1:$H2->9000/udp$nl" "ps lists them all"
"$LRUN" --root "$R" rm -f multi >/dev/null
B=$(free_port); while ! bindable $((B + 1)) || ! bindable $((B + 2)); do B=$(free_port); done
run $TO "$LRUN" --root "$R" run -d --name range -p "127.0.0.1:$B-$((B + 2)):8080-8082" "$IMG"
run "$LRUN" --root "$R" ps --format '{{.Ports}}'
is "$out" "127.0.0.1:$B-$((B + 2))->8080-8082/tcp$nl" "a range: -p $B-$((B + 2)):8080-8082, shown as one"
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$B" 2>/dev/null
is "$(get "$B")" "${PAGE%$nl}" "  its first port reaches 8080"
"$LRUN" --root "$R" rm -f range >/dev/null

# ---------------------------------------------------------------- -P --
mkdir -p "$T/exp"
fx_busybox_rootfs "$T/exp/root" && mkdir -p "$T/exp/root/var/www" && echo exposed >"$T/exp/root/var/www/index.html" &&
	fx_layer_tar "$T/exp/root" "$T/exp/l.tar" &&
	fx_docker_archive "$T/exp/exp.tar" localhost/exposed:1 \
		'{"ExposedPorts":{"8080/tcp":{}},"Cmd":["/bin/busybox","httpd","-f","-p","8080","-h","/var/www"]}' "$T/exp/l.tar" ||
	bail "the EXPOSE image"
"$LRUN" --root "$R" load -q -i "$T/exp/exp.tar" >/dev/null
run $TO "$LRUN" --root "$R" run -d --name pub -P localhost/exposed:1
pp=$("$LRUN" --root "$R" port pub 8080 | sed 's/^0\.0\.0\.0://')
like "$pp" '^[0-9]+$' "-P: the image's EXPOSE 8080/tcp published on a free port ($pp)"
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$pp" 2>/dev/null
is "$(get "$pp")" "exposed" "  and reachable on 127.0.0.1"
"$LRUN" --root "$R" rm -f pub >/dev/null

# -------------------------------------------------------- bad input --
for bad in "80/sctp" "1.2.3:80:80" "99999:80" "8080-8081:80-82" "a:b"; do
	run "$LRUN" --root "$R" run --rm -p "$bad" "$IMG" true
	like "$rc|$err" "^125\\|Error: invalid -p \"$bad\"" "-p $bad: exit 125, a clear error"
done
run "$LRUN" --root "$R" run --rm --network none -p 8080 "$IMG" true
is "$rc|$err" "0|Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use$nl" \
	"-p with --network none: podman's warning"

done_testing
