#!/bin/bash
# cgroup limits (issue 11): --memory/-m, --memory-swap, --memory-reservation,
# --oom-kill-disable, --cpus, --cpu-shares, --cpu-period/--cpu-quota,
# --cpuset-cpus/--cpuset-mems, --pids-limit (default 2048), --blkio-weight,
# --device-read-bps..., --ulimit, --shm-size, --tmpfs size, --cgroupns.
# Each limit is read back from the container's cgroup files (v1 or v2, as
# the host has them) and the ones that bite are made to bite: a memory hog
# is OOM-killed (137, State.OOMKilled true), a fork bomb stops at the pids
# limit.  Bad input: Error:, exit 125, no container and no cgroup left.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
grep -q cgroup /proc/self/mountinfo || skip_all "no cgroup hierarchy mounted"
ctr_start 60
lrun_run() { run $TO "$LRUN" --root "$R" run --rm "$@"; }
V2=0
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && V2=1
note "cgroup v$((V2 + 1))"
# cg ID CONTROLLER FILE: a file of the container's cgroup
cg() {
	if [ $V2 = 1 ]; then cat "/sys/fs/cgroup/lrun/$1/$3"; else cat "/sys/fs/cgroup/$2/lrun/$1/$3"; fi
}
cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d -name "$1" 2>/dev/null; }

# ---------------------------------------------- limits in the cgroup --
run $TO "$LRUN" --root "$R" run -d --name lim -m 64m --memory-reservation 32m --cpus 1.5 --cpu-shares 512 \
	--cpuset-cpus 0 --pids-limit 100 --ulimit nofile=512:1024 --shm-size 8m "$IMG" sleep 300
is "$rc" 0 "run -d with limits"
id=$(ctr_field lim .id)
if [ $V2 = 1 ]; then
	is "$(cg "$id" memory memory.max)|$(cg "$id" memory memory.low)|$(cg "$id" memory memory.swap.max 2>/dev/null || echo none)" \
		"67108864|33554432|$( [ -e "/sys/fs/cgroup/lrun/$id/memory.swap.max" ] && echo 67108864 || echo none)" \
		"memory.max, memory.low, memory.swap.max (--memory-swap defaults to twice --memory)"
	is "$(cg "$id" cpu cpu.max)|$(cg "$id" cpu cpu.weight)" "150000 100000|20" "cpu.max 150000 100000 (--cpus 1.5), cpu.weight 20 (512 shares)"
else
	is "$(cg "$id" memory memory.limit_in_bytes)|$(cg "$id" memory memory.soft_limit_in_bytes)" "67108864|33554432" \
		"memory.limit_in_bytes, memory.soft_limit_in_bytes"
	if [ -e "/sys/fs/cgroup/memory/lrun/$id/memory.memsw.limit_in_bytes" ]; then
		is "$(cg "$id" memory memory.memsw.limit_in_bytes)" 134217728 "memory.memsw.limit_in_bytes: twice --memory (docker's default)"
	else
		skip "no swap accounting"
	fi
	is "$(cg "$id" cpu cpu.cfs_quota_us) $(cg "$id" cpu cpu.cfs_period_us) $(cg "$id" cpu cpu.shares)" "150000 100000 512" \
		"cpu.cfs_quota_us/period_us 150000/100000 (--cpus 1.5), cpu.shares 512"
fi
is "$(cg "$id" cpuset cpuset.cpus)|$(cg "$id" pids pids.max)" "0|100" "cpuset.cpus 0, pids.max 100"
run $TO "$LRUN" --root "$R" exec lim sh -c 'ulimit -Sn; ulimit -Hn; df -k /dev/shm | tail -1'
like "$out" "^512${nl}1024${nl}shm +8192 " "--ulimit nofile=512:1024 in the process (exec too), --shm-size 8m"
run $TO "$LRUN" --root "$R" inspect --format '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ShmSize}} {{.HostConfig.CgroupParent}}' lim
is "$out" "67108864 134217728 33554432 1500000000 512 0 100 8388608 /lrun$nl" "inspect: the limits in HostConfig"
lr rm -f lim >/dev/null

run $TO "$LRUN" --root "$R" run -d --name dflt "$IMG" sleep 300
id=$(ctr_field dflt .id)
is "$(cg "$id" pids pids.max)" 2048 "the default pids limit is podman's 2048"
lr rm -f dflt >/dev/null
run $TO "$LRUN" --root "$R" run -d --name unl --pids-limit 0 "$IMG" sleep 300
id=$(ctr_field unl .id)
is "$(cg "$id" pids pids.max)" max "--pids-limit 0: unlimited"
lr rm -f unl >/dev/null
run $TO "$LRUN" --root "$R" run -d --name bio --blkio-weight 300 --device-read-bps /dev/null:1mb "$IMG" sleep 300
like "$rc|$err" "^125\|Error: .*/dev/null is not a block device" "--device-read-bps of a character device: Error:, 125"
lr rm -f bio >/dev/null 2>&1

# ---------------------------------------------------- limits that bite --
lrun_run --name hog -m 32m "$IMG" sh -c 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done'
is "$rc" 137 "a memory hog under -m 32m is OOM-killed: exit 137"
run $TO "$LRUN" --root "$R" run --name hog2 -m 32m "$IMG" sh -c 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done'
run $TO "$LRUN" --root "$R" inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' hog2
is "$out" "true 137$nl" "inspect: State.OOMKilled true, ExitCode 137"
run $TO "$LRUN" --root "$R" run --name calm -m 32m "$IMG" true
run $TO "$LRUN" --root "$R" inspect --format '{{.State.OOMKilled}}' calm
is "$out" "false$nl" "  and false for a container that was not"
lr rm hog2 calm >/dev/null
# the bomb runs in a child shell (a failed fork ends a busybox shell); the
# outer one reads the count with builtins only, as no fork is left
lrun_run --pids-limit 20 "$IMG" sh -c 'sh -c "n=0; while [ \$n -lt 60 ]; do sleep 30 & n=\$((n + 1)); echo \$n >/tmp/n; done" 2>/dev/null; read n </tmp/n; echo "made $n"'
is "$out" "made 18$nl" "a fork bomb stops at --pids-limit 20 (18 sleeps + 2 shells)"
lrun_run --tmpfs /t:size=1m "$IMG" sh -c 'head -c 2000000 /dev/zero >/t/f; echo "rc=$?"; wc -c </t/f'
is "$out" "rc=1${nl}1048576$nl" "--tmpfs /t:size=1m caps the tmpfs"
lrun_run --cgroupns host "$IMG" sh -c 'grep -c "/lrun/" /proc/self/cgroup'
like "$out" "^[1-9]" "--cgroupns host: the host's cgroup paths are visible"
lrun_run "$IMG" sh -c 'grep -c "/lrun/" /proc/self/cgroup'
is "$out" "0$nl" "  (private, the default: they are not)"

# ---------------------------------------------------------- bad input --
before=$(ls "$R/overlay-containers" | wc -l)
parent=lrun-bad-$$
for bad in "--memory 4k" "--memory lots" "--cpus -1" "--cpus 99" "--cpuset-cpus 99" "--cpuset-cpus 1-0" \
	"--memory-swap 64m" "-m 64m --memory-swap 32m" "-m 64m --memory-reservation 128m" "--pids-limit x" \
	"--cpu-shares 1" "--blkio-weight 5" "--ulimit nofile=99999999" "--ulimit bogus=1" "--ulimit nofile=10:5" \
	"--shm-size 0" "--cgroupns other" "--cpu-quota 5"; do
	# shellcheck disable=SC2086
	lrun_run --cgroup-parent "$parent" $bad "$IMG" true
	like "$rc|$err" "^125\|Error: " "$bad: exit 125, Error: $(head -c 100 <<<"${err#Error: }")"
done
is "$(ls "$R/overlay-containers" | wc -l)" "$before" "no container was left by any of them"
is "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -path "*/$parent/*" -type d)" "" "and no cgroup (below --cgroup-parent $parent)"
find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "$parent" -exec rmdir {} + 2>/dev/null

done_testing
