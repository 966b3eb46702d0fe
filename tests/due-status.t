#!/bin/sh
# mscart(1), due: a user who is blocked or marked for attention is still
# settled (blocking stops new takes, not the collection of what is owed);
# a final result sent twice changes nothing.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
mscart init >/dev/null 2>&1
seq=0
take() {	# take USER
	seq=$((seq + 1))
	printf '{"type":"take","ts":"2026-11-28T10:00:%02d.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"cola","card":"line:%s"}\n' \
	    $((seq % 60)) "$seq" "$1" | mscart apply >/dev/null
}
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"user","user":"bo","name":"Bo","cards":["line:bo"],"currency":"EUR","payment":"cus_bo"}' \
    '{"type":"user","user":"cy","name":"Cy","cards":["line:cy"],"currency":"EUR","payment":"cus_cy"}' |
    mscart apply >/dev/null
take bo
take cy
run mscart block bo
is "$RC" 0 "bo is blocked"
run mscart due
is "$RC" 0 "due exits 0"
is "$(printf '%s\n' "$OUT" | jget user | sort | tr '\n' ' ')" "bo cy " \
    "the blocked user's tab is due beside the others'"
sb=$(printf '%s\n' "$OUT" | grep '"bo"' | jget settlement)
kb=$(printf '%s\n' "$OUT" | grep '"bo"' | jget key)

charged() { printf '{"type":"charged","settlement":"%s","key":"%s","status":"%s","amount":150,"currency":"EUR"}\n' "$sb" "$kb" "$1"; }
n_audit() { mscart log | grep -c '"charged"'; }
charged succeeded | mscart settle >/dev/null
a1=$(n_audit)
is "$a1" 1 "settle's result is in the audit log once"
run sh -c "printf '%s\n' '$(charged succeeded)' | mscart settle"
is "$RC" 0 "the same succeeded result again is accepted"
is "$(n_audit)" "$a1" "and changes nothing: no audit entry"
is "$(printf '%s\n' "$OUT" | jget state)" paid "the settlement stays paid"

# due finds what is owed in the index of open lines, user by user, but
# opens the settlements in the order of each user's oldest unpaid line
sb=$(mscart due | grep '"cy"' | jget settlement)
kb=$(mscart due | grep '"cy"' | jget key)
charged succeeded | mscart settle >/dev/null
take cy
take bo
take cy
run mscart due
is "$(printf '%s\n' "$OUT" | jget user | tr '\n' ' ')" "bo cy " \
    "only the users with open lines are due, once each"
ncy=$(printf '%s\n' "$OUT" | grep '"cy"' | jget settlement | tr -dc 0-9)
nbo=$(printf '%s\n' "$OUT" | grep '"bo"' | jget settlement | tr -dc 0-9)
ok "$([ "$ncy" -lt "$nbo" ] && echo 0 || echo 1)" \
    "cy, whose unpaid line is older, gets the first settlement ($ncy < $nbo)"
is "$(printf '%s\n' "$OUT" | grep '"cy"' | jget amount)" 300 \
    "and it claims both of cy's lines"
done_testing
