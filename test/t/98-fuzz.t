#!/bin/bash
# The fuzz harness's short run: every libFuzzer target of test/fuzz/fuzz.c
# (ASan + UBSan) for 3 s; none may find anything.  LONG=1: 60 s each.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
command -v clang >/dev/null || skip_all "no clang (apt-get install clang)"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	skip_all "no libFuzzer runtime (libclang-rt-*-dev)"
seconds=3
[ "${LONG:-0}" = 1 ] && seconds=60
targets="reference time url http challenge manifest config seccomp tar dns template"
out=$("$here/../fuzz/run" "$seconds" $targets 2>"${TMPDIR:-/tmp}/lrun-fuzz-stderr.$$")
rc=$?
for t in $targets; do
	line=$(grep "^$t " <<<"$out")
	like "$line" "^$t executions=[1-9][0-9]* findings=0\$" "fuzz $t: ran ${seconds} s, nothing found"
done
is "$rc" 0 "test/fuzz/run exits 0" || diag "$(cat "${TMPDIR:-/tmp}/lrun-fuzz-stderr.$$")"
rm -f "${TMPDIR:-/tmp}/lrun-fuzz-stderr.$$"
done_testing
