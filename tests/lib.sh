# tests/lib.sh: TAP helpers for ms tests, in the spirit of xe's tap3.
# Source it first thing:  . "$(dirname "$0")/lib.sh"   (or ../lib.sh)
#
# It gives each test its own temp dir ($T, also the cwd), puts the built
# bin/ first in PATH, stops what the test started in the background, and
# offers: plan, ok, is, like, unlike, run, check, bg, spawn, wait_line,
# free_port, missing, diag, pay_all, done_testing.

set -u

if [ -z "${MS_TOP:-}" ]; then
	MS_TOP=$(cd "$(dirname "$0")" && while [ ! -f Makefile ] && [ "$PWD" != / ]; do cd ..; done; pwd)
fi
MS_BIN=${MS_BIN:-$MS_TOP/bin}
MS_BUILD=${MS_BUILD:-$MS_TOP/build}
export MS_TOP MS_BIN MS_BUILD
PATH=$MS_BIN:$PATH
export PATH
export LC_ALL=C

T=$(mktemp -d "${TMPDIR:-/tmp}/ms-test.XXXXXX")
export T
cd "$T" || exit 1

_tap_n=0
_tap_failed=0
_tap_planned=
_bg_pids=

_tap_cleanup() {
	for p in $_bg_pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $_bg_pids; do
		wait "$p" 2>/dev/null
	done
	cd /
	[ -n "${MS_KEEP:-}" ] || rm -rf "$T"
}
trap _tap_cleanup EXIT
trap 'exit 130' INT TERM

# bg CMD...: start in the background, remember to stop it.  Sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	_bg_pids="$_bg_pids $BG_PID"
}

# spawn IN OUT ERR CMD...: like bg, but the child makes its own
# redirections (stdout and stderr appended), so opening a FIFO blocks
# only the child, and stdin is IN rather than the /dev/null an
# asynchronous command gets by default.  Sets BG_PID.
spawn() {
	_sp_in=$1 _sp_out=$2 _sp_err=$3
	shift 3
	"$@" <"$_sp_in" >>"$_sp_out" 2>>"$_sp_err" &
	BG_PID=$!
	_bg_pids="$_bg_pids $BG_PID"
}

plan() { _tap_planned=$1; echo "1..$1"; }
# missing WHAT: the test cannot run because WHAT (a tool, a service, a
# built helper; say how to get it) is not there.  That fails the test,
# never skips it: a suite that passes has run every test.
missing() {
	echo "1..1"
	echo "not ok 1 - missing: $*"
	echo "$0: missing: $*" >&2
	_tap_planned=0
	exit 1
}
# need_preload LIB: fail the test unless LIB (an LD_PRELOAD helper that
# make check builds) is there, and let it come before the sanitizer's
# runtime in the link order.
need_preload() {
	[ -f "$1" ] || missing "$1 (make check builds it)"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS
}
diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

ok() {	# ok STATUS DESCRIPTION  (STATUS 0 = pass)
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}
pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }

is() {	# is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:      $1" "expected: $2"
	fi
}

like() {	# like GOT ERE DESCRIPTION
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:      $1" "expected to match: $2"
	fi
}

unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "got:      $1" "expected not to match: $2"
	else
		ok 0 "$3"
	fi
}

# run [-i INPUTFILE] CMD...: sets OUT, ERR, RC (stdin is /dev/null unless -i).
run() {
	_in=/dev/null
	if [ "$1" = -i ]; then _in=$2; shift 2; fi
	"$@" <"$_in" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# check DESC STDIN EXPECTED_STDOUT EXPECTED_STDERR STATUS CMD...
# One TAP line: stdout, stderr and status must all match exactly.
check() {
	_d=$1 _i=$2 _o=$3 _e=$4 _s=$5
	shift 5
	printf '%s' "$_i" >"$T/.in"
	"$@" <"$T/.in" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	if [ "$OUT" = "$_o" ] && [ "$ERR" = "$_e" ] && [ "$RC" = "$_s" ]; then
		ok 0 "$_d"
	else
		ok 1 "$_d"
		[ "$OUT" = "$_o" ] || diag "stdout: $OUT" "wanted: $_o"
		[ "$ERR" = "$_e" ] || diag "stderr: $ERR" "wanted: $_e"
		[ "$RC" = "$_s" ] || diag "status: $RC, wanted $_s"
	fi
}

# wait_line FILE ERE [SECONDS]: block until FILE has a line matching ERE.
# Event-driven (tail -f), so no sleep-based synchronisation.  0 or 1.
wait_line() {
	timeout "${3:-20}" sh -c 'tail -n +1 -F "$1" 2>/dev/null | grep -Eq -m1 -- "$2"' \
	    sh "$1" "$2"
}

# poll TRIES WANT CMD...: CMD's output until it is WANT, at most TRIES
# times 0.2 s apart, for what no event announces (a replication client
# applying the last commit); prints the last output, 0 if it was WANT.
poll() {
	_p_n=$1 _p_want=$2 _p_i=0
	shift 2
	while _p_out=$("$@"); [ "$_p_out" != "$_p_want" ] && [ $_p_i -lt "$_p_n" ]; do
		sleep 0.2
		_p_i=$((_p_i + 1))
	done
	printf '%s\n' "$_p_out"
	[ "$_p_out" = "$_p_want" ]
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# jq-free JSON field extraction for simple checks: jget FIELD < LINE
jget() {
	python3 -c 'import json,sys
k=sys.argv[1]
for l in sys.stdin:
    l=l.strip()
    if not l: continue
    v=json.loads(l)
    for p in k.split("."):
        v=v.get(p) if isinstance(v,dict) else (v[int(p)] if isinstance(v,list) else None)
    print(json.dumps(v) if isinstance(v,(dict,list)) else ("null" if v is None else (str(v).lower() if isinstance(v,bool) else v)))' "$1"
}

# pay_all [MSCART ARGS...]: settle every charge mscart due gives as
# succeeded at the gateway, as a payment run would (the ledger from -d
# or MSCART_DB)
pay_all() {
	mscart due "$@" | python3 -c 'import json,sys
for l in sys.stdin:
    c = json.loads(l)
    print(json.dumps({"type": "charged", "settlement": c["settlement"], "key": c["key"],
        "status": "succeeded", "amount": c["amount"], "currency": c["currency"],
        "gateway_id": "ch_" + c["settlement"]}))' | mscart settle "$@" >/dev/null
}

done_testing() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n"
	[ "$_tap_failed" = 0 ]
}
