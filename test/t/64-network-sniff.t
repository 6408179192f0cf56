#!/bin/bash
# A container must not read the host's traffic (issue 10, item 10): the
# default capabilities leave out CAP_NET_RAW, as podman 4's do, so a
# --network host container cannot open a packet socket on the host's lo
# and capture what the host sends there (an HTTP Authorization header in
# the review's attack); --cap-add NET_RAW or --privileged gives it back.
# ping keeps working in a network namespace of the container's own through
# ICMP datagram sockets (net.ipv4.ping_group_range "0 2147483647", docker's
# default sysctl); the host's own setting is never written.
# Traffic goes only to 127.0.0.1.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v gcc >/dev/null || skip_all "no gcc"
command -v nft >/dev/null || skip_all "no nft (apt-get install nftables)"
ctr_start

# sniff IFACE MARKER SECS: a packet socket on IFACE (the attack), then
# frames read until one holds MARKER.  sniff ping: an echo to 127.0.0.1
# through an ICMP datagram socket (iputils' ping; busybox's needs a raw
# one).  Prints what happened.
cat >"$T/sniff.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/ip_icmp.h>
static int ping(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (s < 0) {
        printf("icmp socket: %s\n", strerror(errno));
        return 1;
    }
    struct icmphdr echo = {.type = ICMP_ECHO, .un.echo.sequence = htons(1)};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct icmphdr reply;
    if (sendto(s, &echo, sizeof echo, 0, (struct sockaddr *)&to, sizeof to) < 0 ||
        recv(s, &reply, sizeof reply, 0) < (ssize_t)sizeof reply) {
        printf("ping: %s\n", strerror(errno));
        return 1;
    }
    printf("ping: %s\n", reply.type == ICMP_ECHOREPLY ? "echo reply" : "other");
    return 0;
}
int main(int argc, char **argv)
{
    if (strcmp(argv[1], "ping") == 0)
        return ping();
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) {
        printf("packet socket: %s\n", strerror(errno));
        int r = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
        printf("raw socket: %s\n", r < 0 ? strerror(errno) : "open");
        return 1;
    }
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                             .sll_ifindex = if_nametoindex(argv[1])};
    if (bind(s, (struct sockaddr *)&ll, sizeof ll) < 0) {
        printf("bind: %s\n", strerror(errno));
        return 1;
    }
    printf("packet socket: open\n");
    struct timeval tv = {0, 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    time_t end = time(NULL) + atoi(argv[3]);
    static char buf[65536];
    while (time(NULL) < end) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n > 0 && memmem(buf, n, argv[2], strlen(argv[2]))) {
            printf("captured: %s\n", argv[2]);
            return 0;
        }
    }
    printf("nothing captured\n");
    return 2;
}
C
gcc -static -O2 -o "$T/sniff" "$T/sniff.c" 2>"$T/gcc.err" || bail "cannot build the probe: $(cat "$T/gcc.err")"
SNIFF=(-v "$T/sniff:/sniff:ro")

# the host's secret: UDP datagrams to a port on its own 127.0.0.1, every 50 ms
SECRET="Authorization: Basic c2VrcmV0OnBhc3N3b3Jk"
PORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Proto => "udp", LocalAddr => "127.0.0.1", LocalPort => 0)->sockport')
perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
	my $s = IO::Socket::INET->new(Proto => "udp", PeerAddr => "127.0.0.1:'"$PORT"'") or die;
	for (1..1200) { $s->send("GET / HTTP/1.1\r\n'"$SECRET"'\r\n\r\n"); sleep 0.05 }' 2>/dev/null &
BG_PIDS+=($!)
host_range=$(cat /proc/sys/net/ipv4/ping_group_range)

# ------------------------------------------------------- --network host --
run $TO "$LRUN" --root "$R" run --rm --network host "${SNIFF[@]}" "$IMG" /sniff lo "$SECRET" 3
is "$rc|$out" "1|packet socket: Operation not permitted${nl}raw socket: Operation not permitted$nl" \
	"--network host: no packet or raw socket, the host's lo cannot be sniffed"
run $TO "$LRUN" --root "$R" run --rm --network host "$IMG" grep CapEff /proc/self/status
is "$out" "CapEff:	00000000a80405fb$nl" "  docker's default set without NET_RAW (bit 13)"
run $TO "$LRUN" --root "$R" run --rm --network host --cap-add NET_RAW "${SNIFF[@]}" "$IMG" /sniff lo "$SECRET" 5
is "$rc|$out" "0|packet socket: open${nl}captured: $SECRET$nl" \
	"  (with --cap-add NET_RAW the same probe captures the host's secret: the attack is real)"
run $TO "$LRUN" --root "$R" run --rm --network host --privileged "${SNIFF[@]}" "$IMG" /sniff lo "$SECRET" 5
is "$rc|$out" "0|packet socket: open${nl}captured: $SECRET$nl" "  and with --privileged"
run $TO "$LRUN" --root "$R" run -d --name hostnet --network host "$IMG" sleep 60
run $TO "$LRUN" --root "$R" exec hostnet grep CapEff /proc/self/status
is "$out" "CapEff:	00000000a80405fb$nl" "exec into a host-network container: no NET_RAW either"
"$LRUN" --root "$R" cp "$T/sniff" hostnet:/sniff 2>/dev/null
run $TO "$LRUN" --root "$R" exec hostnet /sniff lo "$SECRET" 3
is "$rc|$out" "1|packet socket: Operation not permitted${nl}raw socket: Operation not permitted$nl" \
	"  its packet socket is refused"
run $TO "$LRUN" --root "$R" run --rm --network container:hostnet "${SNIFF[@]}" "$IMG" /sniff lo "$SECRET" 3
is "$rc|$out" "1|packet socket: Operation not permitted${nl}raw socket: Operation not permitted$nl" \
	"--network container:<a host-network container>: refused as well"
"$LRUN" --root "$R" rm -f -t 0 hostnet >/dev/null
is "$(cat /proc/sys/net/ipv4/ping_group_range)" "$host_range" "the host's ping_group_range is untouched"

# ---------------------------------------------------- the default bridge --
run $TO "$LRUN" --root "$R" run --rm "${SNIFF[@]}" "$IMG" /sniff eth0 "$SECRET" 3
is "$rc|$out" "1|packet socket: Operation not permitted${nl}raw socket: Operation not permitted$nl" \
	"the default network: no packet socket on the bridge either (no forged neighbours)"
run $TO "$LRUN" --root "$R" run --rm "${SNIFF[@]}" "$IMG" sh -c 'cat /proc/sys/net/ipv4/ping_group_range; /sniff ping'
is "$rc|$out" "0|0	2147483647${nl}ping: echo reply$nl" "  ping works without NET_RAW (an ICMP datagram socket, its own ping_group_range)"
run $TO "$LRUN" --root "$R" run --rm -u app "${SNIFF[@]}" "$IMG" /sniff ping
is "$rc|$out" "0|ping: echo reply$nl" "  for a non-root user too"
run $TO "$LRUN" --root "$R" run --rm --network none "$IMG" cat /proc/sys/net/ipv4/ping_group_range
is "$out" "0	2147483647$nl" "  --network none: the same in its empty namespace"
is "$(cat /proc/sys/net/ipv4/ping_group_range)" "$host_range" "the host's ping_group_range is still untouched"

done_testing
