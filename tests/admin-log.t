#!/bin/sh
# mscart log (issue 17, point 5): a take's entry says its sku; -u keeps
# the entries about one user, --from and --to those of a period (the
# shop's time), -n the last of them.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
export MSCART_DB MS_CONF
A=iso14443a:04A1B2C3
B=iso14443a:04B0B0B0
cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"product","sku":"tea","name":"Tea","price":200,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":["$B"],"currency":"EUR"}
EOF
mscart init
mscart import setup
tk() { printf '{"type":"take","ts":"2026-11-28T10:00:0%s.000Z","robot":"r7","seq":%s,"slot":"A1","sku":"%s","card":"%s"}\n' "$1" "$1" "$2" "$3"; }
{ tk 1 cola "$A"; tk 2 tea "$B"; tk 3 tea "$A"; } >takes
run -i takes mscart apply
is "$RC" 0 "takes applied"
mscart block bob

run mscart log
is "$(printf '%s\n' "$OUT" | grep '"what":"take"' | sed 's/.*"event":"\([^"]*\)".*"sku":"\([^"]*\)".*/\1 \2/' | tr '\n' ' ')" \
    "r7:1 cola r7:2 tea r7:3 tea " "each take's entry says its sku"
run mscart log -u alice
is "$RC" 0 "log -u exits 0"
is "$(printf '%s\n' "$OUT" | sed 's/.*"what":"\([^"]*\)".*/\1/' | tr '\n' ' ')" "user-add take take " \
    "log -u alice: her record and her two takes"
run mscart log -u bob
is "$(printf '%s\n' "$OUT" | sed 's/.*"what":"\([^"]*\)".*/\1/' | tr '\n' ' ')" "user-add take block " \
    "log -u bob: his record, his take and his block"
run mscart log -u alice -n 1
like "$OUT" '^\{"n":[0-9]*,.*"what":"take","event":"r7:3".*"sku":"tea"\}$' "-u with -n 1: her last entry only"
check "--from a time after everything: nothing" "" "" "" 0 mscart log --from 2999-01-01
check "--to the epoch: nothing" "" "" "" 0 mscart log -u alice --to 1970-01-02
run mscart log --from 2000-01-01 --to 2999-01-01
is "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" "$(mscart log | wc -l | tr -d ' ')" "a period around everything: every entry"
check "-u with a bad id" "" "" \
"mscart: -u a b: not a user id
usage: mscart log [-h] [-d dir] [-n count] [-u user] [--from time] [--to time]" 2 mscart log -u "a b"
check "--from that is not a date" "" "" \
"mscart: --from yesterday: not a date (2026-12-01) or local time (2026-12-01T09:30)" 2 mscart log --from yesterday
done_testing
