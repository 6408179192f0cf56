#!/bin/bash
# Locking: concurrent loads never interleave writes; every change writes a
# fresh 64-byte last-write token into the .lock file; lrun waits for fcntl
# (POSIX) locks held by another process (podman uses the same locks).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb whiteouts
L1=d5ea046f6b72564323cd586a066831477b3d7246be35c7b87cb79eda3db027c4
L2=24db95f1fcb2e2bb9f6cc675a30ffee0c93d2d0f561e06484129aaa71e0f7c7b
L3=bc1dd8d4b7784df4ab9374c8c871adf7c3d8a4360a5e0ad3c508f8bbbb8d686b
L3b=28ad61c640b708043c82156b2deb526aafbd40269b2a721de00193bcdb189efe

# ===================================================== parallel loads ========
# Several rounds, each into a store that does not exist yet (store creation
# races too); both loads are released at the same instant by a FIFO barrier.
for round in 1 2 3; do
	R=$T/par$round
	mkfifo "$T/go$round"
	( read -r _ <"$T/go$round"; exec "$LRUN" --root "$R" load -i "$F/v1.tar" >"$T/p1.out" 2>"$T/p1.err" ) & p1=$!
	( read -r _ <"$T/go$round"; exec "$LRUN" --root "$R" load -i "$F/v2.tar" >"$T/p2.out" 2>"$T/p2.err" ) & p2=$!
	BG_PIDS+=("$p1" "$p2")
	sleep 0.2; printf 'go\ngo\n' >"$T/go$round"
	wait "$p1"; r1=$?; wait "$p2"; r2=$?
	is "$r1 $r2" "0 0" "round $round: two parallel loads (v1, v2) both succeed"
	[ "$r1$r2" = 00 ] || diag "$(cat "$T/p1.err" "$T/p2.err")"
	is "$(cat "$T/p1.out" "$T/p2.out")" $'Loaded image: localhost:5000/servidorweb:v1\nLoaded image: localhost:5000/servidorweb:v2' \
		"round $round: both report their image"
	LJ=$R/overlay-layers/layers.json
	is "$(jq -c '[.[].id] | sort' "$LJ" 2>&1)" "$(printf '%s\n' $L1 $L2 $L3 $L3b | sort | jq -Rsc 'split("\n")[:-1]')" \
		"round $round: layers.json has exactly the 4 layers (shared ones once)"
	is "$(jq -c '[.[].id] as $ids | [.[] | select(.parent != null and (.parent as $p | $ids | index($p)) == null)] | length' "$LJ" 2>&1)" "0" \
		"round $round: every parent is a recorded layer"
	is "$(jq -c --arg a $L1 --arg b $L2 --arg c $L3 --arg d $L3b \
		'[.[] | [.id, .parent]] | sort' "$LJ" 2>&1)" \
		"$(jq -cn --arg a $L1 --arg b $L2 --arg c $L3 --arg d $L3b '[[$a, null], [$b, $a], [$c, $b], [$d, $b]] | sort')" \
		"round $round: parent chain L1 <- L2 <- {v1 top, v2 top}"
	is "$(jq -c '[.[] | select(.flags.incomplete == true)] | length' "$LJ" 2>&1)" 0 "round $round: no incomplete layer"
	is "$(jq -c '[.[].names[]] | sort' "$R/overlay-images/images.json" 2>&1)" \
		'["localhost:5000/servidorweb:v1","localhost:5000/servidorweb:v2"]' "round $round: images.json has both images"
	is "$(ls -A "$R/overlay" | grep -vx l | wc -l) $(ls -A "$R/overlay/l" | wc -l) $(find "$R/overlay/l" -xtype l | wc -l)" "4 4 0" \
		"round $round: 4 layer dirs, 4 l/ links, none dangling"
	is "$(cat "$R/overlay/$L3/lower" 2>&1) $(cat "$R/overlay/$L3b/lower" 2>&1)" \
		"l/$(cat "$R/overlay/$L2/link"):l/$(cat "$R/overlay/$L1/link") l/$(cat "$R/overlay/$L2/link"):l/$(cat "$R/overlay/$L1/link")" \
		"round $round: both top layers' lower files point at the one shared chain"
done

# ============================================== last-write tokens ============
R=$T/tok
lr load -i "$F/v1.tar" >/dev/null 2>&1 || bail "load v1"
tok() { od -An -tx1 -v "$R/$1" | tr -d ' \n'; }
lt0=$(tok overlay-layers/layers.lock) it0=$(tok overlay-images/images.lock)
is "${#lt0} ${#it0}" "128 128" "layers.lock and images.lock hold 64 bytes"
lr load -i "$F/whiteouts.tar" >/dev/null 2>&1 || bail "load whiteouts"
lt1=$(tok overlay-layers/layers.lock) it1=$(tok overlay-images/images.lock)
isnt_same() { [ "$1" != "$2" ]; }
isnt_same "$lt0" "$lt1"; ok $? "layers.lock token changes after a load that adds layers"
isnt_same "$it0" "$it1"; ok $? "images.lock token changes after a load that adds an image"
is "$(stat -c %s "$R/overlay-layers/layers.lock" "$R/overlay-images/images.lock" | tr '\n' ' ')" "64 64 " "tokens stay 64 bytes"
lr tag localhost/whiteouts:latest localhost/w2:latest
it2=$(tok overlay-images/images.lock)
isnt_same "$it1" "$it2"; ok $? "images.lock token changes after tag"
lr rmi -f 359d758cd793 >/dev/null 2>&1
is "$(jq -c '[.[].names[]]' "$R/overlay-images/images.json")" '["localhost:5000/servidorweb:v1"]' "rmi -f by ID removed the whiteouts image"
lt3=$(tok overlay-layers/layers.lock) it3=$(tok overlay-images/images.lock)
isnt_same "$lt1" "$lt3"; ok $? "layers.lock token changes after rmi removed layers"
isnt_same "$it2" "$it3"; ok $? "images.lock token changes after rmi"

# ============================================== waiting for fcntl locks ======
# hold LOCKFILE TYPE SECONDS: take an fcntl lock (F_WRLCK/F_RDLCK, whole file)
# in a background perl, touch $T/held when it is held, keep it SECONDS.
# struct flock on x86_64/aarch64: short l_type, short l_whence, (pad 4),
# off_t l_start, off_t l_len, pid_t l_pid, (pad 4) = "s s x4 q q l x4".
hold() {
	rm -f "$T/held"
	perl -e 'use Fcntl; open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
		my $t = $ARGV[1] eq "w" ? F_WRLCK : F_RDLCK;
		my $l = pack("s s x4 q q l x4", $t, 0, 0, 0, 0);
		fcntl($f, F_SETLKW, $l) or die "lock: $!";
		open(my $h, ">", $ARGV[3]); close $h; sleep $ARGV[2]' "$1" "$2" "$3" "$T/held" &
	holder=$!; BG_PIDS+=("$holder")
	local n=50; while [ ! -e "$T/held" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	[ -e "$T/held" ]
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# a sanity check of the perl struct: a second holder must wait for the first
hold "$R/overlay-layers/layers.lock" w 2 || bail "cannot take an fcntl lock with perl"
t0=$(now_ms); perl -e 'use Fcntl; open(my $f, "+<", $ARGV[0]) or die;
	my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLKW, $l) or die "lock: $!"' "$R/overlay-layers/layers.lock"
el=$(( $(now_ms) - t0 )); wait "$holder"
[ $el -ge 1000 ]; ok $? "sanity: the perl flock struct works (a second perl waited ${el} ms)"

for f in overlay-layers/layers.lock overlay-images/images.lock; do
	hold "$R/$f" w 3 || bail "cannot lock $f"
	t0=$(now_ms); run lr images; el=$(( $(now_ms) - t0 ))
	wait "$holder"
	[ $el -ge 2000 ]; ok $? "lrun images waits while another process holds a write lock on $f (${el} ms)"
	is "$rc" 0 "… and then succeeds"
	like "$out" 'localhost:5000/servidorweb' "… listing the images"
done
# a writer must also wait for a reader
hold "$R/overlay-layers/layers.lock" r 3 || bail "cannot read-lock layers.lock"
t0=$(now_ms); run lr load -i "$F/v2.tar"; el=$(( $(now_ms) - t0 ))
wait "$holder"
[ $el -ge 2000 ]; ok $? "lrun load waits while another process holds a read lock on layers.lock (${el} ms)"
is "$rc" 0 "… and then loads"
# a held lock on an unrelated store does not slow lrun down
R2=$T/other; LRUN_ROOT= "$LRUN" --root "$R2" images >/dev/null 2>&1
hold "$R2/overlay-layers/layers.lock" w 3 || bail "cannot lock the other store"
t0=$(now_ms); run lr images; el=$(( $(now_ms) - t0 ))
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
[ $el -lt 1500 ]; ok $? "a lock held on another store does not block (${el} ms)"

done_testing
