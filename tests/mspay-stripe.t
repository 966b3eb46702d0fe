#!/bin/sh
# mspay against a real third-party Stripe implementation:
# stripe-stateful-mock from the npm registry (tests/stripe-mock.sh
# installs it once into a cache directory and starts it on 127.0.0.1).
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/stripe-mock.sh"

command -v npm >/dev/null 2>&1 || missing "npm (make deps installs it)"
stripe_mock_start || { echo "Bail out! stripe-stateful-mock did not start"; exit 1; }

# the key from a private file, never argv
printf '%s\n' "$STRIPE_MOCK_KEY" >stripe.key
chmod 600 stripe.key
unset MSPAY_KEY

visa=$(stripe_mock_customer tok_visa)
fail=$(stripe_mock_customer tok_chargeCustomerFail)
nocard=$(curl -s -u "$STRIPE_MOCK_KEY:" -d email=nocard@example.com \
    "$STRIPE_MOCK_URL/v1/customers" | jget id)
like "$visa/$fail/$nocard" '^cus_[^/]+/cus_[^/]+/cus_[^/]+$' "created customers at the mock"

charge() {	# charge SETTLEMENT CUSTOMER AMOUNT CURRENCY
	printf '{"type":"charge","settlement":"%s","user":"u-%s","customer":"%s","amount":%s,"currency":"%s","key":"ms-%s-%s","description":"snacks, November"}\n' \
	    "$1" "$1" "$2" "$3" "$4" "$1" "$$"
}
field() {
	printf '%s\n' "$OUT" | grep "\"settlement\":\"$1\"" | jget "$2"
}
{
	charge a1 "$visa" 1250 EUR
	charge a2 "$visa" 300 JPY
	charge b1 "$fail" 800 EUR
	charge c1 "$nocard" 800 EUR
	charge d1 cus_doesnotexist 800 EUR
} >in
run -i in mspay -g stripe -u "$STRIPE_MOCK_URL" -K stripe.key -P 4
is "$RC" 1 "mixed batch: exit 1 (one charge failed)"
is "$(field a1 status)/$(field a2 status)" "succeeded/succeeded" "charges succeed"
like "$(field a1 gateway_id)" "^ch_" "the Stripe charge id is echoed"
is "$(field a2 amount)/$(field a2 currency)" "300/JPY" "JPY, zero-decimal, sent and echoed as it is"
is "$(field b1 status)/$(field b1 code)" "declined/generic_decline" "a declined card: declined"
is "$(field c1 status)/$(field c1 code)" "declined/missing" "no payment method: declined"
is "$(field d1 status)/$(field d1 code)" "failed/resource_missing" "no such customer: failed"
like "$ERR" "^$" "nothing on stderr"

# what the mock holds: one charge per settlement, amounts as sent
curl -s -u "$STRIPE_MOCK_KEY:" "$STRIPE_MOCK_URL/v1/charges?limit=100" >list.json
python3 - list.json "$$" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
mine = [c for c in d if c["metadata"].get("settlement") in ("a1", "a2")]
got = sorted((c["metadata"]["settlement"], c["amount"], c["currency"], c["status"]) for c in mine)
sys.exit(0 if got == [("a1", 1250, "eur", "succeeded"), ("a2", 300, "jpy", "succeeded")] else 1)
PY
ok $? "the mock holds one charge per settlement with the right amount and currency"

# a rerun replays: same ids, no new charges
ida1=$(field a1 gateway_id)
{ charge a1 "$visa" 1250 EUR; charge a2 "$visa" 300 JPY; } >again
run -i again mspay -g stripe -u "$STRIPE_MOCK_URL" -K stripe.key
is "$RC/$(field a1 gateway_id)" "0/$ida1" "a rerun is answered by idempotency replay, same charge id"
n=$(curl -s -u "$STRIPE_MOCK_KEY:" "$STRIPE_MOCK_URL/v1/charges?limit=100" |
    python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin)["data"] if c["metadata"].get("settlement") == "a1"))')
is "$n" 1 "a rerun charges nobody twice"

# the same key with other parameters is the gateway's error, never a charge
charge a1 "$visa" 9999 EUR >mismatch
run -i mismatch mspay -g stripe -u "$STRIPE_MOCK_URL" -K stripe.key
is "$RC/$(field a1 status)/$(field a1 code)" "1/failed/idempotency_error" \
    "the same key with another amount: failed, idempotency_error"

# 429 and 500 tokens: retried, then unknown (exit 75)
{ charge r1 tok_429 500 EUR; charge r2 tok_500 500 EUR; } >flaky
run -i flaky mspay -g stripe -u "$STRIPE_MOCK_URL" -K stripe.key --retries 2 --backoff 0.01
is "$RC" 75 "429 and 500 every time: exit 75"
is "$(field r1 status)/$(field r2 status)" "unknown/unknown" "429 and 500 every time: unknown"
like "$(field r2 message)" "after 3 attempts" "retried twice before giving up"

# the key: not in argv, stderr or output
MSPAY_KEY=not_the_right_key_x run -i again mspay -g stripe -u "$STRIPE_MOCK_URL"
is "$(field a1 status)" failed "a wrong key: failed"
unlike "$OUT$ERR" "not_the|right_key" "a wrong key is not echoed, not even in part, when the gateway echoes it"
is "$(field a1 code)" authentication "a wrong key: code authentication"
unlike "$(cat "$STRIPE_MOCK_LOG")" "$STRIPE_MOCK_KEY" "(the mock's log does not show it either)"

done_testing
