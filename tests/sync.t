#!/bin/sh
# mscart record and push without ssh: push runs "mscart serve" itself.
. "$(dirname "$0")/lib.sh"

take='{"type":"take","ts":"2026-11-28T11:00:00.000Z","slot":"a1","sku":"cola","card":"iso14443a:04A1B2C3"}'
ident='{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"iso14443a:04A1B2C3"}'
door='{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open"}'
query='{"type":"query","id":"q1","user":"bob"}'
serve="mscart serve --role robot:r7 -d $T/server"

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:04A1B2C3"]}' |
    mscart import -c -d server >/dev/null 2>&1
ok $? "server database set up"

# --- record ---
check "record stamps events with robot and seq, passes requests on" \
"$take
$query
$door
" \
'{"type":"take","ts":"2026-11-28T11:00:00.000Z","slot":"a1","sku":"cola","card":"iso14443a:04A1B2C3","robot":"r7","seq":1}
{"type":"query","id":"q1","user":"bob"}
{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open","robot":"r7","seq":2}' \
"" 0 mscart record -r r7 -d robot

check "seq goes on after a restart" "$door
" \
'{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open","robot":"r7","seq":3}' \
"" 0 mscart record -r r7 -d robot

check "bad lines are named and skipped, the rest recorded, exit 1" \
"nonsense
$door
{\"type\":\"take\",\"ts\":\"2026-11-28T11:00:00.000Z\",\"slot\":\"a1\"}
{\"type\":\"door\",\"ts\":\"2026-11-28T11:00:01.000Z\",\"state\":\"open\",\"robot\":\"r7\",\"seq\":9}
{\"type\":\"ack\",\"status\":\"applied\"}
" \
'{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open","robot":"r7","seq":4}' \
"mscart: -:1: invalid JSON at column 8: '[' or '{' expected near 'nonsense'
mscart: -:3: take: missing field \"sku\"
mscart: -:4: door: already recorded as r7:9
mscart: -:5: \"ack\" is not an event, query or pay" \
1 mscart record -r r7 -d robot

check "another robot in the same directory has its own seq" "$door
" \
'{"type":"door","ts":"2026-11-28T11:00:01.000Z","state":"open","robot":"r8","seq":1}' \
"" 0 mscart record -r r8 -d robot

run mscart record -d robot
is "$RC" 2 "record without -r is a usage error"
like "$ERR" "^usage: mscart record \\[-h\\] \\[-d dir\\] \\[-w seconds\\] -r robot" "record prints its usage"
run mscart push -r 'bad robot' -d robot
is "$RC" 2 "push refuses a bad robot id"

# --- push: drain the outbox through serve, then exit ---
run mscart push -r r7 -d robot -- $serve
is "$RC" 0 "push drains the outbox and exits at the end of stdin"
is "$(printf '%s\n' "$OUT" | jget event | tr '\n' ' ')" "r7:1 r7:2 r7:3 r7:4 " \
    "every event acknowledged once, in seq order"
like "$ERR" "push: connected; 4 events to send" "push says it connected"
like "$ERR" "push: up to date at r7:4" "push says when it is up to date"

run mscart push -r r7 -d robot -- $serve
is "$RC:$OUT" "0:" "a second push has nothing to send and starts no link"

n=$(mscart log -d server | grep -c '"event":"r7:')
is "$n" 4 "the server holds the four events"

# --- record | push: the robot pipeline, and a display's replies ---
mkfifo in
bg sh -c 'mscart record -r r7 -d robot <in |
    mscart push -r r7 -d robot -- '"$serve"' >display 2>push.err'
exec 3>in
printf '%s\n' "$take" "$ident" "$query" >&3
wait_line display '"type":"cart"' 20
ok $? "the query's cart comes back on stdout"
sed -n 2p display | jget cart.items.1.event >got
is "$(cat got)" "r7:5" "identify's ack shows the cart with the take just made"
is "$(sed -n 3p display | jget id)" "q1" "the query's reply keeps its id"
exec 3>&-
wait "$BG_PID"
is "$?" 0 "the pipeline ends with its input"

# --- offline: requests get an error at once; SIGTERM stops push ---
printf '%s\n' "$take" | mscart record -r r7 -d robot >/dev/null
mkfifo q
bg sh -c 'exec mscart push -r r7 -d robot -b 0.2 -- false <q >offline.out 2>offline.err'
pid=$BG_PID
exec 4>q
wait_line offline.err "push: offline: false exited with status 1" 20
ok $? "push reports the failed link once"
printf '%s\n' "$query" >&4
wait_line offline.out '"code":"offline"' 20
ok $? "a query without a link is answered offline at once"
is "$(jget id <offline.out)" q1 "the offline error carries the request id"
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "push stops cleanly on SIGTERM"
like "$(cat offline.err)" "stopped with 1 events not yet delivered" \
    "push says what is left"
is "$(grep -c 'offline:' offline.err)" 1 "the offline state is reported once"
exec 4>&-

# --- a take of a product the server does not know is kept, not refused ---
printf '%s\n' '{"type":"take","ts":"2026-11-28T11:00:00.000Z","slot":"a1","sku":"nope"}' \
    "$door" | mscart record -r r7 -d robot >/dev/null
run mscart push -r r7 -d robot -- $serve
is "$RC" 0 "push delivers a take of an unknown sku"
is "$(printf '%s\n' "$OUT" | head -n 1 | jget status)" applied "the server applies it (held)"
is "$(printf '%s\n' "$OUT" | tail -n 1 | jget event)" "r7:9" \
    "the next event is delivered"

# --- a server that answers out of turn is a broken link ---
cat >liar.sh <<'EOF'
read -r line
echo '{"type":"ack","status":"applied","of":"hello"}'
read -r line
echo '{"type":"ack","status":"applied","event":"r7:99"}'
EOF
printf '%s\n' "$door" | mscart record -r r7 -d robot >/dev/null
bg mscart push -r r7 -d robot -b 0.2 -- sh liar.sh </dev/null 2>liar.err
wait_line liar.err 'answered r7:10 with an unexpected "ack" for r7:99' 20
ok $? "an ack for the wrong event breaks the link"
kill -TERM "$BG_PID"
wait "$BG_PID"
like "$(cat liar.err)" "stopped with 1 events not yet delivered" \
    "and the event stays in the outbox"

# --- push -f: record and push as separate services ---
bg sh -c "exec mscart push -f -r r7 -d robot -- $serve </dev/null >follow.out 2>follow.err"
pid=$BG_PID
wait_line follow.out '"event":"r7:10"' 20
ok $? "push -f delivers the backlog"
printf '%s\n' "$door" | mscart record -r r7 -d robot >/dev/null
wait_line follow.out '"event":"r7:11"' 20
ok $? "and then what a separate record stores, without input on stdin"
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "push -f stops cleanly on SIGTERM"
unlike "$(cat follow.err)" "not yet delivered" "with nothing left behind"

# --- a record killed inside a transaction does not stall push ---
python3 -c 'print("{\"type\":\"door\",\"ts\":\"2026-11-28T11:00:00.000Z\",\"state\":\"open\"}\n" * 30000, end="")' >big
# After the environment panics, Berkeley DB 5.3 cannot free the handles
# of the panicked environment (it says "File handles still open at
# environment close") and LeakSanitizer reports libdb's own allocations:
# leak checking is off for this push only.
bg sh -c "ASAN_OPTIONS=\${ASAN_OPTIONS:-}:detect_leaks=0 exec mscart push -f -r r9 -d crash -- mscart serve --role robot:r9 -d $T/server </dev/null >c.out 2>c.err"
pid=$BG_PID
# An endless writer, so that the kill always lands while record works.
mkfifo endless
spawn /dev/null endless gen.err python3 -c 'import sys
batch = "{\"type\":\"door\",\"ts\":\"2026-11-28T11:00:00.000Z\",\"state\":\"open\"}\n" * 100
while True:
    sys.stdout.write(batch)'
spawn endless /dev/null rec.err mscart record -r r9 -d crash
wait_line c.out '"event":"r9:' 20
kill -KILL "$BG_PID"
{ wait "$BG_PID"; } 2>/dev/null
is "$?" 137 "record was still recording when SIGKILL came"

run -i big timeout -k 5 60 mscart record -r r9 -d crash
is "$RC" 0 "record after a record killed mid-batch"
n=$(printf '%s\n' "$OUT" | tail -n 1 | jget seq)
wait_line c.out "\"event\":\"r9:$n\"" 60
ok $? "the running push goes on after the recovery (to r9:$n)"
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "and stops cleanly"
# A process killed while it holds one of Berkeley DB's region mutexes
# (not a lock) is tests/sync-watchdog.t's.

done_testing
