#!/bin/sh
# mscart: the write-ahead log stays bounded while a long-lived apply (or
# serve) keeps writing.  150k takes write about 120 MB of log, twelve
# 10 MB log files; the periodic checkpoint (every 32 MiB of log, so at
# most six files: up to 32 MiB past the one it began in) lets
# Berkeley DB remove the old ones while the process still runs.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
GEN=$MS_TOP/tests/mscart/gen.py
N=150000
python3 "$GEN" setup 1000 20 >setup
run -i setup mscart import -c
is "$RC" 0 "setup"
python3 "$GEN" takes r1 1 $N 1000 20 5 >takes 2>/dev/null

mkfifo in
spawn in acks err mscart apply
pid=$BG_PID
exec 3>in	# held open: apply stays up after the takes
cat takes >&3
wait_line acks "\"event\":\"r1:$N\"" 120
ok $? "all $N takes acknowledged"
kill -0 $pid 2>/dev/null
ok $? "apply is still running"
logs=$(ls "$MSCART_DB"/log.* | wc -l)
bytes=$(cat "$MSCART_DB"/log.* | wc -c)
ok $([ "$logs" -le 6 ] && echo 0 || echo 1) "at most six log files remain while it runs ($logs)"
ok $([ "$bytes" -le 63000000 ] && echo 0 || echo 1) "at most 60 MB of log ($bytes bytes)"
total=$(db5.3_stat -h "$MSCART_DB" -l | sed -n 's/^\([0-9]*\)MB.*Log bytes written$/\1/p')
ok $([ "${total:-0}" -ge 100 ] && echo 0 || echo 1) "though ${total:-?} MB were written"
exec 3>&-
wait $pid
is $? 0 "apply exits 0 at the end of its input"
is "$(grep -c '"status":"applied"' acks)" $N "every take applied once"
done_testing
