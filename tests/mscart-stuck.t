#!/bin/sh
# mscart's loop behind a killed process's mutex: another writer is
# SIGKILLed inside a log write (tests/lib/diewrite.c), holding Berkeley
# DB's log mutex, so the server's next commit would block for good.  The
# watchdog (MSCART_WATCHDOG) makes it say so and exit 75 instead; the
# line it did not answer applies when sent again, once.
. "$(dirname "$0")/lib.sh"

SHIM=$MS_BUILD/tests/diewrite.so
need_preload "$SHIM"
MSCART_DB=$T/db
export MSCART_DB

printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"JPY"}' \
    '{"type":"user","user":"alice","name":"Alice","cards":["line:alice"],"currency":"JPY"}' >catalog
run mscart import -c catalog
is "$RC" 0 "catalogue"
tk() {
	printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"cola","card":"line:alice"}\n' "$1"
}

mkfifo in
spawn in out err env MSCART_WATCHDOG=1 mscart serve --role robot:r1
srv=$BG_PID
exec 3>in
tk 1 >&3
wait_line out '"event":"r1:1"' 20
ok $? "the server applies a take"
tk 99 | env DIEWRITE_ON=/log. LD_PRELOAD="$SHIM" mscart apply >/dev/null 2>&1
is $? 137 "another writer dies inside a log write"
tk 2 >&3
wait $srv
is $? 75 "the server, stuck behind it, exits 75"
like "$(cat err)" "stuck behind a killed process" "and says why"
is "$(grep -c '"r1:2"' out)" 0 "it did not answer the stuck line"
exec 3>&-
{ tk 1; tk 2; } >again
run -i again mscart apply
is "$(printf '%s\n' "$OUT" | jget status | tr '\n' ' ')" "duplicate applied " \
    "sent again: the answered line is a duplicate, the other applies"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)" 300 "two takes, 300 yen, nothing twice"
run mscart verify
is "$RC" 0 "verify passes"
done_testing
