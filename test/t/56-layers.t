#!/bin/bash
# Many-layer images: the overlay lowerdir list of 150 layers (150 x
# "l/<26 chars>:" > one page) needs lrun's fallback; 100 layers fit.  Each
# layer adds /layers/fNNN and rewrites /layers/top (the topmost must win); the
# last layer whites out /layers/f002.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# build_layers N: $T/ly/base.tar + $T/ly/1.tar .. N.tar (made once, reused)
fx_busybox_rootfs "$T/ly/base" && fx_layer_tar "$T/ly/base" "$T/ly/base.tar" || bail "base layer"
built=0
build_layers() {
	local i d n
	for ((i = built + 1; i <= $1; i++)); do
		n=$(printf '%03d' $i) d=$T/ly/d$n
		mkdir -p "$d/layers"
		echo "layer $n" >"$d/layers/f$n"
		echo "$n" >"$d/layers/top"
		# plain tar of the same shape as fx_layer_tar (one bash per layer is slow)
		tar -C "$d" --sort=name --mtime=@1700000000 --numeric-owner --owner=0 --group=0 \
			--format=gnu --no-recursion -cf "$T/ly/$i.tar" layers layers/f$n layers/top || return 1
	done
	built=$1
}

for N in 100 150; do
	build_layers $N || bail "layer tars"
	# the last layer also whites out layers/f002 (a layer tar of its own, same number)
	d=$T/ly/last$N; mkdir -p "$d/layers"
	n=$(printf '%03d' $N); echo "layer $n" >"$d/layers/f$n"; echo "$n" >"$d/layers/top"; : >"$d/layers/.wh.f002"
	tar -C "$d" --sort=name --mtime=@1700000000 --numeric-owner --owner=0 --group=0 --format=gnu \
		--no-recursion -cf "$T/ly/last$N.tar" layers layers/.wh.f002 layers/f$n layers/top || bail "last layer"
	tars=("$T/ly/base.tar")
	for ((i = 1; i < N; i++)); do tars+=("$T/ly/$i.tar"); done
	tars+=("$T/ly/last$N.tar")
	fx_docker_archive "$T/img$N.tar" "localhost/layers$N:latest" '{}' "${tars[@]}" || bail "archive of $N layers"
	run L load -q -i "$T/img$N.tar"
	is "$rc|$out" "0|Loaded image: localhost/layers$N:latest$nl" "load an image of $((N + 1)) layers (busybox + $N)"
	top=$(jq -r --arg n "localhost/layers$N:latest" '.[] | select(.names[0] == $n) | .layer' "$R/overlay-images/images.json")
	is "$(layer_chain "$R" "$top" | wc -l)" $((N + 1)) "  its layer chain has $((N + 1)) layers"
	len=$(( (N + 1) * 29 - 1 ))
	note "lowerdir for $((N + 1)) layers: $len bytes of l/LINK:... ($([ $len -gt 4096 ] && echo 'more' || echo 'less') than a page)"

	run L run --rm "localhost/layers$N" sh -c 'cat /layers/f001 /layers/f'"$n"'; cat /layers/top; ls /layers | wc -l; ls /layers/f002 2>&1 >/dev/null | wc -l; cat /bin/busybox | wc -c'
	is "$rc" 0 "run of the $((N + 1))-layer image works" || diag "$err"
	is "$out" "layer 001${nl}layer $n${nl}$n${nl}$N${nl}1${nl}$(stat -c %s /bin/busybox)$nl" \
		"  the files of layer 1 and layer $N, the topmost /layers/top ($n), $N entries (f002 whited out), the base layer's busybox"
	run L run --name "c$N" "localhost/layers$N" sh -c 'echo 00000000000000000 > /layers/f001; cat /layers/f001; rm /layers/f003; ls /layers | wc -l'
	is "$rc|$out" "0|00000000000000000${nl}$((N - 1))$nl" "  writes and deletes on top of $((N + 1)) layers"
	ld=$(ctr_layer_dir "c$N")
	is "$(cat "$ld/diff/layers/f001" 2>/dev/null)" 00000000000000000 "  the copy-up lands in the container layer"
	is "$(awk -F: '{ print NF }' "$ld/lower")" $((N + 1)) "  the container layer's lower file lists all $((N + 1)) image layers"
	run L ps -a -s --format '{{.Names}} {{.Size}}'
	like "$out" "(^|$nl)c$N [0-9]+B \(virtual [0-9.]+MB\)($nl|\$)" "  ps -a -s sizes it"
	L run -d --name "d$N" "localhost/layers$N" sleep 30 >/dev/null
	wait_for 5 sh -c '"$0" --root "$1" ps --format "{{.Names}}" | grep -qx "$2"' "$LRUN" "$R" "d$N"
	run L exec "d$N" cat /layers/top
	is "$rc|$out" "0|$n$nl" "  exec into a running $((N + 1))-layer container"
	L rm -f "d$N" >/dev/null 2>&1
	run L rm "c$N"
	is "$rc" 0 "  rm of the stopped container"
done
is "$(mounts_below "$T" | wc -l)" 0 "nothing left mounted"
done_testing
