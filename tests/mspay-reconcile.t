#!/bin/sh
# mspay: never charge twice once the gateway has forgotten a key (issue 13,
# point 1), and the same key always with the same body (point 2, mspay's
# side).  Charges are counted at the gateway double, whose idempotency keys
# expire like Stripe's and whose search API can lag.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_reconcile_9876543210
export MSPAY_KEY=$KEY

ago() {	# ago SECONDS: an RFC 3339 time that long before now
	python3 -c 'import sys, time
print(time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - int(sys.argv[1]))))' "$1"
}
charge() {	# charge SETTLEMENT CUSTOMER [EXTRA]: 250 EUR under key k-SETTLEMENT
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"%s","amount":250,"currency":"EUR","key":"k-%s"%s}\n' \
	    "$1" "$2" "$1" "${3:-}"
}
field() {	# field SETTLEMENT FIELD: from $OUT
	printf '%s\n' "$OUT" | grep "\"settlement\":\"$1\"" | jget "$2"
}
posts() {	# posts LOG SETTLEMENT: charge requests the gateway got for it
	grep -c "\"method\": \"POST\", \"path\": \"/v1/[a-z_]*\", \"query\": {}, \"key\": \"k-$2\"" "$1"
}
searches() {	# searches LOG SETTLEMENT
	grep '"method": "GET"' "$1" | grep -c "'$2'"
}
DAY=90000	# 25 hours: past Stripe's 24

# --- the answer is lost after the gateway committed; a day later the key
# is gone.  Sending again would be a second charge: search first.
gwdouble_start --faults 1 --only drop --key "$KEY" --log a.log || exit 1
{ charge s1 cus_1 ',"attempt":1'; charge s2 cus_2 ',"attempt":1'; } >first.in
run -i first.in mspay -g stripe -u "$GW_URL" --retries 0
is "$RC/$(field s1 status)/$(field s2 status)" "75/unknown/unknown" "answers lost: unknown, exit 75"
is "$(gwdouble_charges s1)/$(gwdouble_charges s2)" "1/1" "(the gateway did charge both)"
first_id=$(gwdouble_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["charges"]["s1"][0])')
gwdouble_advance $DAY
# s1: a line with no times (an older mscart): its age is unknown
# s2: a line whose first attempt is a day old
{
	charge s1 cus_1 ',"attempt":2'
	charge s2 cus_2 ",\"attempt\":2,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago $DAY)\""
} >again.in
: >a.log
run -i again.in mspay -g stripe -u "$GW_URL" --retries 0
is "$RC" 0 "a day later: exit 0"
is "$(field s1 status)/$(field s1 gateway_id)" "succeeded/$first_id" \
    "a day later, no times on the line: found by search, the first charge's id"
is "$(field s2 status)" succeeded "a day later, first attempt a day old: found by search"
is "$(gwdouble_charges s1)/$(gwdouble_charges s2)" "1/1" "a day later: still one charge each at the gateway"
is "$(posts a.log s1)/$(posts a.log s2)" "0/0" "a day later: nothing was posted again"
is "$(searches a.log s1)/$(searches a.log s2)" "2/2" "a day later: charges and PaymentIntents were searched"
like "$(sed -n 1p a.log | jget query.query)" "^metadata\['settlement'\]:'s[12]'$" "the search query names the settlement"

# --- never charged, first attempt a day old, last attempt older than the
# search lag: nothing found proves it; sent again under its key, once
gwdouble_start --key "$KEY" --log b.log || exit 1
charge s3 cus_3 ",\"attempt\":3,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago 3600)\"" >s3.in
run -i s3.in mspay -g stripe -u "$GW_URL"
is "$RC/$(field s3 status)" "0/succeeded" "not found, last attempt an hour ago: sent and charged"
is "$(gwdouble_charges s3)/$(posts b.log s3)" "1/1" "not found: charged once"

# --- within the key's lifetime the same key is safe: no search, a replay
gwdouble_start --faults 1 --only drop --key "$KEY" --log c.log || exit 1
charge s4 cus_4 ",\"attempt\":1,\"first_attempt\":\"$(ago 5)\"" >s4a.in
run -i s4a.in mspay -g stripe -u "$GW_URL" --retries 0
is "$(field s4 status)" unknown "s4 answer lost"
charge s4 cus_4 ",\"attempt\":2,\"first_attempt\":\"$(ago 3600)\",\"last_attempt\":\"$(ago 3600)\"" >s4b.in
run -i s4b.in mspay -g stripe -u "$GW_URL"
is "$RC/$(field s4 status)" "0/succeeded" "an hour later: sent under the same key, answered by replay"
is "$(gwdouble_charges s4)/$(searches c.log s4)" "1/0" "an hour later: one charge, no search needed"

# --- search lags writes: a recent attempt not found is not proof
gwdouble_start --faults 1 --only drop --search-lag 60 --key "$KEY" --log d.log || exit 1
charge s5 cus_5 ',"attempt":1' >s5a.in
run -i s5a.in mspay -g stripe -u "$GW_URL" --retries 0
gwdouble_forget 0	# the key is gone early (the double's worst case)
: >d.log
charge s5 cus_5 ",\"attempt\":2,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago 10)\"" >s5b.in
run -i s5b.in mspay -g stripe -u "$GW_URL"
is "$RC/$(field s5 status)/$(field s5 code)" "75/unknown/search_lag" \
    "not found, but the last attempt was 10 s ago: unknown, code search_lag"
is "$(posts d.log s5)/$(gwdouble_charges s5)" "0/1" "not sent: still one charge"
gwdouble_advance 120
charge s5 cus_5 ",\"attempt\":3,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago 600)\"" >s5c.in
run -i s5c.in mspay -g stripe -u "$GW_URL"
is "$RC/$(field s5 status)/$(gwdouble_charges s5)" "0/succeeded/1" "the next run finds it: succeeded, one charge"
charge s6 cus_6 ",\"attempt\":2,\"first_attempt\":\"$(ago $DAY)\"" >s6.in
run -i s6.in mspay -g stripe -u "$GW_URL"
is "$(field s6 status)/$(field s6 code)/$(posts d.log s6)" "unknown/search_lag/0" \
    "no last_attempt on a later attempt: not found is not proof, not sent"

# --- a decline found by search stays a decline; nothing is charged
gwdouble_start --key "$KEY" --log e.log || exit 1
charge s7 cus_decline7 ',"attempt":1' >s7a.in
run -i s7a.in mspay -g stripe -u "$GW_URL"
is "$(field s7 status)" declined "s7 declined"
gwdouble_advance $DAY
: >e.log
charge s7 cus_decline7 ",\"attempt\":2,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago $DAY)\"" >s7b.in
run -i s7b.in mspay -g stripe -u "$GW_URL"
is "$(field s7 status)/$(field s7 code)/$(posts e.log s7)" "declined/card_declined/0" \
    "a day later: the earlier decline is found, nothing sent"

# --- a PaymentIntent is found too
gwdouble_start --faults 1 --only drop --key "$KEY" --log f.log || exit 1
charge s8 cus_8 ',"attempt":1' >s8a.in
run -i s8a.in mspay -g stripe --api payment_intents -u "$GW_URL" --retries 0
gwdouble_advance $DAY
charge s8 cus_8 ",\"attempt\":2,\"first_attempt\":\"$(ago $DAY)\",\"last_attempt\":\"$(ago $DAY)\"" >s8b.in
run -i s8b.in mspay -g stripe --api payment_intents -u "$GW_URL"
is "$(field s8 status)/$(gwdouble_charges s8)" "succeeded/1" "payment_intents: found by search, one charge"
like "$(field s8 gateway_id)" "^pi_" "payment_intents: the intent's id"

# --- the webhook body does not change between attempts (point 2)
printf 'whsec_reconcile_secret_42\n' >wh.key
chmod 600 wh.key
gwdouble_start --webhook-secret wh.key --log w.log || exit 1
unset MSPAY_KEY
charge w1 cus_1 ',"attempt":1,"description":"ms S1: 2 items"' >w1.in
run -i w1.in mspay -g webhook -u "$GW_URL/webhook" -K wh.key
is "$(field w1 status)" succeeded "webhook, attempt 1: succeeded"
charge w1 cus_1 ',"attempt":2,"description":"ms S1: 2 items"' >w2.in
run -i w2.in mspay -g webhook -u "$GW_URL/webhook" -K wh.key
is "$RC/$(field w1 status)" "0/succeeded" "webhook, attempt 2 under the same key: the same body, answered by replay"
is "$(gwdouble_stats | jget mismatch)/$(gwdouble_charges w1)" "0/1" "webhook: no mismatch at the endpoint, one charge"
python3 - w.log <<'PY'
import json, sys
b = {json.loads(l)["body"] for l in open(sys.argv[1])}
sys.exit(0 if len(b) == 1 and "attempt" not in b.pop() else 1)
PY
ok $? "webhook: both attempts sent the same bytes, with no attempt number"

done_testing
