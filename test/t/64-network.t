#!/bin/bash
# Networking: the default bridge network (a namespace per container, a veth
# on the store's bridge, a reserved address, a default route, NAT), the
# /etc files written for it, --network none|host|container:|ns:, --ip,
# --mac-address, --dns*, --add-host, --no-hosts; isolation from the host's
# loopback; nothing left after rm, or after kill -9 mid-setup.
# Traffic goes only to 127.0.0.1 and to the containers made here.  Each
# store gets its own bridge (lrunN) and subnet, so parallel runs of lrun's
# tests (each with its own store) do not collide.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v nft >/dev/null || skip_all "no nft (apt-get install nftables)"
ctr_start

# -------------------------------------------------- the default network --
run $TO "$LRUN" --root "$R" run -d --name web "$IMG"
is "$rc|$err" "0|" "run -d a web server on the default network"
net=$(jq -c '[.name, .driver, .network_interface, .subnets[0].subnet, .subnets[0].gateway, .internal]' "$R/networks/lrun.json")
like "$net" '^\["lrun","bridge","lrun[0-9]+","10\.[0-9]+\.0\.0/16","10\.[0-9]+\.0\.1",false\]$' \
	"networks/lrun.json: the default network, netavark's shape: lrunN, 10.x.0.0/16, gateway .1"
BR=$(jq -r .network_interface "$R/networks/lrun.json")
SUBNET=$(jq -r '.subnets[0].subnet' "$R/networks/lrun.json")
GW=$(jq -r '.subnets[0].gateway' "$R/networks/lrun.json")
P=${GW%.1}  # the subnet's first three octets
is "$(ip -d -o link show "$BR" 2>/dev/null | grep -o "alias lrun:$R:lrun")" "alias lrun:$R:lrun" \
	"the bridge $BR exists, its alias names this store and network"
is "$(ip -o -4 addr show dev "$BR" | awk '{print $4}')" "$GW/16" "  it holds the gateway address"
like "$(nft list table ip "lrun_$BR" 2>&1)" "ip saddr $SUBNET ip daddr != $SUBNET masquerade" \
	"  nft table lrun_$BR masquerades the subnet's outbound traffic"
WEB_IP=$(jq -r .address "$R/overlay-containers/$(ctr_field web .id)/userdata/lrun.json")
is "$WEB_IP" "$P.2" "the first container gets the first address after the gateway"
is "$(cat "$R/networks/lrun/$WEB_IP")" "$(ctr_field web .id)" "  reserved in networks/lrun/$WEB_IP (naming the container)"
is "$(ip -o link show master "$BR" 2>/dev/null | wc -l)" 1 "  its veth is on the bridge"

run $TO "$LRUN" --root "$R" run --rm --name probe "$IMG" sh -c \
	'ls /sys/class/net; ip -4 -o addr show eth0 | awk "{print \$4}"; ip route; cat /etc/hosts; hostname'
hn=$(printf %s "$out" | tail -n 1)
is "$out" "eth0
lo
$P.3/16
default via $GW dev eth0 ${nl}$SUBNET dev eth0 scope link  src $P.3 ${nl}127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
$GW	host.containers.internal host.docker.internal
$P.3	$hn probe
$hn
" "a container: lo and eth0 with the next address, a default route via the gateway, /etc/hosts for it"

run $TO "$LRUN" --root "$R" run --rm "$IMG" busybox wget -q -O - "http://$WEB_IP:8080/index.html"
is "$rc|$out" "0|<html><body><h1>servidorweb</h1></body></html>$nl" "one container reaches another's server on the bridge"
run $TO wget -q -T 5 -O - "http://$WEB_IP:8080/index.html"
is "$rc|$out" "0|<html><body><h1>servidorweb</h1></body></html>$nl" "the host reaches it at its address"

# ------------------------------------------ isolation from the host's lo --
# Its namespace has its own lo (and NET_RAW is gone, 64-network-sniff.t):
# the host's loopback traffic never reaches any interface it can read.
HPORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport')
busybox nc -l -p "$HPORT" -s 127.0.0.1 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_for 5 sh -c "exec 3<>/dev/tcp/127.0.0.1/$HPORT" 2>/dev/null
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c "nc -w 2 127.0.0.1 $HPORT </dev/null && echo reached || echo refused"
is "$out" $'refused\n' "a server on the host's 127.0.0.1 is out of a container's reach"
run $TO "$LRUN" --root "$R" run --rm "$IMG" sh -c "nc -w 2 $WEB_IP 8080 </dev/null && echo reached || echo refused"
is "$out" $'reached\n' "  (while the same probe reaches a container's server)"
"$LRUN" --root "$R" run -d --name sniff "$IMG" sleep 60 >/dev/null
counters() { "$LRUN" --root "$R" exec sniff sh -c 'cat /sys/class/net/lo/statistics/rx_packets /sys/class/net/eth0/statistics/rx_packets' | tr '\n' ' '; }
before=$(counters)
perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Proto => "udp", PeerAddr => "127.0.0.1:'"$HPORT"'") or die; $s->send("x" x 100) for 1..500'
after=$(counters)
read -r lo0 eth0 <<<"$before"; read -r lo1 eth1 <<<"$after"
ok $(( !(lo1 == lo0 && eth1 - eth0 < 50) )) "500 packets on the host's loopback: none on the container's lo or eth0 ($before-> $after)"
"$LRUN" --root "$R" rm -f sniff >/dev/null

# ---------------------------------------------------------------- options --
run $TO "$LRUN" --root "$R" run --rm --ip "$P.77" --mac-address 02:11:22:33:44:55 -h myhost --dns 10.1.2.3 \
	--dns-search a.example --dns-option ndots:2 --add-host db.local:10.9.8.7 "$IMG" sh -c \
	'ip -4 -o addr show eth0 | awk "{print \$4}"; cat /sys/class/net/eth0/address; cat /etc/resolv.conf; grep -v localhost /etc/hosts'
is "$out" "$P.77/16
02:11:22:33:44:55
search a.example
nameserver 10.1.2.3
options ndots:2
10.9.8.7	db.local
$GW	host.containers.internal host.docker.internal
$P.77	myhost ${out##*myhost }" "--ip, --mac-address, --dns, --dns-search, --dns-option, --add-host, -h"
like "$out" "$P.77	myhost [a-z]+_[a-z]+$nl\$" "  (the generated name follows the hostname)"
run $TO "$LRUN" --root "$R" run --rm --ip "$WEB_IP" "$IMG" true
is "$rc|$err" "125|Error: IPAM error: requested ip address $WEB_IP is already allocated to another container$nl" \
	"--ip of an address in use: exit 125, nothing started"
run $TO "$LRUN" --root "$R" run --rm --ip 192.168.77.5 "$IMG" true
like "$rc|$err" "^125\\|Error: IPAM error: requested ip address 192.168.77.5 is not in a usable range" "--ip outside the subnet: exit 125"
run $TO "$LRUN" --root "$R" run --rm --ip nonsense --mac-address 01:00:00:00:00:01 "$IMG" true
like "$rc|$err" "^125\\|Error: nonsense is not an IP address" "a malformed --ip: exit 125"
run $TO "$LRUN" --root "$R" run --rm --add-host nocolon "$IMG" true
is "$rc|$err" "125|Error: invalid --add-host \"nocolon\": want HOST:IP$nl" "a malformed --add-host: exit 125"
run $TO "$LRUN" --root "$R" run --rm --no-hosts "$IMG" sh -c 'grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/mounts | cut -d" " -f2 | sort'
is "$out" $'/etc/hostname\n/etc/resolv.conf\n' "--no-hosts: the image's /etc/hosts, not one of lrun's"
is "$(ls "$R/networks/lrun" | sort | tr '\n' ' ')" "$WEB_IP " "the --rm containers' reservations are gone; web's stays"

# ---------------------------------------------- none, host, container:, ns: --
run $TO "$LRUN" --root "$R" run --rm --network container:web "$IMG" sh -c 'ip -4 -o addr show eth0 | awk "{print \$4}"; wget -q -O - http://127.0.0.1:8080/index.html'
is "$out" "$WEB_IP/16${nl}<html><body><h1>servidorweb</h1></body></html>$nl" \
	"--network container:web: web's eth0, and web's server on the shared 127.0.0.1"
touch "$T/netns"
unshare --net="$T/netns" true
run $TO "$LRUN" --root "$R" run --rm --network "ns:$T/netns" "$IMG" ls /sys/class/net
is "$rc|$out" "0|lo$nl" "--network ns:PATH joins that namespace"
run $TO "$LRUN" --root "$R" run --rm --network none "$IMG" ls /sys/class/net
is "$out" "lo$nl" "--network none: lo only"
run $TO "$LRUN" --root "$R" run --rm --network container:nosuch "$IMG" true
like "$rc|$err" "^125\\|Error: --network container:nosuch: " "container: of an unknown container: exit 125"

# ------------------------------------------------------- stores apart --
R2=$T/root2
"$LRUN" --root "$R2" load -q -i "$FX/v1.tar" >/dev/null
"$LRUN" --root "$R2" create --name other "$IMG" true >/dev/null
BR2=$(jq -r .network_interface "$R2/networks/lrun.json")
SUBNET2=$(jq -r '.subnets[0].subnet' "$R2/networks/lrun.json")
ok $([ "$BR2" != "$BR" ] && [ "$SUBNET2" != "$SUBNET" ]; echo $?) "a second store gets its own bridge and subnet ($BR2 $SUBNET2)"
"$LRUN" --root "$R2" rm other >/dev/null
ok $(bridge_gone "$R2" "$BR2"; echo $?) "  removed with its last container"

# ------------------------------------ a store lrun cannot see is not gone --
# lrun in a mount namespace of its own (a private /tmp: this store hidden)
# makes a network; the bridges of the stores it cannot see stay.  lrun
# tells by pid 1's mount namespace, which this machine may not let it read:
# so in a pid namespace of the test's, whose pid 1 (sh) sees the files
"$LRUN" --root "$R" network create seen >/dev/null
SBR=$(jq -r .network_interface "$R/networks/seen.json")
unshare -p -f -m --mount-proc sh -c "unshare -m --propagation private sh -c \"mount -t tmpfs none '$T' &&
	'$LRUN' --root '$T/s3' network create hidden >/dev/null && '$LRUN' --root '$T/s3' network rm hidden >/dev/null\""
is "$?:$(bridge_gone "$R" "$SBR"; echo $?)" "0:1" "lrun with this store hidden (a private /tmp) leaves its bridge $SBR"
"$LRUN" --root "$R" network rm seen >/dev/null
unshare -p -f -m --mount-proc sh -c "'$LRUN' --root '$T/s5' network create gone5 >/dev/null && rm -rf '$T/s5' &&
	'$LRUN' --root '$R' network create next5 >/dev/null && '$LRUN' --root '$R' network rm next5 >/dev/null"
is "$?:$(ip -d -o link show | grep -c "alias lrun:$T/s5:")" "0:0" "… while lrun that sees the host's files (as pid 1) collects a removed store's bridge"
# a store removed for good: its bridge is collected by the next network made
"$LRUN" --root "$T/s4" network create gone >/dev/null
GBR=$(jq -r .network_interface "$T/s4/networks/gone.json")
rm -rf "$T/s4"
"$LRUN" --root "$R" network create next >/dev/null
is "$(bridge_gone "$T/s4" "$GBR"; echo $?)" 0 "the bridge of a store removed from the host is collected"
"$LRUN" --root "$R" network rm next >/dev/null

# ------------------------------------------------------------- cleanup --
# kill -9 of lrun at points of its setup; what is left the next command takes back
for d in 0.02 0.05 0.1 0.2 0.3; do
	"$LRUN" --root "$R" run --rm "$IMG" true >/dev/null 2>&1 &
	p=$!; sleep $d; kill -9 $p 2>/dev/null; wait $p 2>/dev/null
done
"$LRUN" --root "$R" rm -a -f >/dev/null 2>&1
ok $(bridge_gone "$R" "$BR"; echo $?) "after kill -9 mid-setup and rm -a -f: the bridge is gone"
ok $(nft list table ip "lrun_$BR" >/dev/null 2>&1; [ $? != 0 ]; echo $?) "  and its nft table"
is "$(ls -A "$R/networks")" "" "  and the network's record and reservations"
is "$(ip -o link show 2>/dev/null | grep -c "master $BR")" 0 "  and every veth"
# a crash between the reservation and the record leaves a reservation of no
# container: the next allocation takes it back
# (the network is made again: its subnet may differ, others' tests run too)
"$LRUN" --root "$R" create --name a "$IMG" true >/dev/null
BR=$(jq -r .network_interface "$R/networks/lrun.json")
GW=$(jq -r '.subnets[0].gateway' "$R/networks/lrun.json")
P=${GW%.1}
echo -n 0000000000000000000000000000000000000000000000000000000000000000 >"$R/networks/lrun/$P.3"
"$LRUN" --root "$R" create --name b "$IMG" true >/dev/null
is "$(jq -r .address "$R/overlay-containers/$(ctr_field b .id)/userdata/lrun.json")" "$P.3" \
	"a reservation left by a crash (no such container) is taken back"
"$LRUN" --root "$R" rm a b >/dev/null
is "$(ls -A "$R/networks") $(bridge_gone "$R" "$BR"; echo $?)" " 0" \
	"rm of the last containers: no record, reservation or bridge remains"

done_testing
