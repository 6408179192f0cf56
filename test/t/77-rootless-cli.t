#!/bin/bash
# Rootless, every day's commands as an ordinary user: run -it and -d, exec,
# logs, ps -a -s, stop, rm, rmi, save, inspect, system df -v, pull from a
# registry on 127.0.0.1; sizes and saved archives the same as root's for
# the same work.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/registry.sh"
. "$here/../lib/rootless.sh"
command -v script >/dev/null || skip_all "needs script(1) (util-linux)"
rootless_setup
R=$T/rootstore IMG=localhost:5000/servidorweb:v1
lr load -q -i "$FX/v1.tar" >/dev/null 2>&1 || bail "root's load"
run lu load -q -i "$FX/v1.tar"
is "$rc" 0 "load as the user"
# both: lrun (root's store) and lu (the user's), the same work
both() { local f=$1; shift; run lr "$@"; r_out=$out r_rc=$rc; run "$f" "$@"; }
norm() { sed -E 's/[0-9a-f]{12}/ID/g; s/ +/ /g'; }

# ----------------------------------------------------------------- run -it --
printf 'tty; id -u; exit 3\n' >"$T/typed"
run as_user timeout -k 5 60 script -qec "$UL run -it --rm --network none $IMG sh" /dev/null <"$T/typed"
like "$out" $'/dev/pts/0\r?\n0\r?\n' "run -it: a terminal, root inside"
is "$rc" 3 "run -it: the shell's exit status"

# ------------------------------------------------ run -d, logs, exec, stop --
run lu run -d --name d1 --network none "$IMG" sh -c 'echo started; trap "exit 9" TERM; while :; do sleep 0.1; done'
is "$rc" 0 "run -d"
like "$out" '^[0-9a-f]{64}'$'\n''$' "  prints the container id"
for i in $(seq 300); do run lu logs d1; [ "$out" = $'started\n' ] && break; sleep 0.1; done
is "$rc|$out" $'0|started\n' "logs"
run lu exec d1 sh -c 'id -u; echo made > /tmp/f; cat /tmp/f'
is "$rc|$out" $'0|0\nmade\n' "exec into the running container"
run lu exec -u 1000 d1 id -u
is "$rc|$out" $'0|1000\n' "exec -u 1000"
run lu exec d1 sh -c 'exit 5'
is "$rc" 5 "exec: the command's exit status"
run lu inspect --format '{{.State.Status}} {{.Name}} {{.Config.Cmd}}' d1
like "$out" '^running d1 \[sh -c ' "inspect a running container"
run lu ps --format '{{.Names}} {{.Status}}'
like "$out" '^d1 Up ' "ps: running"
run lu stop -t 5 d1
is "$rc|$out" $'0|d1\n' "stop"
run lu inspect --format '{{.State.Status}} {{.State.ExitCode}}' d1
is "$out" $'exited 9\n' "  the container's TERM trap ran: exit 9"
run lu rm d1
is "$rc|$out" $'0|d1\n' "rm"
run lu ps -a -q
is "$rc|$out" "0|" "ps -a: nothing left"

# ------------------------------------------- sizes: as root's for the same work --
work='head -c 12345 /dev/zero > /f; mkdir -p /x/y; ln -s a /x/l; rm /var/www/index.html; chown 1000 /f'
both lu run --name s1 --network none "$IMG" sh -c "$work"
is "$rc|$r_rc" "0|0" "the same container as root and as the user"
both lu ps -a -s --format '{{.Names}} {{.Size}}'
is "$out" "$r_out" "ps -a -s: the same sizes as root's"
is "$out" $'s1 12.4kB (virtual 2.25MB)\n' "  (12345 bytes written, and /etc/mtab's link as podman's)"
both lu system df -v
is "$(norm <<<"$out" | grep -v 'second')" "$(norm <<<"$r_out" | grep -v 'second')" "system df -v: the same as root's"
both lu system df
is "$out" "$r_out" "system df: the same as root's"
both lu image inspect --format '{{.Id}} {{.Size}} {{.RootFS.Layers}}' "$IMG"
is "$out" "$r_out" "image inspect: the same id, size and layers"
both lu diff s1
is "$out" "$r_out" "diff: the same changes"
run lu rm s1
is "$rc" 0 "rm s1"
lr rm s1 >/dev/null

# ---------------------------------------------------------- save, rmi --
lr save -o "$T/root.tar" "$IMG" 2>/dev/null
run lu save -o "$RH/user.tar" "$IMG"
is "$rc" 0 "save as the user"
is "$(sha256 "$RH/user.tar")" "$(sha256 "$T/root.tar")" "  byte for byte root's archive"
is "$(stat -c %U "$RH/user.tar")" "$RU" "  a file of the user's"
run lu rmi "$IMG"
like "$rc|$out" $'^0\\|Untagged: localhost:5000/servidorweb:v1\nDeleted: [0-9a-f]{64}\n$' "rmi"
run lu images -q
is "$rc|$out" "0|" "no image left"
is "$(lu unshare find .local/share/lrun/overlay -mindepth 1 -maxdepth 1 ! -name l | wc -l)" 0 "no layer left on disk"
run lu load -q -i "$RH/user.tar"
is "$rc|$out" $'0|Loaded image: localhost:5000/servidorweb:v1\n' "the saved archive loads again"
# --------------------------------------------------------------- secrets --
printf hunter2 >"$RH/pw" && chmod 644 "$RH/pw"
run lu secret create us "$RH/pw"
is "$rc" 0 "secret create as the user"
run lu run --rm --network none --secret us,uid=5,gid=6,mode=0400 "$IMG" sh -c 'stat -c "%a %u %g" /run/secrets/us; cat /run/secrets/us'
is "$rc|$out" $'0|400 5 6\nhunter2' "--secret uid=,gid=: the container's ids, in the user namespace"
is "$(stat -c %a "$RH/.local/share/lrun/secrets" "$RH/.local/share/lrun/secrets/secrets.json" | tr '\n' ' ')" "700 600 " \
	"  the user's secrets: 0700, 0600"
# ------------------------------------------------------------------ pull --
if [ -z "$(reg_check)" ]; then
	at_exit reg_cleanup
	reg_start main "$T/registry" || bail "the registry does not start"
	reg_push "docker-archive:$FX/v2.tar" "docker://127.0.0.1:$REG_PORT/servidorweb:v2" || bail "skopeo push"
	run lu pull --tls-verify=false "127.0.0.1:$REG_PORT/servidorweb:v2"
	is "$rc|$out" "0|$(reg_archive_id "$FX/v2.tar")"$'\n' "pull as the user: the image id"
	is "$(grep -c 'skipped: already exists' <<<"$err")" 2 "  the two layers v1 brought are not downloaded again"
	run lu run --rm --network none "127.0.0.1:$REG_PORT/servidorweb:v2" cat /etc/servidorweb-version
	is "$rc|$out" $'0|v2\n' "  and runs"
else
	skip "no registry: $(reg_check)"; skip "pull"; skip "pull"
fi
done_testing
