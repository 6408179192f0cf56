# tap.sh - minimal TAP producer for bash tests (source it from test/t/*.t).
#
#   . "$(dirname "$0")/../lib/tap.sh"
#   plan 3                      # or call done_testing at the end
#   ok $? "previous command succeeded"      # passes if first arg is 0
#   ok_cmd "ls works" ls /                  # passes if the command exits 0
#   is "$got" "expected" "name"             # string equality
#   like "$got" '^re[g]ex' "name"           # bash ERE match ([[ =~ ]])
#   diag "message"; note "stdout comment"; skip "why"
#   skip_all "reason"; bail "reason"; at_exit 'rm -rf "$T"'
#
# The script exits non-zero if any test failed or the plan was not met.
# Helpers return 1 on failure (so "is ... || diag ..." works): do not run
# .t files under "set -e", or a failing test would end the script early.

_tap_n=0 _tap_fail=0 _tap_plan= _tap_done= _tap_atexit=()
# at_exit CODE: eval CODE at exit, before the verdict (e.g. at_exit 'rm -rf "$T"')
at_exit() { _tap_atexit+=("$*"); }
_tap_end() {
	local rc=$? c
	for c in "${_tap_atexit[@]}"; do eval "$c"; done
	[ -n "$_tap_done" ] && return
	if [ -z "$_tap_plan" ]; then
		echo "1..$_tap_n"
		diag "no plan declared (done_testing not called; exit status $rc)"
		exit 255
	elif [ "$_tap_plan" -ne "$_tap_n" ]; then
		diag "planned $_tap_plan tests but ran $_tap_n"
		exit 255
	fi
	[ "$_tap_fail" -gt 0 ] && exit $(( _tap_fail > 254 ? 254 : _tap_fail ))
	exit 0
}
trap _tap_end EXIT

plan() { _tap_plan=$1; echo "1..$1"; }
done_testing() {
	[ -n "$_tap_plan" ] || { _tap_plan=$_tap_n; echo "1..$_tap_n"; }
	exit 0   # the EXIT trap turns failures/plan mismatch into the status
}
diag() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*" >&2; }
note() { local l; while IFS= read -r l; do echo "# $l"; done <<<"$*"; }

_tap_ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_tap_n - $2"; return 0; fi
	_tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n - $2"
	diag "  Failed test '$2'"
	return 1
}
ok() { _tap_ok "$@" || { diag "  (status $1)"; return 1; }; }
ok_cmd() {
	local name=$1 out rc=0; shift
	out=$("$@" 2>&1) || rc=$?
	_tap_ok "$rc" "$name" && return 0
	diag "  (status $rc) command: $*"
	[ -z "$out" ] || diag "$(printf '%s\n' "$out" | sed 's/^/    /')"
	return 1
}
is() {
	[ "$1" = "$2" ] && { _tap_ok 0 "$3"; return 0; }
	_tap_ok 1 "$3"
	diag "$(printf '         got: %s\n    expected: %s' "$1" "$2")"
	return 1
}
like() {
	[[ $1 =~ $2 ]] && { _tap_ok 0 "$3"; return 0; }
	_tap_ok 1 "$3"
	diag "$(printf '                  %s\n    doesn'"'"'t match %s' "$1" "$2")"
	return 1
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $*"; }
skip_all() { _tap_done=1; echo "1..0 # SKIP $*"; exit 0; }
bail() { _tap_done=1; echo "Bail out! $*"; exit 255; }
