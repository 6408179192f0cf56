# store-test.sh - the start of a store test file (load, images, df, save, prune ...):
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/../lib/store-test.sh"
#   store_start [FIXTURE...]
#
# Sources tap.sh, fixtures.sh and lrun.sh and skips the file without a
# static /bin/busybox (the fixtures are made of it).  store_start makes the
# test's directory T (lrun_tmp), goes there, sets F=$T/fx and builds each
# named fixture there: servidorweb, whiteouts and hostile are fixtures.sh's
# fx_servidorweb, fx_whiteouts and fx_hostile.  A fixture that does not build
# ends the file (bail).
_store_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_store_lib/tap.sh"
. "$_store_lib/fixtures.sh"
. "$_store_lib/lrun.sh"
[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the fixtures"

store_start() {
	local fx
	lrun_tmp
	cd "$T" || bail "cd $T"
	F=$T/fx
	for fx in "$@"; do
		"fx_$fx" "$F" >/dev/null || bail "fixture $fx does not build"
	done
}
