# tests/stripe-mock.sh: a real third-party Stripe implementation for tests
# and demos.  Source it (after tests/lib.sh, or on its own with POSIX sh);
# it defines:
#
#   stripe_mock_install   Install stripe-stateful-mock (pinned version
#                         $STRIPE_MOCK_VERSION) once into $STRIPE_MOCK_DIR,
#                         default ${XDG_CACHE_HOME:-$HOME/.cache}/ms/stripe-mock,
#                         with "npm install --no-audit --no-fund".  Returns
#                         non-zero (and says why on stderr) when npm or the
#                         registry is unavailable.  Safe to run concurrently.
#   stripe_mock_start     Install if needed, start the mock on 127.0.0.1 at a
#                         free port, wait until it answers HTTP, and arrange
#                         for it to be stopped when the shell exits.  Sets
#                         STRIPE_MOCK_URL (http://127.0.0.1:PORT),
#                         STRIPE_MOCK_PORT and STRIPE_MOCK_PID.  Its output
#                         goes to $STRIPE_MOCK_LOG (default ./stripe-mock.log).
#   stripe_mock_stop      Stop it now (idempotent).
#   stripe_mock_customer SOURCE
#                         Create a customer with a payment source
#                         (tok_visa, tok_chargeDeclined, ...) and print its
#                         id (cus_...).  Uses curl and $STRIPE_MOCK_KEY.
#
# The mock accepts any secret key that looks like one (sk_test_...);
# STRIPE_MOCK_KEY holds the one the helpers use.  When lib.sh is loaded,
# the mock is also stopped by its EXIT trap (it is registered with bg).

STRIPE_MOCK_VERSION=${STRIPE_MOCK_VERSION:-0.0.16}
STRIPE_MOCK_DIR=${STRIPE_MOCK_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ms/stripe-mock}
STRIPE_MOCK_KEY=${STRIPE_MOCK_KEY:-sk_test_mspay_0123456789}
STRIPE_MOCK_PID=

stripe_mock_install() {
	_smd=$STRIPE_MOCK_DIR
	_smcli=$_smd/node_modules/stripe-stateful-mock/dist/cli.js
	if [ -f "$_smd/.installed-$STRIPE_MOCK_VERSION" ] && [ -f "$_smcli" ]; then
		return 0
	fi
	command -v npm >/dev/null 2>&1 || {
		echo "stripe-mock: npm not found (run: make deps)" >&2
		return 1
	}
	command -v node >/dev/null 2>&1 || {
		echo "stripe-mock: node not found (run: make deps)" >&2
		return 1
	}
	mkdir -p "$_smd" || return 1
	# One installer at a time: tests run in parallel under prove -j.
	(
		flock 9
		if [ -f "$_smd/.installed-$STRIPE_MOCK_VERSION" ] && [ -f "$_smcli" ]; then
			exit 0
		fi
		echo "stripe-mock: installing stripe-stateful-mock@$STRIPE_MOCK_VERSION into $_smd" >&2
		[ -f "$_smd/package.json" ] ||
			printf '{"name":"ms-stripe-mock","private":true}\n' >"$_smd/package.json"
		(cd "$_smd" && npm install --no-audit --no-fund --loglevel=error \
		    "stripe-stateful-mock@$STRIPE_MOCK_VERSION" >&2) || exit 1
		touch "$_smd/.installed-$STRIPE_MOCK_VERSION"
	) 9>"$_smd.lock"
}

stripe_mock_start() {
	stripe_mock_install || return 1
	_smport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	STRIPE_MOCK_LOG=${STRIPE_MOCK_LOG:-$PWD/stripe-mock.log}
	# The package's cli.js listens on every address; start its Express
	# app ourselves so it listens on 127.0.0.1 only.
	STRIPE_MOCK_MAIN=$STRIPE_MOCK_DIR/node_modules/stripe-stateful-mock/dist/index.js \
	STRIPE_MOCK_PORT=$_smport LOG_LEVEL=${LOG_LEVEL:-warn} node -e '
		const m = require(process.env.STRIPE_MOCK_MAIN);
		const port = +process.env.STRIPE_MOCK_PORT;
		m.createExpressApp().listen(port, "127.0.0.1", () =>
		    console.log("stripe-mock: listening on 127.0.0.1:" + port));
	' >"$STRIPE_MOCK_LOG" 2>&1 &
	STRIPE_MOCK_PID=$!
	if [ -n "${_bg_pids+x}" ]; then
		_bg_pids="$_bg_pids $STRIPE_MOCK_PID"
	else
		trap stripe_mock_stop EXIT
	fi
	STRIPE_MOCK_PORT=$_smport
	STRIPE_MOCK_URL=http://127.0.0.1:$_smport
	export STRIPE_MOCK_URL STRIPE_MOCK_PORT STRIPE_MOCK_PID STRIPE_MOCK_KEY
	# Wait until it answers: curl's own retry loop on connection refused,
	# bounded, no sleep of ours.
	curl -s -o /dev/null --retry 60 --retry-connrefused --retry-delay 0 \
	    --retry-max-time 30 --max-time 30 -u "$STRIPE_MOCK_KEY:" \
	    "$STRIPE_MOCK_URL/v1/customers" || {
		echo "stripe-mock: did not answer on $STRIPE_MOCK_URL" >&2
		cat "$STRIPE_MOCK_LOG" >&2
		stripe_mock_stop
		return 1
	}
}

stripe_mock_stop() {
	if [ -n "$STRIPE_MOCK_PID" ]; then
		kill -TERM "$STRIPE_MOCK_PID" 2>/dev/null
		wait "$STRIPE_MOCK_PID" 2>/dev/null
		STRIPE_MOCK_PID=
	fi
}

stripe_mock_customer() {
	curl -s -u "$STRIPE_MOCK_KEY:" -d "source=$1" "$STRIPE_MOCK_URL/v1/customers" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
