#!/bin/sh
# ms.conf for mspay (issue 17, point 1): "payroll" is the ledger file and
# "gateway" the gateway when -f and -g are not given; the options win.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

charge() {
	printf '{"type":"charge","settlement":"%s","user":"ann","customer":"cus_ann","amount":100,"currency":"EUR","key":"key-%s"}\n' "$1" "$1"
}
MS_CONF=$T/ms.conf
export MS_CONF
printf 'gateway = ledger\npayroll = %s/office.csv\n' "$T" >ms.conf
charge s1 >in
run -i in mspay
is "$RC:$ERR" "0:" "mspay with ms.conf's gateway and payroll file exits 0, quietly"
is "$(cut -d, -f1 office.csv | tr -d '"' | tr '\n' ' ')" "settlement s1 " "the charge went to ms.conf's payroll file"
ok "$([ ! -e payroll.csv ]; echo $?)" "not to the default payroll.csv"
charge s2 >in
run -i in mspay -f other.csv
is "$(cut -d, -f1 other.csv | tr -d '"' | tr '\n' ' ')" "settlement s2 " "-f overrides ms.conf's payroll"
printf 'gateway = webhook\n' >ms.conf
run -i in mspay
is "$RC" 2 "gateway = webhook without -u: a usage error, as with -g webhook"
charge s4 >in
run -i in mspay -g ledger -f third.csv
is "$RC:$(cut -d, -f1 third.csv | tr -d '"' | tr '\n' ' ')" "0:settlement s4 " "-g overrides ms.conf's gateway"
printf 'gateway = paypal\npayroll = %s/office.csv\n' "$T" >ms.conf
charge s3 >in
run -i in mspay
is "$ERR" "mspay: $T/ms.conf:1: want ledger, stripe or webhook" "a bad gateway line is named"
is "$RC:$(tail -n 1 office.csv | cut -d, -f1 | tr -d '"')" "0:s3" "and not applied: the rest of the file is"

# a pattern: strftime's conversions in the shop's time, one file a month
printf 'payroll = %s/payroll-%%Y-%%m.csv\n' "$T" >ms.conf
charge s5 >in
run -i in env TZ=UTC mspay
is "$RC:$ERR" "0:" "mspay with a payroll pattern exits 0"
f=payroll-$(TZ=UTC date +%Y-%m).csv
is "$(tail -n 1 "$f" 2>/dev/null | cut -d, -f1 | tr -d '"')" "s5" "the charge went to this month's file, $f"

# "key" and "url": the Stripe deployment made in ms.conf alone
KEY=sk_test_conf_0123456789
gwdouble_start --key "$KEY" || exit 1
printf '%s\n' "$KEY" >stripe.key
chmod 600 stripe.key
printf 'gateway = stripe\nkey = %s/stripe.key\nurl = %s\n' "$T" "$GW_URL" >ms.conf
charge k1 >in
run -i in mspay
is "$RC:$(printf '%s\n' "$OUT" | jget status)" "0:succeeded" "gateway, key and url from ms.conf: charged at the double"
chmod 640 stripe.key
charge k2 >in
run -i in mspay
is "$RC" 1 "a key file the group may read is refused"
like "$ERR" "stripe.key: readable by group or others \\(mode 640\\)" "naming the file and its mode"
is "$OUT" "" "and nothing is charged"
printf 'gateway = stripe\nkey = %s/none.key\nurl = %s\n' "$T" "$GW_URL" >ms.conf
run -i in env MSPAY_KEY="$KEY" mspay
is "$RC:$(printf '%s\n' "$OUT" | jget status)" "0:succeeded" "MSPAY_KEY overrides ms.conf's key"
run -i in mspay -u http://127.0.0.1:1 -K "$T/stripe.key"
is "$RC" 1 "-K overrides ms.conf's key (this one is refused: mode 640)"
like "$ERR" "stripe.key: readable" "the -K file is the one read"
printf 'gateway = webhook\nurl = %s/hook\n' "$GW_URL" >ms.conf
run -i in env MSPAY_KEY=whsec_conf_0123 mspay
unlike "$ERR" "needs -u" "gateway = webhook with url in ms.conf needs no -u"
done_testing
