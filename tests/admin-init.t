#!/bin/sh
# Where the ledger is (issue 17, point 1): only init and import -c make
# one; every other command refuses a directory without one and says
# where it looked; ms.conf's "ledger" sets the place once, MSCART_DB
# and -d override it; a bad line of ms.conf is named and not applied.
. "$(dirname "$0")/lib.sh"

unset MSCART_DB
MS_CONF=$T/ms.conf
export MS_CONF
: >"$MS_CONF"

check "without -d, MSCART_DB or ms.conf, report refuses and names all three" "" "" \
"mscart: no ledger given: use -d DIR, MSCART_DB or \"ledger = DIR\" in $T/ms.conf" \
1 mscart report
for c in report "show alice" log verify due "apply" "settle" "serve --role admin" \
    "void L1" "import"; do
	run mscart -d here $c
	is "$RC:$OUT" "1:" "mscart $c in a directory without a ledger exits 1"
	is "$ERR" "mscart: here (from MSCART_DB): not a ledger (no lines.db); mscart init makes one" \
	    "and says where it looked"
done
is "$(ls | tr '\n' ' ')" "ms.conf " "no file was made in the current directory"

check "init makes a ledger, quietly" "" "" "" 0 mscart init -d shop
ok "$([ -f shop/lines.db ]; echo $?)" "shop/lines.db exists"
is "$(stat -c %a shop)" 700 "the ledger's directory is 0700"
check "report on the new, empty ledger" "" "" "" 0 mscart report -d shop
check "init again leaves it as it is" "" "" "" 0 mscart init -d shop

printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n' >cat
check "import -c makes a ledger and imports" "" "" "" 0 mscart import -c -d other cat
ok "$([ -f other/lines.db ]; echo $?)" "other/lines.db exists"

# ms.conf sets the place once
printf '# the shop\nledger = %s/shop\n' "$T" >"$MS_CONF"
check "report finds the ledger from ms.conf" "" "" "" 0 mscart report
check "import with no -d goes to ms.conf's ledger" "" "" "" 0 mscart import cat
check "MSCART_DB overrides ms.conf" "" "" \
"mscart: nowhere (from MSCART_DB): not a ledger (no lines.db); mscart init makes one" \
1 env MSCART_DB=nowhere mscart report
check "-d overrides ms.conf" "" "" \
"mscart: nowhere (from -d): not a ledger (no lines.db); mscart init makes one" \
1 mscart report -d nowhere
printf 'ledger = %s/nowhere\n' "$T" >"$MS_CONF"
check "ms.conf names a place without a ledger: refused, the file named" "" "" \
"mscart: $T/nowhere (from $T/ms.conf): not a ledger (no lines.db); mscart init makes one" \
1 mscart report

# bad lines are named and not applied
cat >"$MS_CONF" <<CONF
ledger = $T/shop
currency = euro
timezone = ../etc
colour = blue
just words
ledger = $T/other
CONF
run mscart report
is "$RC" 0 "bad lines do not stop a program"
is "$ERR" "mscart: $T/ms.conf:2: not an ISO 4217 currency code
mscart: $T/ms.conf:3: not a zone name (Area/City)
mscart: $T/ms.conf:4: unknown key (want currency, gateway, key, ledger, payroll, timezone or url)
mscart: $T/ms.conf:5: not \"key = value\"
mscart: $T/ms.conf:6: the key is set twice" "each bad line is named with its number and why"
printf 'ledger = %s/nowhere ledger\n' "$T" >"$MS_CONF"
run mscart report
like "$ERR" "nowhere ledger \\(from" "a value keeps its inner spaces"
check "a missing \$MS_CONF is said" "" "" \
"mscart: $T/none.conf: No such file or directory
mscart: no ledger given: use -d DIR, MSCART_DB or \"ledger = DIR\" in $T/none.conf" \
1 env MS_CONF="$T/none.conf" mscart report

done_testing
