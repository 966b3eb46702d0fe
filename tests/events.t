#!/bin/sh
# ms-events(5): every example on the page passes the validator, and
# hand-made bad lines are each refused with their own message and line.
. "$(dirname "$0")/lib.sh"
V=$MS_BUILD/tests/msvalidate

# Examples: the JSON lines inside the page's literal displays.
sed -n '/^\.Bd -literal/,/^\.Ed/p' "$MS_TOP/man/ms-events.5" |
    grep '^{' | sed 's/\\e/\\/g' >examples
n=$(wc -l <examples)
ok $([ "$n" -ge 20 ] && echo 0 || echo 1) "the page has examples ($n)"
run -i examples "$V"
is "$RC" 0 "every example validates"
is "$ERR" "" "no diagnostics for the examples"
for t in identify depart take return door alarm session-end restock query \
    cart pay settlement ack error charge charged product user outcome hello; do
	grep -q "^ok $t\$" .out; ok $? "an example of $t"
done

# Bad lines: each with the reason the validator must give.
while IFS='|' read -r desc line want; do
	printf '%s\n' "$line" >bad
	run -i bad "$V"
	is "$OUT" "bad: -:1: $want" "$desc"
	is "$RC" 1 "$desc: exit 1"
done <<'EOF2'
missing field|{"type":"take","ts":"2026-11-28T11:00:00.000Z","sku":"cola"}|take: missing field "slot"
wrong type|{"type":"take","ts":"2026-11-28T11:00:00.000Z","slot":7,"sku":"cola"}|take: field "slot" must be a string
negative amount|{"type":"product","sku":"cola","name":"Cola","price":-1,"currency":"JPY"}|product: field "price" must be from 0 to 999999999999999 (minor units)
overflowing amount|{"type":"product","sku":"cola","name":"Cola","price":9223372036854775807,"currency":"JPY"}|product: field "price" must be from 0 to 999999999999999 (minor units)
amount past int64|{"type":"product","sku":"cola","name":"Cola","price":99999999999999999999,"currency":"JPY"}|invalid JSON at column 73: too big integer near '99999999999999999999'
fractional amount|{"type":"product","sku":"cola","name":"Cola","price":1.5,"currency":"USD"}|product: field "price" must be an integer (minor units, no fraction)
unknown currency|{"type":"product","sku":"cola","name":"Cola","price":1,"currency":"YEN"}|product: field "currency": "YEN" is not an ISO 4217 currency code
zero charge|{"type":"charge","settlement":"S1","user":"u","customer":"c","amount":0,"currency":"JPY","key":"k"}|charge: field "amount" must be from 1 to 999999999999999 (minor units)
unknown type|{"type":"teleport","ts":"2026-11-28T11:00:00.000Z"}|unknown message type "teleport"
no type|{"ts":"2026-11-28T11:00:00.000Z"}|missing field "type"
unknown field|{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open","colour":"red"}|door: unknown field "colour"
bad enum|{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"ajar"}|door: field "state" must be one of open, closed
bad time|{"type":"door","ts":"2026-11-28 11:00","state":"open"}|door: field "ts" must be an RFC 3339 UTC time like 2026-11-28T11:00:00.123Z
bad card|{"type":"identify","ts":"2026-11-28T11:00:00.000Z","card":"felica:0123"}|identify: field "card": felica: token has a bad length (4 hex digits)
robot without seq|{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open","robot":"r7"}|door: fields "robot" and "seq" go together
zero seq|{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open","robot":"r7","seq":0}|door: field "seq" must be from 1 to 2^53
query with both|{"type":"query","user":"alice","card":"line:A1"}|query: exactly one of "user" and "card" is needed
duplicate keys|{"type":"door","type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open"}|invalid JSON at column 21: duplicate object key near '"type"'
a JSON array|[{"type":"door"}]|expected a JSON object, got an array
not JSON|type=door|invalid JSON at column 4: '[' or '{' expected near 'type'
trailing garbage|{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open"} x|invalid JSON at column 64: end of file expected near 'x'
restock without a level|{"type":"restock","ts":"2026-11-28T11:00:00.000Z","slot":"A1","sku":"cola"}|restock: exactly one of "count" and "added" is needed
restock with both|{"type":"restock","ts":"2026-11-28T11:00:00.000Z","slot":"A1","sku":"cola","count":8,"added":8}|restock: exactly one of "count" and "added" is needed
negative level|{"type":"restock","ts":"2026-11-28T11:00:00.000Z","slot":"A1","sku":"cola","count":-1}|restock: field "count" must be a whole number of items from 0 to 100000
limit without currency|{"type":"user","user":"u1","name":"U","limit":5}|user: field "limit" needs "currency"
EOF2

# Invalid UTF-8 and a 1 MiB line, with the line numbers of what follows.
{
	printf '{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"open"}\n'
	printf '{"type":"alarm","ts":"2026-11-28T11:00:00.000Z","reason":"x","message":"\377"}\n'
	printf '{"type":"alarm","ts":"2026-11-28T11:00:00.000Z","reason":"x","message":"'
	head -c 1048576 /dev/zero | tr '\0' a
	printf '"}\n'
	printf '{"type":"door","ts":"2026-11-28T11:00:00.000Z","state":"closed"}\n'
} >mixed
run -i mixed "$V"
is "$(sed -n 1p .out)" "ok door" "line 1 is fine"
like "$(sed -n 2p .out)" '^bad: -:2: invalid UTF-8' "invalid UTF-8 refused on line 2"
is "$(sed -n 3p .out)" "bad: -:3: line longer than 65536 bytes" "1 MiB line refused on line 3"
is "$(sed -n 4p .out)" "ok door" "line 4 after the long line is read whole"
like "$ERR" '^msvalidate: -:3: line longer than 65536 bytes$' "stderr names source and line"
is "$RC" 1 "exit 1"
done_testing
