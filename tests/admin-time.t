#!/bin/sh
# The shop's local time (issue 17, point 4): tables and report periods
# in the shop's zone (TZ, else ms.conf's timezone), NDJSON in UTC; report
# --from, --to, -b month and names beside ids.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=$T/ms.conf
export MSCART_DB MS_CONF
unset TZ
printf 'timezone = Asia/Tokyo\n' >ms.conf
A=iso14443a:04A1B2C3
cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"currency":"EUR"}
EOF
mscart init
mscart import setup
tk() { printf '{"type":"take","ts":"%s","robot":"r7","seq":%s,"slot":"A1","sku":"cola","card":"%s"}\n' "$1" "$2" "$A"; }
{
	tk 2026-11-30T14:59:59.000Z 1	# 23:59:59 on 30 November in Tokyo
	tk 2026-11-30T16:00:00.000Z 2	# 01:00 on 1 December in Tokyo
	tk 2026-12-31T15:00:00.000Z 3	# midnight, 1 January 2027 in Tokyo
} >takes
run -i takes mscart apply
is "$RC" 0 "three takes applied"

check "report -b day: Tokyo's days, from ms.conf's timezone" "" \
'{"by":"day","key":"2026-11-30","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"day","key":"2026-12-01","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"day","key":"2027-01-01","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}' \
"" 0 mscart report -b day
check "TZ overrides ms.conf: UTC's days" "" \
'{"by":"day","key":"2026-11-30","currency":"EUR","count":2,"amount":300,"paid":0,"unpaid":300}
{"by":"day","key":"2026-12-31","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}' \
"" 0 env TZ=UTC mscart report -b day
check "TZ=Asia/Tokyo: a take at 2026-11-30T16:00:00Z is in the 1 December bucket" "" \
'{"by":"day","key":"2026-11-30","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"day","key":"2026-12-01","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"day","key":"2027-01-01","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}' \
"" 0 env MS_CONF=/dev/null TZ=Asia/Tokyo mscart report -b day
check "report -b month: the shop's months" "" \
'{"by":"month","key":"2026-11","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"month","key":"2026-12","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}
{"by":"month","key":"2027-01","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150}' \
"" 0 mscart report -b month
check "report --from --to: December in Tokyo, names beside ids" "" \
'{"by":"user","key":"alice","currency":"EUR","count":1,"amount":150,"paid":0,"unpaid":150,"name":"Alice"}' \
"" 0 mscart report -b user --from 2026-12-01 --to 2027-01-01
check "report -c --from=: a local time, the product's name" "" \
'by,key,currency,count,amount,paid,unpaid,name
product,"cola",EUR,2,300,0,300,"Cola"' \
"" 0 mscart report -c --from=2026-12-01T00:30
check "report --to a bad date" "" "" \
"mscart: --to 2026-12-32: not a date (2026-12-01) or local time (2026-12-01T09:30)" \
2 mscart report --to 2026-12-32
check "report -b week is a usage error" "" "" \
"mscart: -b week: must be product, robot, user, day or month
usage: mscart report [-ch] [-b by] [-d dir] [--from time] [--to time]" 2 mscart report -b week

run mscart show -H alice
like "$OUT" 'L2       2026-12-01 01:00:00 JST cola' "show -H: the take in Tokyo's time, with the zone's name"
run mscart show alice
like "$OUT" '"ts":"2026-11-30T16:00:00.000Z"' "show's NDJSON stays in UTC"
run env TZ=Europe/Berlin mscart show -H alice
like "$OUT" 'L2       2026-11-30 17:00:00 CET cola' "TZ=Europe/Berlin: Berlin's time"
done_testing
