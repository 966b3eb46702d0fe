#!/bin/sh
# mspay: retry rules, unknown and the rerun, payment_intents, the webhook
# gateway, SIGTERM -- against tests/gwdouble.py.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_gateways_0123456789
export MSPAY_KEY=$KEY

charge() {	# charge SETTLEMENT CUSTOMER [AMOUNT]
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"%s","amount":%s,"currency":"EUR","key":"k-%s"}\n' \
	    "$1" "$2" "${3:-250}" "$1"
}
field() {	# field SETTLEMENT FIELD: from $OUT
	printf '%s\n' "$OUT" | grep "\"settlement\":\"$1\"" | jget "$2"
}
charges_at() {	# charges_at SETTLEMENT: how many the double committed
	gwdouble_stats | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["charges"].get(sys.argv[1], [])))' "$1"
}
attempts_at() {
	gwdouble_stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["attempts"].get(sys.argv[1], 0))' "$1"
}

# --- no definite answer: unknown, exit 75; the rerun settles it, once
gwdouble_start --faults 1 --only drop --key "$KEY" || exit 1
{ charge d1 cus_1; charge d2 cus_2; } >drop.in
run -i drop.in mspay -g stripe -u "$GW_URL" --retries 0
is "$RC" 75 "dropped connections, no retries: exit 75"
is "$(field d1 status)/$(field d2 status)" "unknown/unknown" "dropped: both unknown"
like "$(field d1 message)" "no definite answer after 1 attempts" "unknown says why"
is "$(charges_at d1)" 1 "dropped: the double did commit the charge"
run -i drop.in mspay -g stripe -u "$GW_URL" --retries 0
is "$RC" 0 "rerun with the same keys: exit 0"
is "$(field d1 status)/$(field d2 status)" "succeeded/succeeded" "rerun: both succeeded"
is "$(charges_at d1)/$(charges_at d2)" "1/1" "rerun: still one charge each"

# --- Stripe-Should-Retry both ways; 500 runs retried
gwdouble_start --faults 1 --only 500 --seed sr --key "$KEY" || exit 1
{ charge n1 cus_noretry1; charge r1 cus_retry400a; } >sr.in
run -i sr.in mspay -g stripe -u "$GW_URL" --backoff 0.01
is "$(field n1 status)" unknown "500 with Stripe-Should-Retry: false: unknown"
# the 500 run comes first (1-3 attempts), then the no-retry answer: once
is "$(( $(attempts_at k-n1) <= 4 ))" 1 "Stripe-Should-Retry: false is not retried"
is "$(field r1 status)" succeeded "400 with Stripe-Should-Retry: true: retried"
is "$(charges_at r1)" 1 "... and charged once"

# --- a plain 4xx is never retried
gwdouble_start --key "$KEY" || exit 1
charge x1 cus_nocard1 >nc.in
run -i nc.in mspay -g stripe -u "$GW_URL" --backoff 0.01
is "$RC" 0 "no payment method: a definite answer, exit 0"
is "$(field x1 status)/$(field x1 code)" "declined/missing" "no payment method: declined"
is "$(attempts_at k-x1)" 1 "a definite 4xx is not retried"
MSPAY_KEY=sk_test_wrong_key_abcdef run -i nc.in mspay -g stripe -u "$GW_URL"
is "$RC/$(field x1 status)/$(field x1 code)" "1/failed/authentication" "a wrong key: failed, exit 1"

# --- connections are kept alive and reused; --rate spaces the requests
gwdouble_start --key "$KEY" || exit 1
i=0
while [ $i -lt 200 ]; do charge c$i cus_$i; i=$((i + 1)); done >many.in
run -i many.in mspay -g stripe -u "$GW_URL" -P 4
is "$RC/$(printf '%s\n' "$OUT" | grep -c '"succeeded"')" "0/200" "200 charges with -P 4: all succeeded"
# (one more connection is the stats request itself)
is "$(( $(gwdouble_stats | jget connections) <= 5 ))" 1 "200 charges with -P 4: at most 4 connections"
gwdouble_start --key "$KEY" || exit 1
head -n 8 many.in >rate.in
run -i rate.in mspay -g stripe -u "$GW_URL" -P 8 --rate 20
gwdouble_stats | python3 -c '
import json, sys
a = json.load(sys.stdin)["arrivals"]
gaps = [b - a for a, b in zip(a, a[1:])]
sys.exit(0 if len(a) == 8 and min(gaps) >= 0.04 else 1)'
ok $? "--rate 20: requests at least 1/20 s apart"

# --- payment_intents
gwdouble_start --key "$KEY" --log pi.log || exit 1
{ charge p1 cus_ok; charge p2 cus_decline2; } >pi.in
run -i pi.in mspay -g stripe --api payment_intents -u "$GW_URL"
is "$RC" 0 "payment_intents: exit 0"
is "$(field p1 status)/$(field p2 status)" "succeeded/declined" "payment_intents: succeeded and declined"
like "$(field p1 gateway_id)" "^pi_" "payment_intents: the intent's id"
is "$(field p2 code)" insufficient_funds "payment_intents: the decline code"
like "$(grep -c '"path": "/v1/payment_intents"' pi.log)" "^2$" "payment_intents: posted to /v1/payment_intents"
like "$(sed -n 1p pi.log)" "confirm=true&off_session=true" "payment_intents: confirm and off_session"

# --- webhook: signed JSON POST of the charge
printf 'whsec_shared_secret_42\n' >wh.key
chmod 600 wh.key
gwdouble_start --webhook-secret wh.key --faults 0.5 --seed wh --only 500,drop,malformed \
    --log wh.log || exit 1
{ charge w1 cus_1; charge w2 cus_decline; charge w3 cus_3; charge w4 cus_4; } >wh.in
unset MSPAY_KEY
run -i wh.in mspay -g webhook -u "$GW_URL/webhook" -K wh.key --backoff 0.01 -T 2
is "$RC" 0 "webhook: exit 0"
is "$(field w1 status)/$(field w2 status)/$(field w3 status)/$(field w4 status)" \
    "succeeded/declined/succeeded/succeeded" "webhook: the endpoint's answers"
is "$(charges_at w1)$(charges_at w3)$(charges_at w4)" 111 "webhook: each charged once despite faults"
like "$(sed -n 1p wh.log)" '"signature": "t=[0-9]+,v1=[0-9a-f]{64}"' "webhook: MS-Signature header"
like "$(sed -n 1p wh.log)" '"body": "\{\\"type\\": ?\\"charge\\"' "webhook: the body is the charge line"
printf 'not_the_secret_at_all\n' >bad.key
chmod 600 bad.key
charge w9 cus_9 >w9.in
run -i w9.in mspay -g webhook -u "$GW_URL/webhook" -K bad.key
is "$RC/$(field w9 status)/$(field w9 code)" "1/failed/signature" "webhook: a wrong secret is refused"
unlike "$OUT$ERR" "not_the_secret" "webhook: the secret is not shown"
export MSPAY_KEY=$KEY

# --- SIGTERM: stop taking lines, finish what is in flight, report the rest
gwdouble_start --latency 0.3 --key "$KEY" || exit 1
i=0
while [ $i -lt 200 ]; do charge t$i cus_$i; i=$((i + 1)); done >term.in
mkfifo fifo
mspay -g stripe -u "$GW_URL" -P 4 <fifo >term.out 2>term.err &
pay=$!
# the writer holds the pipe open: mspay sees no EOF, only the signal
bg sh -c 'exec >fifo; cat term.in; exec sleep 60'
wait_line term.out '"status":"succeeded"'
# while it runs: the key is in neither its argv nor its environment
tr '\0' ' ' </proc/$pay/cmdline >term.cmdline
tr '\0' '\n' </proc/$pay/environ >term.environ
like "$(cat term.cmdline)" "^mspay -g stripe" "(read the running mspay's argv)"
unlike "$(cat term.cmdline term.environ)" "$KEY" "the key is not in /proc/PID/cmdline or environ"
kill -TERM $pay
wait $pay
rc=$?
like "$rc" '^(0|75)$' "SIGTERM: exits with 0 or 75"
gwdouble_stats >term.stats
python3 - term.out term.stats <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
st = json.load(open(sys.argv[2]))
seen = [o["settlement"] for o in out]
ok = len(seen) == len(set(seen)) and len(seen) < 200
charged = set(st["charges"])
succ = {o["settlement"] for o in out if o["status"] == "succeeded"}
ok = ok and charged <= succ and all(len(v) == 1 for v in st["charges"].values())
sys.exit(0 if ok else 1)
PY
ok $? "SIGTERM: every charge made is reported, none twice, the rest untouched"
is "$(cat term.err)" "" "SIGTERM: nothing on stderr"

done_testing
