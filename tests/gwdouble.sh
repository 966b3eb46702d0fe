# tests/gwdouble.sh: start tests/gwdouble.py (the fault-injecting gateway
# double) for a test or a benchmark.  Source it after tests/lib.sh.
#
#   gwdouble_start [ARGS...]   start it on 127.0.0.1 at a free port it
#                              picks itself, wait for its readiness line;
#                              sets GW_URL (http://127.0.0.1:PORT, https://
#                              with --tls), GW_PORT, GW_PID.  Stopped at exit.
#   gwdouble_stats             print its /_stats JSON (set GW_CACERT
#                              when it runs with --tls).
#   gwdouble_advance SECONDS   move the double's clock forward: keys older
#                              than --key-retention are forgotten, objects
#                              older than --search-lag show in search.
#   gwdouble_forget SECONDS    forget idempotency keys older than SECONDS.
#   gwdouble_charges SETTLEMENT
#                              how many charges (money taken) the double
#                              holds for SETTLEMENT: counted at the gateway.
gwdouble_start() {
	_gwout=$T/gwdouble.$$.$#.out
	: >"$_gwout"
	bg python3 "$MS_TOP/tests/gwdouble.py" "$@" >"$_gwout" 2>"$_gwout.err"
	GW_PID=$BG_PID
	wait_line "$_gwout" 'listening on' 20 || {
		diag "gwdouble did not start:" "$(cat "$_gwout.err")"
		return 1
	}
	GW_PORT=$(sed -n 's/^gwdouble: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$_gwout")
	case " $* " in
	*" --tls "*) GW_URL=https://127.0.0.1:$GW_PORT ;;
	*) GW_URL=http://127.0.0.1:$GW_PORT ;;
	esac
}

gwdouble_stats() {
	curl -s ${GW_CACERT:+--cacert "$GW_CACERT"} "$GW_URL/_stats"
}

gwdouble_advance() {
	curl -s -X POST ${GW_CACERT:+--cacert "$GW_CACERT"} \
	    "$GW_URL/_admin/clock?advance=$1" >/dev/null
}

gwdouble_forget() {
	curl -s -X POST ${GW_CACERT:+--cacert "$GW_CACERT"} \
	    "$GW_URL/_admin/forget?older_than=$1" >/dev/null
}

gwdouble_charges() {
	gwdouble_stats | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["charges"].get(sys.argv[1], [])))' "$1"
}
