#!/bin/sh
# mspay and Stripe's amounts (issue 13, points 6, 10, 11): Stripe's minor
# unit where it differs from ISO 4217, amounts Stripe cannot take exactly
# refused before any request, the amount and currency of every answer
# checked, the API version pinned, a stored payment method sent with a
# PaymentIntent.  The gateway double refuses what Stripe refuses.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_ms13p6_9876543210
export MSPAY_KEY=$KEY
gwdouble_start --key "$KEY" --log gw.log || exit 1

charge() {	# charge SETTLEMENT AMOUNT CURRENCY [CUSTOMER [EXTRA]]
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"%s","amount":%s,"currency":"%s","key":"k-%s"%s}\n' \
	    "$1" "${4:-cus_ann}" "$2" "$3" "$1" "${5:-}"
}
field() {	# field SETTLEMENT FIELD: from $OUT
	printf '%s\n' "$OUT" | grep "\"settlement\":\"$1\"" | jget "$2"
}
sent() {	# sent SETTLEMENT: the form the gateway got, without metadata
	grep "\"key\": \"k-$1\"" gw.log | head -n 1 | jget body | sed 's/&customer=.*//'
}
requests() {	# requests SETTLEMENT: how many reached the gateway
	grep -c "\"key\": \"k-$1\"" gw.log
}

# --- the table (mspay(1), AMOUNTS): ISO minor units in, Stripe's out
{
	charge isk1 500 ISK		# 500 kr: ISO has no minor unit, Stripe 2
	charge isk2 5 ISK
	charge jpy1 300 JPY
	charge mga1 12300 MGA		# 123 ariary: ISO 2 decimals, Stripe none
	charge kwd1 5120 KWD		# three decimals, last digit 0
	charge huf1 12345 HUF		# two decimals for charges
	charge ugx1 5000 UGX
	charge eur1 1250 EUR
} >table.in
run -i table.in mspay -g stripe -u "$GW_URL"
is "$RC" 0 "the table: every charge succeeded, exit 0"
is "$(sent isk1)" "amount=50000&currency=isk" "ISK 500 kr goes out as 50000 (Stripe: two decimals)"
is "$(sent isk2)" "amount=500&currency=isk" "ISK 5 kr goes out as 500"
is "$(sent jpy1)" "amount=300&currency=jpy" "JPY as it is"
is "$(sent mga1)" "amount=123&currency=mga" "MGA 123.00 goes out as 123 (Stripe: zero-decimal)"
is "$(sent kwd1)" "amount=5120&currency=kwd" "KWD 5.120 as it is"
is "$(sent huf1)" "amount=12345&currency=huf" "HUF as it is"
is "$(sent ugx1)" "amount=5000&currency=ugx" "UGX as it is"
is "$(sent eur1)" "amount=1250&currency=eur" "EUR as it is"
is "$(field isk1 status)/$(field isk1 amount)/$(field isk1 currency)" "succeeded/500/ISK" \
    "ISK: the charged line keeps the ledger's amount"
gwdouble_stats | python3 -c '
import json, sys
o = {x["metadata"]["settlement"]: (x["amount"], x["currency"]) for x in json.load(sys.stdin)["objects"]}
sys.exit(0 if o["isk1"] == (50000, "isk") and o["mga1"] == (123, "mga") else 1)'
ok $? "the gateway holds 500 kr and 123 ariary"

# --- what Stripe cannot take exactly is refused before any request
{
	charge kwd2 5124 KWD
	charge bhd1 1001 BHD
	charge mga2 12345 MGA
} >inexact.in
run -i inexact.in mspay -g stripe -u "$GW_URL"
is "$RC" 1 "inexact amounts: exit 1"
for s in kwd2 bhd1 mga2; do
	is "$(field $s status)/$(field $s code)" "failed/amount_precision" "$s: failed, code amount_precision"
	is "$(requests $s)" 0 "$s: nothing was sent"
done
like "$(field kwd2 message)" "5124.*KWD.*10" "the message says what and why"

# --- the answer's amount and currency are checked
charge mm1 150 JPY cus_mismatch1 >mm.in
run -i mm.in mspay -g stripe -u "$GW_URL"
is "$RC" 1 "an answer for another amount: exit 1"
is "$(field mm1 status)/$(field mm1 code)" "failed/gateway_mismatch" \
    "an answer for another amount: not paid, code gateway_mismatch"
like "$(field mm1 message)" "99900 usd.*150 jpy" "the message gives both amounts"
like "$(field mm1 gateway_id)" "^ch_" "the gateway's id is kept for the admin"
charge mm2 150 JPY cus_mismatch2 >mm2.in
run -i mm2.in mspay -g stripe --api payment_intents -u "$GW_URL"
is "$(field mm2 status)/$(field mm2 code)" "failed/gateway_mismatch" "payment_intents: the same check"

# --- Stripe-Version pinned on every request; payment_method with PaymentIntents
python3 - gw.log <<'PY'
import json, sys
v = {json.loads(l)["stripe_version"] for l in open(sys.argv[1])}
sys.exit(0 if len(v) == 1 and v.pop() != "" else 1)
PY
ok $? "every request carries the same Stripe-Version"
charge pm1 250 EUR cus_pm ',"payment_method":"pm_card_ann"' >pm.in
run -i pm.in mspay -g stripe --api payment_intents -u "$GW_URL"
is "$(field pm1 status)" succeeded "payment_intents with a stored payment method: succeeded"
like "$(grep '"key": "k-pm1"' gw.log | jget body)" "&payment_method=pm_card_ann(&|$)" \
    "payment_intents: payment_method is sent"
charge pm2 250 EUR cus_pm ',"payment_method":"pm_card_ann"' >pm2.in
run -i pm2.in mspay -g stripe -u "$GW_URL"
is "$(field pm2 status)" succeeded "charges: succeeded (the charges API takes no payment_method)"
unlike "$(grep '"key": "k-pm2"' gw.log | jget body)" "payment_method" "charges: payment_method is not sent"

done_testing
