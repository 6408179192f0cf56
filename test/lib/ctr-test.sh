# ctr-test.sh - the start of a container test file (test/t/5x..7x-*.t):
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/../lib/ctr-test.sh"
#   (the file's own requirements: command -v nft >/dev/null || skip_all ...)
#   ctr_start [SECS]
#
# Sources tap.sh, fixtures.sh, lrun.sh and ctr.sh, and skips the file unless
# it runs as root.  ctr_start runs ctr_setup (ctr.sh), then sets TO (a
# timeout of SECS, default 30, for one command), L (lrun on $R under $TO)
# and nl (a newline).
_ctr_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_ctr_lib/tap.sh"
. "$_ctr_lib/fixtures.sh"
. "$_ctr_lib/lrun.sh"
. "$_ctr_lib/ctr.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"

ctr_start() {
	ctr_setup
	TO="timeout -k 5 ${1:-30}"
	nl=$'\n'
}
L() { $TO "$LRUN" --root "$R" "$@"; }
