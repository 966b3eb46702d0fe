#!/bin/sh
# mscart serve --role: who may do what, and serve's life on a pipe.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
A=iso14443a:04A1B2C3
B=iso14443a:04B0B0B0

cat >setup <<EOF
{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":["$B"],"currency":"EUR"}
{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"r8","seq":1,"slot":"A1","sku":"cola","card":"$B"}
EOF
mscart init
run -i setup mscart apply
is "$RC" 0 "setup"

nth() { printf '%s\n' "$OUT" | sed -n "$1p" | jget "$2"; }
state() { mscart show -a bob; mscart show -a alice; mscart report -b user; }
state >before

# ----- robot:r7 -----
cat >robot.in <<EOF
{"type":"take","ts":"2026-11-28T10:00:01.000Z","robot":"r7","seq":1,"slot":"A1","sku":"cola","card":"$A"}
{"type":"take","ts":"2026-11-28T10:00:02.000Z","robot":"r8","seq":2,"slot":"A1","sku":"cola","card":"$B"}
{"type":"query","id":"q","user":"bob"}
{"type":"pay","id":"p","user":"alice"}
{"type":"product","sku":"cola","name":"Cola","price":1,"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":["$A"]}
EOF
run -i robot.in mscart serve --role robot:r7
is "$RC" 0 "serve exits 0 at EOF, refused lines included"
is "$(printf '%s\n' "$OUT" | grep -c .)" 6 "one reply per line"
is "$(nth 1 status)" applied "robot r7 sends its own event"
is "$(nth 2 code)/$(nth 2 event)" "forbidden/r8:2" "robot r7 may not send robot r8's events"
is "$(nth 3 type)/$(nth 3 id)" "cart/q" "a robot may query"
is "$(nth 4 type)/$(nth 4 state)" "settlement/open" "a robot may pay"
is "$(nth 5 code)" forbidden "a robot may not change products"
is "$(nth 6 code)" forbidden "a robot may not change users"
is "$ERR" "" "serve keeps stderr quiet for a client's refused lines"

# ----- terminal:alice -----
cat >term.in <<EOF
{"type":"query","user":"alice"}
{"type":"query","id":"x","user":"bob"}
{"type":"query","card":"$B"}
{"type":"pay","user":"bob"}
{"type":"user","user":"alice","name":"Alice","cards":["$A","$B"]}
{"type":"product","sku":"cola","name":"Cola","price":1,"currency":"EUR"}
{"type":"take","ts":"2026-11-28T10:00:03.000Z","robot":"r7","seq":9,"slot":"A1","sku":"cola","card":"$A"}
{"type":"pay","card":"$A"}
EOF
run -i term.in mscart serve --role terminal:alice
is "$(nth 1 type)/$(nth 1 user)" "cart/alice" "a terminal queries its own user"
is "$(nth 2 code)/$(nth 2 id)" "forbidden/x" "a terminal may not query another user"
is "$(nth 3 code)" forbidden "not by card either"
is "$(nth 4 code)" forbidden "a terminal may not pay for another user"
is "$(nth 5 code)" forbidden "a terminal may not change users"
is "$(nth 6 code)" forbidden "a terminal may not change products"
is "$(nth 7 code)" forbidden "a terminal may not send events"
is "$(nth 8 type)" settlement "a terminal pays for its user by card"

# nothing forbidden changed anything; every refusal is in the audit trail
mscart show -a bob >after.bob
is "$(jget total <after.bob)" 150 "bob still owes only his one take"
run mscart report -b product
like "$OUT" '"count":2' "two takes in all (r7's own and the setup's)"
run mscart log
is "$(printf '%s\n' "$OUT" | grep -c '"what":"forbidden"')" 9 "every forbidden line is logged"
like "$OUT" '"who":"terminal:alice","what":"forbidden"' "with the role that sent it"
run mscart show bob
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' >p.in
run -i p.in mscart serve --role admin
is "$(nth 1 status)" applied "admin may change products"

# ----- usage -----
run mscart serve
is "$RC" 2 "serve without --role is a usage error"
run mscart serve --role king
is "$RC" 2 "an unknown role is a usage error"
like "$ERR" "robot:ID" "and the message says which roles exist"

# ----- on a pipe: a lone line is answered at once; SIGTERM stops it -----
mkfifo in.fifo
bg sh -c 'exec mscart serve --role robot:r7 <in.fifo >serve.out 2>serve.err'
SERVE=$BG_PID
exec 3>in.fifo
printf '%s\n' '{"type":"query","id":"lone","user":"alice"}' >&3
wait_line serve.out '"id":"lone"' 20
ok $? "a lone line is answered while stdin stays open"
printf '%s\n' "{\"type\":\"take\",\"ts\":\"2026-11-28T10:00:05.000Z\",\"robot\":\"r7\",\"seq\":2,\"slot\":\"A1\",\"sku\":\"cola\",\"card\":\"$A\"}" >&3
wait_line serve.out '"event":"r7:2"' 20
ok $? "and so is the next one"
kill -TERM "$SERVE"
wait "$SERVE"
is "$?" 0 "SIGTERM stops serve cleanly"
exec 3>&-

# sshd hangs up on a dropped connection: serve stops cleanly then too
mkfifo in2.fifo
bg sh -c 'exec mscart serve --role robot:r7 <in2.fifo >serve2.out 2>serve2.err'
SERVE=$BG_PID
exec 3>in2.fifo
printf '%s\n' '{"type":"query","id":"hup","user":"alice"}' >&3
wait_line serve2.out '"id":"hup"' 20
kill -HUP "$SERVE"
wait "$SERVE"
is "$?" 0 "SIGHUP stops serve cleanly"
exec 3>&-
run mscart verify
is "$RC" 0 "the ledger verifies"

done_testing
