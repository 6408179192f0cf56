#!/bin/bash
# User networks: network create|ls|inspect|rm|prune|exists|connect|disconnect with --subnet,
# --gateway, --internal, -d bridge, --label, -f/--format, -q, as podman's
# (table shapes, messages, exit codes); run --network NAME; containers of a
# network find each other by name and --network-alias (/etc/hosts kept
# current); nothing left after network rm (bridge, nft table,
# reservations, record).  Traffic goes only to the containers made here.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v nft >/dev/null || skip_all "no nft (apt-get install nftables)"
ctr_start

# a free /24 for this run (parallel stores and the host's own addresses)
free_subnet() {
	local i
	for i in $(seq "$1" 250); do
		ip -4 -o addr | grep -q " 10\.$i\." && continue
		grep -qs "\"10\.$i\." "$R"/networks/*.json && continue
		echo "10.$i.7.0/24"; return
	done
}

# ------------------------------------------------------------ create, ls --
run L network ls
is "$rc|$out|$err" "0|NETWORK ID  NAME        DRIVER$nl|" "network ls of a new store: the header only"
run L network create
is "$rc|$out|$err" "0|lrun1$nl|" "network create without a name: lrun1 (as podman's podman1)"
SUB=$(free_subnet 120); P=${SUB%.0/24}
run L network create --subnet "$SUB" --gateway "$P.254" --label team=blue --label tier app
is "$rc|$out|$err" "0|app$nl|" "network create --subnet --gateway --label app"
is "$(jq -c '[.name, .driver, .subnets, .internal, .dns_enabled, .labels, (.id | length)]' "$R/networks/app.json")" \
	"[\"app\",\"bridge\",[{\"subnet\":\"$SUB\",\"gateway\":\"$P.254\"}],false,true,{\"team\":\"blue\",\"tier\":\"\"},64]" \
	"  networks/app.json: netavark's shape, the subnet, gateway, labels, DNS on"
BR=$(jq -r .network_interface "$R/networks/app.json")
is "$(ip -o -4 addr show dev "$BR" | awk '{print $4}')" "$P.254/24" "  its bridge $BR is made at once with the gateway"
is "$(ip -d -o link show "$BR" | grep -o "alias lrun:$R:app")" "alias lrun:$R:app" "  its alias names this store and network"
like "$(nft list table ip "lrun_$BR" 2>&1)" "ip saddr $SUB ip daddr != $SUB masquerade" "  outbound NAT for its subnet"
run L network create --internal -d bridge inner
is "$rc|$out" "0|inner$nl" "network create --internal -d bridge"
IBR=$(jq -r .network_interface "$R/networks/inner.json")
ISUB=$(jq -r '.subnets[0].subnet' "$R/networks/inner.json")
like "$ISUB" '^10\.[0-9]+\.[0-9]+\.0/24$' "  a free /24 of podman's pool when no --subnet ($ISUB)"
ok $(nft list table ip "lrun_$IBR" >/dev/null 2>&1; [ $? != 0 ]; echo $?) "  internal: no NAT table"

run L network create app
is "$rc|$out|$err" "125||Error: network name app already used: network already exists$nl" "a name taken: exit 125"
run L network create --ignore app
is "$rc|$out" "0|app$nl" "  --ignore: the name, exit 0"
run L network create 'bad name'
is "$rc|$err" "125|Error: network name bad name invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument$nl" \
	"an invalid name: podman's message"
run L network create ../x
is "$rc|$(ls "$R" | grep -c x)" "125|0" "  ../x is refused (names are file names under networks/)"
run L network create host
is "$rc|$err" "125|Error: cannot create network with name \"host\" because it conflicts with a valid network mode$nl" \
	"a network mode's name is refused"
run L network create --gateway 10.1.1.1 nosub
is "$rc|$err" "125|Error: cannot set gateway or range without subnet$nl" "--gateway without --subnet"
run L network create --subnet "$SUB" --gateway 10.1.1.1 out
is "$rc|$err" "125|Error: gateway 10.1.1.1 not in subnet $SUB$nl" "a gateway outside the subnet"
run L network create --subnet "$P.128/25" overlap
is "$rc|$err" "125|Error: subnet $P.128/25 is already used on the host or by another config$nl" "an overlapping subnet"
run L network create --subnet 10.1.2.3 nomask
is "$rc|$err" "125|Error: invalid subnet 10.1.2.3: want an IPv4 network like 10.89.0.0/24 (prefix 8 to 30)$nl" "a subnet without a prefix"
run L network create -d macvlan mv
is "$rc|$err" "125|Error: unsupported driver macvlan: invalid argument$nl" "-d macvlan: unsupported"
is "$(ls "$R/networks" | grep -c json)" 3 "the failed creates left no record"

APPID=$(jq -r .id "$R/networks/app.json")
INID=$(jq -r .id "$R/networks/inner.json")
L1ID=$(jq -r .id "$R/networks/lrun1.json")
run L network ls
is "$out" "NETWORK ID    NAME        DRIVER
${APPID:0:12}  app         bridge
${INID:0:12}  inner       bridge
${L1ID:0:12}  lrun1       bridge
" "network ls: podman's table, sorted by name, 12-character IDs"
run L network ls -q
is "$out" "app${nl}inner${nl}lrun1$nl" "network ls -q: the names"
run L network ls --noheading --filter label=team=blue
is "$out" "${APPID:0:12}  app         bridge$nl" "--filter label=team=blue --noheading"
run L network ls --format '{{.Name}} {{.ID}} {{.NetworkInterface}} {{.Internal}} {{.DNSEnabled}}' --filter name=^in
is "$out" "inner ${INID:0:12} $IBR true true$nl" "--format with podman's field names, --filter name=REGEX"
run L network ls --format 'table {{.Name}}\t{{.Driver}}' -f id="${INID:0:6}"
is "$out" "NAME        DRIVER${nl}inner       bridge$nl" "--format table ... and -f id=PREFIX"
run L network ls --format json
is "$(printf %s "$out" | jq -c '[.[].name]')" '["app","inner","lrun1"]' "--format json: the records"
run L network ls --filter bogus=1
is "$rc" 125 "an unknown filter: exit 125"

# ---------------------------------------------------- inspect, exists --
run L network inspect app
is "$rc|$(printf %s "$out" | jq -c '.[0] | [.name, .id, .network_interface, .subnets[0].gateway, .ipam_options.driver]')" \
	"0|[\"app\",\"$APPID\",\"$BR\",\"$P.254\",\"host-local\"]" "network inspect: an array of records"
is "$(printf %s "$out" | sed -n 3p)" '          "name": "app",' "  indented as podman's inspect"
run L network inspect -f '{{.Name}} {{.Driver}} {{.Labels}}' "${APPID:0:10}"
is "$rc|$out" "0|app bridge map[team:blue tier:]$nl" "inspect -f TEMPLATE, by an ID prefix"
run L network inspect app nope
is "$rc|$(printf %s "$out" | jq -c '[.[].name]')|$err" \
	"125|[\"app\"]|Error: inspecting object: network nope: unable to find network with name or ID nope: network not found$nl" \
	"inspect of a missing one: the others shown, then exit 125"
run L network exists app
is "$rc|$out" "0|" "network exists app: 0"
run L network exists nope
is "$rc|$out|$err" "1||" "network exists nope: 1, nothing said"

# -------------------------------------------------- run --network NAME --
# (no wget -T in a container: busybox 1.35's crashes with it)
run L run -d --name db --network app --network-alias database --network-alias store "$IMG"
is "$rc|$err" "0|" "run -d --network app --network-alias database --network-alias store"
DB=$(jq -r .address "$R/overlay-containers/$(ctr_field db .id)/userdata/lrun.json")
is "$DB" "$P.1" "  the first address of app (the gateway is .254)"
is "$(cat "$R/networks/app/$DB")" "$(ctr_field db .id)" "  reserved in networks/app/$DB"
DBID=$(ctr_field db .id)
mac_of() { printf '02:42:%02x:%02x:%02x:%02x' ${1//./ }; }
run L inspect -f '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.MacAddress}} {{.NetworkSettings.SandboxKey}}' db
is "$out" "$DB $P.254 24 $(mac_of "$DB") /proc/$(ctr_field db '.flags["lrun.pid"]')/ns/net$nl" \
	"inspect: NetworkSettings' address, gateway, prefix, MAC (the container's own), namespace"
is "$(L exec db cat /sys/class/net/eth0/address)" "$(mac_of "$DB")" "  (docker's MAC: 02:42 and the address)"
run L inspect --format '{{json .NetworkSettings.Networks}}' db
is "$(printf %s "$out" | jq -c '.app | [.IPAddress, .Gateway, .IPPrefixLen, .NetworkID, .Aliases]')" \
	"[\"$DB\",\"$P.254\",24,\"app\",[\"${DBID:0:12}\",\"database\",\"store\"]]" \
	"  and .Networks.app, its aliases after the short ID (podman's shape)"
run L run --rm --name probe --network app "$IMG" sh -c \
	'ip -4 -o addr show eth0 | awk "{print \$4}"; ip route | head -1; cat /etc/hosts; for n in db database store '"${DBID:0:12}"'; do wget -q -O - http://$n:8080/index.html; done'
PROBE_IP=$P.2
hn_line=$(printf %s "$out" | grep "^$PROBE_IP	")
is "$(printf %s "$out" | grep -c '<h1>servidorweb</h1>')" 4 "a container of app reaches db by name, both aliases and short ID"
is "$(printf %s "$out" | grep "^$DB	")" "$DB	db database store ${DBID:0:12}" "  /etc/hosts: db's line (name, aliases, short ID)"
like "$hn_line" "^$PROBE_IP	[0-9a-f]{12} probe\$" "  and its own"
run L exec db cat /etc/hosts
is "$(printf %s "$out" | grep -c "^$PROBE_IP	")" 0 "once the --rm container is gone, db's /etc/hosts no longer names it"
run L run -d --name web --network app "$IMG"
WEBIP=$(jq -r .address "$R/overlay-containers/$(ctr_field web .id)/userdata/lrun.json")
wait_for 5 "$LRUN" --root "$R" exec db sh -c 'nc -w 1 web 8080 </dev/null' # its server is up
run L exec db sh -c "grep '^$WEBIP	' /etc/hosts; wget -q -O - http://web:8080/index.html"
is "$out" "$WEBIP	web $(ctr_field web .id | cut -c1-12)$nl<html><body><h1>servidorweb</h1></body></html>$nl" \
	"a container started later is in db's /etc/hosts at once (in place: db runs) and reachable by name"
is "$WEBIP|$(L exec web cat /sys/class/net/eth0/address)" "$PROBE_IP|$(mac_of "$WEBIP")" \
	"  it took the --rm container's address; its MAC is docker's 02:42:<address>, so db's ARP cache stays right"
run L run --rm "$IMG" sh -c 'grep -c "	db " /etc/hosts; nc -w 2 db 8080 </dev/null 2>&1 || echo unknown'
is "$out" "0${nl}nc: bad address 'db'${nl}unknown$nl" "a container of the default network does not know db"
run L run --rm --network inner "$IMG" sh -c 'ip route; ip -4 -o addr show eth0 | awk "{print \$4}"'
like "$out" "^10\\.[0-9.]+/24 dev eth0 scope link  src 10\\.[0-9.]+ $nl[0-9.]+/24$nl\$" "--network inner: no default route"
run L run --rm --network nope "$IMG" true
is "$rc|$err" "125|Error: unable to find network with name or ID nope: network not found$nl" "--network of a missing network: exit 125"
run L run --rm --network-alias 'a b' --network app "$IMG" true
like "$rc|$err" "^125\\|Error: invalid --network-alias \"a b\"" "an invalid alias: exit 125"

# ------------------------------------------------ connect, disconnect --
SUB2=$(free_subnet 140); Q=${SUB2%.0/24}
L network create --subnet "$SUB2" back >/dev/null
L run -d --name other --network back "$IMG" >/dev/null
WEBID=$(ctr_field web .id)
run L network connect --alias webby --ip "$Q.50" back web
is "$rc|$out|$err" "0||" "network connect --alias --ip back web (running)"
wait_for 5 "$LRUN" --root "$R" exec web sh -c 'nc -w 1 other 8080 </dev/null'
run L exec web sh -c 'ip -4 -o addr show eth1 | awk "{print \$4}"; cat /sys/class/net/eth1/address; ip route | head -1; wget -q -O - http://other:8080/index.html'
is "$out" "$Q.50/24$nl$(mac_of "$Q.50")${nl}default via $P.254 dev eth0 $nl<html><body><h1>servidorweb</h1></body></html>$nl" \
	"  web gets eth1 at once (the default route stays on eth0) and finds other by name"
run L exec other sh -c "grep '^$Q.50	' /etc/hosts; wget -q -O - http://webby:8080/index.html"
is "$out" "$Q.50	web webby ${WEBID:0:12}$nl<html><body><h1>servidorweb</h1></body></html>$nl" \
	"  other finds web by name and alias"
is "$(cat "$R/networks/back/$Q.50")" "$WEBID" "  the address is reserved for web"
run L inspect --format '{{json .NetworkSettings.Networks}}' web
is "$(printf %s "$out" | jq -c '[keys[], .back.IPAddress, .back.Aliases]')" "[\"app\",\"back\",\"$Q.50\",[\"${WEBID:0:12}\",\"webby\"]]" \
	"  inspect shows both networks"
run L ps --filter network=back --format '{{.Names}}'
is "$(printf %s "$out" | sort | tr '\n' ' ')" "other web " "ps --filter network=back: its containers, connected ones too"
run L ps --filter network=app --filter network=nope --format '{{.Names}}'
is "$(printf %s "$out" | sort | tr '\n' ' ')" "db web " "  --filter network=app (or a missing one)"
run L network connect back web
is "$rc|$err" "125|Error: container $WEBID is already connected to network \"back\": network is already connected$nl" \
	"connecting it again: exit 125"
run L network disconnect back web
is "$rc|$out|$err" "0||" "network disconnect back web"
run L exec web sh -c 'ls /sys/class/net; grep -c "	other " /etc/hosts'
is "$out" "eth0${nl}lo${nl}0$nl" "  eth1 is gone, and other from its /etc/hosts"
run L exec other grep -c "	web " /etc/hosts
is "$out" "0$nl" "  and web from other's"
is "$(ls "$R/networks/back")" "$Q.2" "  the reservation is released (other's stays)"
run L network disconnect back web
is "$rc|$err" "125|Error: container $WEBID is not connected to network \"back\": network not found$nl" "disconnecting it again: exit 125"
run L network disconnect app web
is "$rc|$err" "125|Error: container $WEBID was made on network \"app\": lrun keeps a container's first network$nl" \
	"its first network stays"
run L network connect back nope
is "$rc|$err" "125|Error: no container with name or ID \"nope\" found: no such container$nl" "connect of a missing container"
L stop -t 0 web >/dev/null
run L network connect back web
is "$rc" 0 "network connect of a stopped container"
L start web >/dev/null
run L exec web ls /sys/class/net
is "$out" "eth0${nl}eth1${nl}lo$nl" "  its eth1 is made when it starts"

# ------------------------------------------------------------ rm, prune --
run L network rm app
is "$rc|$out|$err" "2||Error: \"app\" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used$nl" \
	"network rm of a network in use: exit 2, podman's message"
run L network rm nope
is "$rc|$err" "1|Error: unable to find network with name or ID nope: network not found$nl" "network rm of a missing one: exit 1"
run L network rm lrun
is "$rc|$err" "125|Error: default network lrun cannot be removed$nl" "the default network cannot be removed"
run L network prune -f
is "$rc|$out" "0|inner${nl}lrun1$nl" "network prune -f: the networks no container uses"
ok $(bridge_gone "$R" "$IBR"; echo $?) "  their bridges are gone"
run L network ls -q
is "$out" "app${nl}back$nl" "  app and back (in use) stay"
run L network rm -f app
is "$rc|$out" "0|app$nl" "network rm -f app: its containers go first"
run L ps -a --format '{{.Names}}'
is "$out" "other$nl" "  db and web are removed"
run L network rm -f back
is "$rc|$out" "0|back$nl" "network rm -f back (other goes too)"
ok $(bridge_gone "$R" "$BR"; echo $?) "  the bridge $BR is gone"
ok $(nft list table ip "lrun_$BR" >/dev/null 2>&1; [ $? != 0 ]; echo $?) "  and its nft table"
is "$(ls -A "$R/networks" | grep -v '^lrun')" "" "  and its record and reservations"
is "$(ip -o link show 2>/dev/null | grep -c "master $BR")" 0 "  and every veth"
run L network create spare
echo n | L network prune >"$T/prune.out" 2>"$T/prune.err"
is "$?|$(cat "$T/prune.out")|$(cat "$T/prune.err")|$(L network ls -q)" \
	"0|WARNING! This will remove all networks not used by at least one container.|Are you sure you want to continue? [y/N] |spare" \
	"network prune answered n: podman's question, nothing removed"
L network rm spare >/dev/null

done_testing
