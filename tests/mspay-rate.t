#!/bin/sh
# mspay under a gateway's rate limit (tests/gwdouble.py --rate-limit, a
# token bucket answering 429 with Retry-After and Stripe's rate_limit
# error): mspay finds the rate by itself from the 429s, and --rate keeps
# it under a rate it is told.  Everything is counted at the double.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_rate_0123456789
export MSPAY_KEY=$KEY

charges() {	# charges PREFIX N
	python3 - "$1" "$2" <<'PY'
import json, sys
p, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    print(json.dumps({"type": "charge", "settlement": "%s%d" % (p, i), "user": "u%d" % i,
                      "customer": "cus_%d" % i, "amount": 100 + i, "currency": "EUR",
                      "key": "k-%s%d" % (p, i)}, separators=(",", ":")))
PY
}
statuses() {	# how many of each status in $OUT, sorted
	printf '%s\n' "$OUT" | jget status | sort | uniq -c | awk '{ printf "%s%s=%s", s, $2, $1; s = " " }'
}
# at_double PREFIX N: "charged-once/charged-more/requests/429s/violations/peak"
at_double() {
	gwdouble_stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
p, n = sys.argv[1], int(sys.argv[2])
ch = [len(s["charges"].get("%s%d" % (p, i), [])) for i in range(n)]
print("%d/%d/%d/%d/%d/%d" % (ch.count(1), sum(1 for c in ch if c > 1), s["requests"],
      s["rate_limited"], s["retry_after_violations"], s["peak_1s"]))' "$1" "$2"
}

# --- the double limits: beyond 50 a second, 429 with Stripe's body
gwdouble_start --key "$KEY" --rate-limit 50 --rate-burst 1 || exit 1
python3 - "$GW_URL" "$KEY" <<'PY' >probe
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
for i in range(2):
    c.request("POST", "/v1/charges", "amount=100&currency=eur&customer=cus_p",
              {"Authorization": "Bearer " + sys.argv[2], "Idempotency-Key": "probe%d" % i})
    r = c.getresponse()
    print(r.status, r.getheader("Retry-After"), r.read().decode())
PY
like "$(sed -n 2p probe)" '^429 1 \{"error": \{"type": "invalid_request_error", .*"code": "rate_limit"' \
    "the double: a second request at once is 429, Retry-After, rate_limit"

# --- no --rate: mspay finds the gateway's rate from its 429s
gwdouble_start --key "$KEY" --rate-limit 50 || exit 1
charges a 300 >a.in
run -i a.in mspay -g stripe -u "$GW_URL" -P 16
is "$RC" 0 "300 charges against a 50/s gateway: exit 0"
is "$(statuses)" "succeeded=300" "300 charges against a 50/s gateway: all succeeded, none failed or unknown"
IFS=/ read -r once more requests limited violations peak <<EOF
$(at_double a 300)
EOF
is "$once/$more" "300/0" "each settlement charged exactly once at the double"
ok $(( limited * 100 > requests * 20 )) "at most 20% of the requests answered 429 ($limited of $requests)"
is "$violations" 0 "no charge asked again before its Retry-After"

# --- --rate: the double never sees more than it allows
gwdouble_start --key "$KEY" --rate-limit 50 --rate-burst 5 || exit 1
charges b 100 >b.in
run -i b.in mspay -g stripe -u "$GW_URL" -P 16 --rate 40
is "$RC/$(statuses)" "0/succeeded=100" "--rate 40 against a 50/s gateway: all succeeded"
IFS=/ read -r once more requests limited violations peak <<EOF
$(at_double b 100)
EOF
is "$once/$more/$requests" "100/0/100" "--rate 40: one request a charge, each charged once"
is "$limited" 0 "--rate 40: no 429"
ok $(( peak > 42 )) "--rate 40: at most 42 requests in any second at the double ($peak)"

run mspay -g stripe -u "$GW_URL" --rate 0
is "$RC" 2 "--rate 0: usage error"

done_testing
