#!/bin/sh
# mspay: the key goes only over https, or over plain http to this host
# itself and never through a proxy (issue 13, point 7).  The URL is judged
# by its host as libcurl parses it, not by its first characters.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

KEY=sk_test_url_0123456789
export MSPAY_KEY=$KEY
gwdouble_start --key "$KEY" --log gw.log || exit 1
GW=$GW_URL
GWPORT=$GW_PORT
printf '{"type":"charge","settlement":"u1","user":"ann","customer":"cus_1","amount":250,"currency":"EUR","key":"k-u1"}\n' >in

# refused URLs: exit 2, a reason, nothing sent anywhere
for url in "http://localhost:x@127.0.0.2:$GWPORT" \
    "http://localhost:80@pay.example.com/" \
    "http://127.0.0.1.pay.example.com:$GWPORT/" \
    "http://127.0.0.2:$GWPORT/" \
    "http://user:pw@127.0.0.1:$GWPORT/" \
    "ftp://127.0.0.1:$GWPORT/" \
    "not a url"; do
	run -i in mspay -g stripe -u "$url"
	is "$RC/$OUT" "2/" "refused before any charge: $url"
	like "$ERR" "^mspay: -u: " "says why: $url"
done
is "$(gwdouble_stats | jget requests)" 0 "no refused URL reached the gateway"
is "$(wc -l <gw.log | tr -d ' ')" 0 "(the gateway's log is empty)"

# the three names of this host are accepted, in any case
for url in "$GW" "HTTP://LOCALHOST:$GWPORT" "http://localhost:$GWPORT/"; do
	run -i in mspay -g stripe -u "$url"
	is "$RC/$(printf '%s\n' "$OUT" | jget status)" "0/succeeded" "accepted: $url"
done

# a proxy in the environment never sees a plain-http request with the key
gwdouble_start --log proxy.log || exit 1
PROXY=$GW_URL
GW_URL=$GW
printf '{"type":"charge","settlement":"u2","user":"ann","customer":"cus_1","amount":250,"currency":"EUR","key":"k-u2"}\n' >in2
http_proxy=$PROXY HTTP_PROXY=$PROXY ALL_PROXY=$PROXY all_proxy=$PROXY \
    run -i in2 mspay -g stripe -u "$GW"
is "$RC/$(printf '%s\n' "$OUT" | jget status)" "0/succeeded" "with a proxy in the environment: charged directly"
is "$(wc -l <proxy.log | tr -d ' ')" 0 "with a proxy in the environment: the proxy got nothing"
is "$(grep -c '"key": "k-u2"' gw.log)" 1 "with a proxy in the environment: the gateway got the request"

done_testing
