# tests/e2e/common.sh: the shop both end-to-end tests run: a server
# ledger behind sshd, three users with cards and Stripe customers at
# stripe-stateful-mock, and the two robots' shopping sessions.
# Source after lib.sh, sshd.sh, stripe-mock.sh and robot.sh.

FELICA=0123456789ABCDEF
MIFARE7=04A1B2C3D4E5F6
MIFARE4=0A0B0C0D
SERVER=$T/server

# shop_open: sshd, the mock, products and users.  Sets ALICE/BOB/CAROL
# to their Stripe customer ids.
shop_open() {
	[ "$(id -u)" = 0 ] || missing "root, which the tests need for sshd (run make check as root)"
	stripe_mock_start || missing "stripe-stateful-mock (make deps installs it from npm)"
	sshd_start || return 1
	ALICE=$(stripe_mock_customer tok_visa)
	BOB=$(stripe_mock_customer tok_visa)
	CAROL=$(stripe_mock_customer tok_visa)
	cat >"$T/shop.ndjson" <<JSON
{"type":"product","sku":"cola-350","name":"Cola 350ml","price":150,"currency":"JPY"}
{"type":"product","sku":"tea-500","name":"Green tea 500ml","price":130,"currency":"JPY"}
{"type":"product","sku":"chips-60","name":"Potato chips 60g","price":120,"currency":"JPY"}
{"type":"product","sku":"gum-10","name":"Mint gum","price":100,"currency":"JPY"}
{"type":"user","user":"alice","name":"Alice","cards":["felica:$FELICA"],"payment":"$ALICE"}
{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:$MIFARE7"],"payment":"$BOB"}
{"type":"user","user":"carol","name":"Carol","cards":["iso14443a:$MIFARE4"],"payment":"$CAROL"}
JSON
	mscart -d "$SERVER" import -c "$T/shop.ndjson" || return 1
	printf '%s\n' "$STRIPE_MOCK_KEY" >"$T/stripe.key"
	chmod 600 "$T/stripe.key"
	for r in r1 r2; do
		sshd_key "$r" "$MS_BIN/mscart serve --role robot:$r -d $SERVER"
	done
}

# A session: tap, wait for the server's answer, act on slots (each
# waited for, so a take and a return on one slot are two movements, not
# contact bounce), take the card away.  The robots' sessions run at the
# same time.
#   session ROBOT TECH UID ACTION...
# where ACTION is "take OFFSET" or "return OFFSET".
session() {
	_r=$1 _tech=$2 _uid=$3
	shift 3
	robot_tap "$_r" "$_tech" "$_uid"
	robot_acked "$_r" identify || return 1
	for _a in "$@"; do
		case $_a in
		take*) robot_gpio "$_r" "${_a#take } rising" ;;
		return*) robot_gpio "$_r" "${_a#return } falling" ;;
		esac
		robot_acked "$_r" "${_a%% *}" || return 1
	done
	robot_remove "$_r"
}

# robot_acked ROBOT TYPE: wait until the server has acknowledged one more
# event of TYPE from ROBOT than last time.  Counts distinct "robot:seq"
# ids, so acks repeated after a cut link ("duplicate") count once.
robot_acked() {
	_f=$T/$1/count.$2
	_want=$(($(cat "$_f" 2>/dev/null || echo 0) + 1))
	echo "$_want" >"$_f"
	timeout 60 sh -c 'tail -n +1 -F "$1" 2>/dev/null |
	    python3 "$4" "$2" "$3"' sh \
	    "$T/$1/screen" "$2" "$_want" "$MS_TOP/tests/e2e/acked.py"
}

# What the sessions above must leave: user, lines taken and not returned,
# yen.
EXPECT="alice 3 400
bob 1 120
carol 1 130"

# settle_all [MSPAY OPTIONS]: due | mspay | settle until nothing is due
# (at most 6 runs); the settle output of every run in $T/settled.
settle_all() {
	: >"$T/settled"
	for _run in 1 2 3 4 5 6; do
		mscart -d "$SERVER" due >"$T/due.$_run" || return 1
		[ -s "$T/due.$_run" ] || return 0
		mspay -g stripe -u "${GATEWAY_URL:-$STRIPE_MOCK_URL}" -K "$T/stripe.key" "$@" \
		    <"$T/due.$_run" | mscart -d "$SERVER" settle >>"$T/settled"
	done
	return 1
}

# mock_charges: one line per succeeded charge at the mock:
#   user settlement amount
mock_charges() {
	python3 - "$STRIPE_MOCK_URL" "$STRIPE_MOCK_KEY" <<'PY'
import base64, json, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
auth = "Basic " + base64.b64encode((key + ":").encode()).decode()
after = None
while True:
    q = url + "/v1/charges?limit=100" + ("&starting_after=" + after if after else "")
    req = urllib.request.Request(q, headers={"Authorization": auth})
    page = json.load(urllib.request.urlopen(req))
    for c in page["data"]:
        if c["status"] == "succeeded":
            print(c["metadata"].get("user"), c["metadata"].get("settlement"), c["amount"])
    if not page.get("has_more") or not page["data"]:
        break
    after = page["data"][-1]["id"]
PY
}

# check_shop: every take in the right cart exactly once; every tab
# charged exactly once at the mock, to the yen.
check_shop() {
	while read -r u n yen; do
		mscart -d "$SERVER" show -a "$u" >"$T/cart.$u"
		got=$(python3 -c 'import json,sys
c=json.load(open(sys.argv[1]))
live=[i for i in c["items"] if i["state"]!="void"]
ev=[i["event"] for i in c["items"]]
print(len(live), sum(i["price"] for i in live), len(ev)-len(set(ev)))' "$T/cart.$u")
		is "$got" "$n $yen 0" "$u: $n lines, $yen yen, no event twice"
	done <<EOF2
$EXPECT
EOF2
	mock_charges | sort >"$T/charges"
	dup=$(awk '{print $2}' "$T/charges" | sort | uniq -d | wc -l)
	is "$dup" 0 "no settlement charged twice at the mock"
	while read -r u n yen; do
		is "$(awk -v u="$u" '$1 == u { s += $3 } END { print s + 0 }' "$T/charges")" "$yen" \
		    "$u charged $yen yen in all at the mock"
	done <<EOF2
$EXPECT
EOF2
	is "$(mscart -d "$SERVER" due)" "" "nothing is left to charge"
	mscart -d "$SERVER" verify >/dev/null 2>&1
	ok $? "mscart verify passes on the server"
}
