#!/bin/sh
# Role enforcement through real sshd forced commands: each key may do
# only what its role allows; a refused line gets "forbidden", lands in
# the audit trail and changes nothing.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/sshd.sh"

S="$MS_BIN/mscart serve -d $T/server --role"
mscart init -d server
sshd_key admin "$S admin"
sshd_key robot "$S robot:r7"
sshd_key alice "$S terminal:alice"
sshd_start || { fail "sshd starts"; done_testing; exit 1; }

# over KEY: send stdin's lines through ssh with KEY, replies on stdout
over() {
	k=$1
	shift
	$(sshd_cmd "$k") "$@"
}

# the state a refused line must not change
state() {
	{ mscart report -d server; mscart show -a -d server bob;
	    mscart show -a -d server alice; } 2>&1
}

take() {	# take ROBOT SEQ
	printf '{"type":"take","ts":"2026-11-28T11:00:00.000Z","slot":"a1","sku":"cola","card":"iso14443a:0B0B0B0B","robot":"%s","seq":%s}\n' "$1" "$2"
}

printf '%s\n' \
    '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:0B0B0B0B"]}' \
    '{"type":"user","user":"alice","name":"Alice","cards":["iso14443a:0A0A0A0A"]}' \
    >setup
over admin <setup >out
is "$(jget status <out | tr '\n' ' ')" "applied applied applied " \
    "the admin key imports products and users"
take r7 1 | over robot >out
is "$(jget status <out)" applied "the robot key sends its own events"

before=$(state)
nlog=$(mscart log -d server | wc -l)
like "$before" '"sku":"cola".*"event":"r7:1"' "the state to compare holds the cart line"

# --- the robot key ---
{ take r8 1
  printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":1,"currency":"EUR"}'
  printf '%s\n' '{"type":"user","user":"bob","name":"Bob","cards":["iso14443a:0C0C0C0C"]}'
} | over robot >out
is "$(jget code <out | tr '\n' ' ')" "forbidden forbidden forbidden " \
    "robot r7 may not send r8's events, products or users"

# --- the terminal key ---
{ printf '%s\n' '{"type":"query","id":"t1","user":"bob"}'
  printf '%s\n' '{"type":"query","id":"t2","card":"iso14443a:0B0B0B0B"}'
  printf '%s\n' '{"type":"pay","id":"t3","user":"bob"}'
  printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":1,"currency":"EUR"}'
  printf '%s\n' '{"type":"user","user":"alice","name":"Alice","limit":999999,"currency":"EUR"}'
  take r7 2
} | over alice >out
is "$(jget code <out | tr '\n' ' ')" \
    "forbidden forbidden forbidden forbidden forbidden forbidden " \
    "terminal alice may not query or pay for bob, nor send records or events"
is "$(jget id <out | sed -n 1,3p | tr '\n' ' ')" "t1 t2 t3 " "refusals keep the request ids"

# --- a forbidden event through push: the link is wrong, push stops ---
printf '%s\n' '{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open"}' |
    mscart record -r r8 -d robot8 >/dev/null
run mscart push -r r8 -d robot8 -- $(sshd_cmd robot)
is "$RC" 1 "push with another robot's key stops with status 1"
like "$ERR" "the server refuses r8:1 on this link: forbidden" \
    "push names the refused event"

is "$(state)" "$before" "nothing changed on the server"
n=$(mscart log -d server | tail -n +$((nlog + 1)) | grep -c forbidden)
is "$n" 10 "each refusal is in the audit trail"

# --- what each role may do still works ---
printf '%s\n' '{"type":"query","id":"a1","user":"alice"}' | over alice >out
is "$(jget type <out):$(jget user <out)" "cart:alice" "terminal alice may query alice"
printf '%s\n' '{"type":"query","id":"r1","user":"bob"}' | over robot >out
is "$(jget type <out):$(jget total <out)" "cart:150" "the robot may query a cart"

done_testing
