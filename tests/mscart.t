#!/bin/sh
# mscart: the ledger's behaviour through apply, show, due, settle and friends.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
export MSCART_DB
VALIDATE=$MS_BUILD/tests/msvalidate

A=iso14443a:04A1B2C3	# alice's card
B=iso14443a:04B0B0B0	# bob's card
U=iso14443a:0499AA11	# a card nobody has enrolled yet
seq=0

# ev TYPE JSON-FIELDS: one event line from robot r1 with the next seq.
ev() {
	seq=$((seq + 1))
	printf '{"type":"%s","ts":"2026-11-28T10:00:%02d.000Z","robot":"r1","seq":%d%s}\n' \
	    "$1" $((seq % 60)) "$seq" "$2"
}
take() { ev take ",\"slot\":\"A1\",\"sku\":\"$1\",\"card\":\"$2\""; }
ret() { ev return ",\"slot\":\"A1\",\"sku\":\"$1\",\"card\":\"$2\""; }
# ap: apply stdin; OUT/ERR/RC as run sets them.
ap() { cat >"$T/in"; run -i "$T/in" mscart apply; }
nth() { printf '%s\n' "$OUT" | sed -n "$1p" | jget "$2"; }
valid() {
	if [ -x "$VALIDATE" ]; then
		printf '%s\n' "$OUT" | "$VALIDATE" >/dev/null 2>&1
		ok $? "$1: every reply is a valid ms-events(5) message"
	else
		ok 1 "$1: missing $VALIDATE (make check builds it)"
	fi
}
count_lines() { printf '%s\n' "$OUT" | grep -c .; }

# ----- catalog and users -----
cat >catalog.ndjson <<EOF
{"type":"product","sku":"cola","name":"Cola 0.33 l","price":150,"currency":"EUR"}
{"type":"product","sku":"chips","name":"Chips \"salted\"","price":220,"currency":"EUR"}
{"type":"product","sku":"gum","name":"Gum","price":90,"currency":"EUR"}
{"type":"user","user":"alice","name":"Alice","cards":["$A"],"payment":"cus_alice","limit":500,"currency":"EUR"}
{"type":"user","user":"bob","name":"Bob","cards":["$B"],"currency":"EUR"}
EOF
run mscart import -c catalog.ndjson
is "$RC" 0 "import exits 0"
is "$OUT" "" "import is quiet on stdout"
for f in DB_CONFIG lines.db audit.db; do
	is "$(stat -c %a "$MSCART_DB/$f")" 600 "$f is 0600"
done

# ----- identify, take, exactly once -----
{ ev identify ",\"card\":\"$A\""; take cola "$A"; take cola "$A"; } >e1
sed -n 3p e1 >dup
ap <e1
is "$RC" 0 "apply of good events exits 0"
is "$(count_lines)" 3 "one reply per line"
valid "events"
is "$(nth 1 status)/$(nth 1 user)/$(nth 1 cart.status)" "applied/alice/active" \
    "identify: ack names the user and carries the cart"
is "$(nth 2 status)/$(nth 2 of)/$(nth 2 event)" "applied/take/r1:2" "take applied"
ap <dup
is "$(nth 1 status)" duplicate "the same take again is a duplicate"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)" 300 "alice owes 2 x 150 (the duplicate added nothing)"
is "$(printf '%s\n' "$OUT" | jget items.0.price)" 150 "price captured at take time"
run mscart show -H alice
like "$OUT" "3\\.00 EUR" "show -H prints a human table with the total"
like "$OUT" "Cola 0.33 l" "show -H lists the item names"

# price change affects only later takes
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola 0.33 l","price":170,"currency":"EUR"}' >"$T/m"; ap <"$T/m"
is "$(nth 1 status)" applied "product price updated"
take cola "$A" >"$T/m"; ap <"$T/m"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)" 470 "a new take uses the new price, old lines keep theirs"

# ----- credit limit and blocked users -----
take chips "$A" >"$T/m"; ap <"$T/m"
ev identify ",\"card\":\"$A\"" >"$T/m"; ap <"$T/m"
is "$(nth 1 cart.limit)" over "identify says the user is over the credit limit (690 > 500)"
printf '%s\n' '{"type":"user","user":"bob","name":"Bob","status":"blocked"}' >"$T/m"; ap <"$T/m"
printf '{"type":"query","id":"q1","card":"%s"}\n' "$B" >"$T/m"; ap <"$T/m"
is "$(nth 1 limit)/$(nth 1 id)" "blocked/q1" "a blocked user's cart says blocked, with the request id"
take gum "$B" >"$T/m"; ap <"$T/m"
is "$(nth 1 status)" applied "a blocked user's take is still recorded (the item is gone)"
printf '%s\n' '{"type":"user","user":"bob","name":"Bob","status":"active"}' >"$T/m"; ap <"$T/m"

# ----- unknown card: kept under the token, claimed on enrolment -----
{ take gum "$U"; take cola "$U"; ev identify ",\"card\":\"$U\""; } >"$T/m"; ap <"$T/m"
is "$(nth 3 user)/$(nth 3 cart.status)" "null/unknown" "identify of an unknown card: user null, status unknown"
is "$(nth 3 cart.total)" 260 "the unknown card's takes are kept under its token"
valid "unknown card"
printf '{"type":"user","user":"carol","name":"Carol","cards":["%s"]}\n' "$U" >"$T/m"; ap <"$T/m"
run mscart show carol
is "$(printf '%s\n' "$OUT" | jget total)" 260 "enrolling the card gives its takes to the user"
run mscart show "$U"
is "$(printf '%s\n' "$OUT" | jget user)" carol "show CARD finds the user"
printf '{"type":"user","user":"dave","name":"Dave","cards":["%s"]}\n' "$U" >"$T/m"; ap <"$T/m"
is "$(nth 1 code)/$RC" "conflict/1" "a card already enrolled to another user is refused"

# ----- take without a card: kept for review -----
ev take ',"slot":"B2","sku":"gum","card":null' >"$T/m"; ap <"$T/m"
is "$(nth 1 status)" applied "a take without a card is applied"
run mscart log
like "$OUT" '"what":"take".*"owner":"r:"' "it is kept for admin review (audit trail)"

# ----- return: void an unpaid take -----
ret chips "$A" >"$T/m"; ap <"$T/m"
is "$(nth 1 status)" applied "return applied"
run mscart show -a alice
is "$(printf '%s\n' "$OUT" | jget total)" 470 "return voided the newest unpaid chips"
like "$OUT" '"sku":"chips"[^}]*"state":"void"' "the voided line stays visible with -a"

# ----- settlement: pay, declined, retried -----
printf '%s\n' '{"type":"pay","id":"p1","user":"alice"}' >"$T/m"; ap <"$T/m"
valid "pay"
S1=$(nth 1 settlement)
K1=$(nth 1 key)
is "$(nth 1 state)/$(nth 1 amount)/$(nth 1 lines)/$(nth 1 id)" "open/470/3/p1" "pay opens a settlement claiming the unpaid lines"
printf '%s\n' '{"type":"pay","user":"alice"}' >"$T/m"; ap <"$T/m"
is "$(nth 1 settlement)" "$S1" "pay again returns the same open settlement"
take gum "$A" >"$T/m"; ap <"$T/m"	# a take after pay waits for the next settlement
run mscart due
valid "due"
printf '%s\n' "$OUT" >charges1
is "$(grep -c "\"settlement\":\"$S1\"" charges1)" 1 "due emits one charge for the open settlement"
like "$(grep "$S1" charges1)" "\"key\":\"$K1\".*\"customer\":\"cus_alice\"|\"customer\":\"cus_alice\".*\"key\":\"$K1\"" \
    "the charge has the settlement's key and the user's payment reference"
run mscart due --user alice
is "$(printf '%s\n' "$OUT" | jget key)" "$K1" "due again emits the same key"
is "$(printf '%s\n' "$OUT" | jget attempt)" 2 "and counts the attempt"
charged() {	# charged SETTLEMENT KEY AMOUNT STATUS
	printf '{"type":"charged","settlement":"%s","key":"%s","status":"%s","amount":%s,"currency":"EUR"%s}\n' \
	    "$1" "$2" "$4" "$3" "${5:-}"
}
charged "$S1" "$K1" 470 declined ',"code":"card_declined"' >c1
run -i c1 mscart settle
is "$RC/$(printf '%s\n' "$OUT" | jget state)" "0/declined" "settle: declined"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget status)" attention "a declined user is marked for attention"
is "$(printf '%s\n' "$OUT" | jget total)" 560 "declined lines are unpaid again"
# a new payment reference lifts the wait after a decline (mscart(1), due)
printf '%s\n' '{"type":"user","user":"alice","name":"Alice","payment":"cus_alice2"}' >"$T/m"; ap <"$T/m"
run mscart due -u alice
S2=$(printf '%s\n' "$OUT" | jget settlement)
K2=$(printf '%s\n' "$OUT" | jget key)
is "$(printf '%s\n' "$OUT" | jget amount)" 560 "the retry settlement claims everything unpaid"
unlike "$K2" "^$K1\$" "with a new key"
charged "$S2" "$K2" 560 failed ',"code":"authentication"' >c2
run -i c2 mscart settle
is "$(printf '%s\n' "$OUT" | jget state)" open "failed on mspay's own set-up (a refused key): the settlement stays open"
run mscart due -s "$S2"
is "$(printf '%s\n' "$OUT" | jget key)" "$K2" "the next due emits it again with the same key"
charged "$S2" "$K2" 560 succeeded ',"gateway_id":"ch_1"' >c3
run -i c3 mscart settle
is "$(printf '%s\n' "$OUT" | jget state)/$(printf '%s\n' "$OUT" | jget gateway_id)" "paid/ch_1" "succeeded: paid"
run -i c3 mscart settle
is "$RC/$(printf '%s\n' "$OUT" | jget state)" "0/paid" "the same result again changes nothing"
charged "$S2" "$K2" 560 declined >c4
run -i c4 mscart settle
is "$RC/$(printf '%s\n' "$OUT" | jget code)" "1/conflict" "a different result for a paid settlement is refused"
charged "$S2" "wrong-key" 560 succeeded >c5
run -i c5 mscart settle
is "$(printf '%s\n' "$OUT" | jget code)" conflict "a wrong key is refused"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)/$(printf '%s\n' "$OUT" | jget status)" "0/active" \
    "all paid; a success clears attention"
run mscart due -u alice
is "$OUT" "" "nothing due for alice"

# ----- duplicates after settlement change nothing -----
ap <e1
is "$(printf '%s\n' "$OUT" | grep -c '"status":"duplicate"')" 3 "the first events again: all duplicates"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)" 0 "and nothing is owed again"

# ----- return after payment: a credit the next settlement subtracts -----
ret cola "$A" >"$T/m"; ap <"$T/m"
run mscart show alice
is "$(printf '%s\n' "$OUT" | jget total)" -170 "returning a paid cola records a credit"
take chips "$A" >"$T/m"; ap <"$T/m"
run mscart due -u alice
is "$(printf '%s\n' "$OUT" | jget amount)" 50 "the next settlement subtracts the credit (220 - 170)"
S3=$(printf '%s\n' "$OUT" | jget settlement)
K3=$(printf '%s\n' "$OUT" | jget key)
charged "$S3" "$K3" 50 succeeded >c6
run -i c6 mscart settle
is "$RC" 0 "settled"
# zero total: a credit that equals the new take closes without a charge
ret chips "$A" >"$T/m"; ap <"$T/m"
take gum "$A" >"$T/m"; ap <"$T/m"
take cola "$A" >"$T/m"; ap <"$T/m"
ret cola "$A" >"$T/m"; ap <"$T/m"	# voids the unpaid cola
printf '%s\n' '{"type":"product","sku":"gum","name":"Gum","price":220,"currency":"EUR"}' >"$T/m"; ap <"$T/m"
take gum "$A" >"$T/m"; ap <"$T/m"	# now 90 + 220 unpaid, 220 credit
ret gum "$A" >"$T/m"; ap <"$T/m"	# voids the newest gum: 90 unpaid, -220 credit
run mscart due -u alice
is "$(printf '%s\n' "$OUT" | jget amount)" 90 "a credit larger than the total waits"
S4=$(printf '%s\n' "$OUT" | jget settlement)
charged "$S4" "$(printf '%s\n' "$OUT" | jget key)" 90 succeeded | mscart settle >/dev/null
take chips "$A" >"$T/m"; ap <"$T/m"
run mscart due -u alice
is "$OUT" "" "a zero total (220 - 220) is closed without a charge"
run mscart show -a alice
is "$(printf '%s\n' "$OUT" | jget total)" 0 "and its lines are paid"

# ----- due --older-than looks at the oldest unpaid take -----
cat >eve <<EOF
{"type":"user","user":"eve","name":"Eve","cards":["iso14443a:0E0E0E0E"],"payment":"cus_eve","currency":"EUR"}
{"type":"take","ts":"2099-01-01T00:00:00.000Z","robot":"r9","seq":1,"slot":"A1","sku":"gum","card":"iso14443a:0E0E0E0E"}
EOF
ap <eve
run mscart due --older-than 1d --user eve
is "$RC/$OUT" "0/" "a tab younger than the cutoff is not due"
printf '%s\n' '{"type":"take","ts":"2020-01-01T00:00:00.000Z","robot":"r9","seq":2,"slot":"A1","sku":"gum","card":"iso14443a:0E0E0E0E"}' >eve2
ap <eve2
run mscart due -o 1d -u eve
is "$(printf "%s\n" "$OUT" | jget amount)" 440 "once its oldest take is older, the whole tab is due (2 x 220)"
run mscart due -o 1x
is "$RC" 2 "a bad duration is a usage error"

# ----- void and refund -----
take cola "$B" >"$T/m"; ap <"$T/m"
run mscart show bob
L=$(printf '%s\n' "$OUT" | jget items.1.id)
run mscart void -m "wrong slot" "$L"
is "$RC" 0 "void an unpaid line"
run mscart show bob
is "$(printf '%s\n' "$OUT" | jget total)" 90 "it is no longer owed"
run mscart void "$L"
is "$RC" 1 "voiding it twice is refused"
like "$ERR" "^mscart: void: $L is void" "with a message"
run mscart refund "$L"
like "$RC:$ERR" "^1:mscart: refund: $L is void" "refund of an unpaid line is refused"
run mscart log -n 1
like "$OUT" '"what":"void".*"reason":"wrong slot"' "void is in the audit trail with its reason"

# ----- bad input: refused, named, nothing applied, the loop goes on -----
big=$(python3 -c 'print("{\"type\":\"query\",\"user\":\"" + "x" * 70000 + "\"}")')
{
	printf '%s\n' '{"type":"query","user":"nosuch"}'
	printf '%s\n' '{"type":"pay","user":"nobody"}'
	printf '%s\n' '{"type":"pay","user":"bob","currency":"XYZ"}'
	printf '%s\n' '{"type":"product","sku":"neg","name":"Neg","price":-5,"currency":"EUR"}'
	printf '%s\n' '{"type":"product","sku":"big","name":"Big","price":1000000000000000,"currency":"EUR"}'
	printf '%s\n' '{"type":"query","user":"bob","user":"alice"}'
	printf '%s\n' "$big"
	printf '%s\n' '{"type":"take","ts":"2026-11-28T10:00:00.000Z","slot":"A1","sku":"gum"}'
	printf '%s\n' 'not json'
	printf '%s\n' '{"type":"cart","user":null}'
	printf '%s\n' '{"type":"frobnicate"}'
	printf '%s\n' '{"type":"query","user":"bob","ammount":3}'
	printf '%s\n' '{"type":"query","id":"last","user":"bob"}'
} >bad
ap <bad
is "$RC" 1 "apply exits 1 when a line was refused"
is "$(count_lines)" 13 "still one reply per line"
valid "errors"
is "$(nth 1 code)/$(nth 1 line)/$(nth 1 source)" "unknown-user/1/-" "unknown user, with line and source"
is "$(nth 2 code)" unknown-user "pay for an unknown user"
is "$(nth 3 code)" invalid "a currency that is not ISO 4217"
like "$(nth 4 message)" "price" "a negative amount"
like "$(nth 5 message)" "price" "an overflowing amount"
like "$(nth 6 message)" "duplicate" "duplicate keys in a line"
is "$(nth 7 code)/$(nth 7 line)" "too-long/7" "an oversized line"
like "$(nth 8 message)" "robot.*seq" "an event without robot and seq (exactly once needs them)"
is "$(nth 9 code)" invalid "not JSON"
is "$(nth 10 code)" invalid "a reply type is not a request"
is "$(nth 11 code)" unknown-type "an unknown type"
like "$(nth 12 message)" "unknown field" "an unknown field"
is "$(nth 13 type)/$(nth 13 id)" "cart/last" "the loop goes on after bad lines"
like "$ERR" "mscart: -:1: query: unknown user" "stderr names source and line"
run mscart show -a bob
unlike "$OUT" nosuch "nothing from a refused line was applied"

# total overflow on pay
{
	printf '%s\n' '{"type":"product","sku":"gold","name":"Gold","price":999999999999999,"currency":"EUR"}'
	printf '%s\n' '{"type":"user","user":"rich","name":"Rich","cards":["iso14443a:0A0B0C0D"]}'
	take gold iso14443a:0A0B0C0D
	take gold iso14443a:0A0B0C0D
	printf '%s\n' '{"type":"pay","user":"rich"}'
} >"$T/m"; ap <"$T/m"
is "$(nth 5 code)" overflow "a total that overflows is refused, not wrapped"

# ----- report, backup, verify -----
run mscart report -b user
like "$OUT" '"by":"user","key":"alice"' "report by user"
run mscart report -c -b product
like "$(printf '%s\n' "$OUT" | head -1)" "^by,key,currency,count,amount,paid,unpaid" "report -c prints CSV"
run mscart backup "$T/copy"
is "$RC" 0 "backup"
run mscart verify
is "$RC" 0 "verify passes"
run env MSCART_DB="$T/copy" mscart show -a alice
like "$OUT" '"user":"alice"' "the backup opens and has the data"
run env MSCART_DB="$T/copy" mscart verify
is "$RC" 0 "the backup verifies"

# ----- a long tab: more lines than one bulk read of owners.db holds -----
printf '%s\n' '{"type":"product","sku":"mint","name":"Mint","price":90,"currency":"EUR"}' \
    '{"type":"user","user":"dora","name":"Dora","cards":["line:dora"],"currency":"EUR"}' >dora
run mscart import dora
awk 'BEGIN { for (i = 1; i <= 6000; i++)
	printf "{\"type\":\"take\",\"ts\":\"2026-11-28T10:00:00.000Z\",\"robot\":\"r8\",\"seq\":%d,\"slot\":\"A1\",\"sku\":\"mint\",\"card\":\"line:dora\"}\n", i }' >long
run -i long mscart apply
is "$(printf '%s\n' "$OUT" | grep -c '"applied"')" 6000 "6000 takes for dora"
printf '{"type":"query","user":"dora"}\n' >q
run -i q mscart apply
is "$(printf '%s\n' "$OUT" | jget total)" 540000 "her cart adds up all 6000 lines (90 each)"
is "$(printf '%s\n' "$OUT" | jget count)" 6000 "and counts every one"
is "$(printf '%s\n' "$OUT" | jget items | grep -o '"sku"' | wc -l | tr -d ' ')/$(printf '%s\n' "$OUT" | jget more)" \
    100/true "in pages of 100 items"

done_testing
