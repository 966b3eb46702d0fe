#!/bin/sh
# msscreen (issue 16): what a person sees at arm's length, read back from
# a tmux pane: the cart in the catalogue's Japanese names, the total, the
# credit left, "paying", "paid", a decline with its reason.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null 2>&1 || missing "tmux (make deps installs it)"

cat >catalogue.ndjson <<'X'
{"type":"product","sku":"cola","name":"Cola","names":{"ja":"コーラ"},"price":150,"currency":"JPY"}
{"type":"product","sku":"tea","name":"Green tea","price":140,"currency":"JPY"}
X
CART='{"type":"cart","user":"alice","name":"Alice","status":"active","limit":"ok","credit_limit":5000,"items":[{"id":"L1","sku":"cola","name":"Cola","price":150,"currency":"JPY","ts":"2026-11-28T10:00:01.000Z","state":"unpaid"},{"id":"L2","sku":"tea","name":"Green tea","price":140,"currency":"JPY","ts":"2026-11-28T10:00:02.000Z","state":"unpaid"}],"count":2,"more":false,"total":290,"currency":"JPY"}'
OPEN='{"type":"settlement","settlement":"S1","user":"alice","amount":290,"currency":"JPY","key":"k1","state":"open","lines":2}'
PAID='{"type":"outcome","settlement":"S1","user":"alice","state":"paid","amount":290,"currency":"JPY"}'
DECL='{"type":"outcome","settlement":"S2","user":"bob","state":"declined","amount":150,"currency":"JPY","code":"expired_card","message":"Your card has expired.","reason":"card expired, see the office"}'

tm() { tmux -u -S "$T/tmux.sock" "$@"; }
# screen LANG: msscreen in a tmux pane, fed through the FIFO in.LANG,
# its output also logged to out.LANG for wait_line
screen() {
	mkfifo in.$1
	: >out.$1
	tm new-session -d -s $1 -x 60 -y 20 \
	    "{ msscreen -l $1 -c catalogue.ndjson <in.$1; echo rc=\$? >rc.$1; } | tee out.$1" ||
	    return 1
	exec 4>in.$1
}
# shows LANG TEXT: the pane shows TEXT (tmux may draw a little after the
# log has it: read the pane again, a bounded number of times)
shows() {
	wait_line out.$1 "$2" 10
	i=0
	while [ $i -lt 500 ]; do
		tm capture-pane -p -t $1 >pane.$1
		grep -qF -- "$2" pane.$1 && return 0
		i=$((i + 1))
	done
	diag "$(cat pane.$1)"
	return 1
}
trap 'tm kill-server 2>/dev/null; _tap_cleanup' EXIT

screen ja || missing "a tmux server (tmux new-session failed)"
printf '%s\n' "$CART" >&4
shows ja "コーラ"; ok $? "ja: the item under its Japanese name"
shows ja "Green tea"; ok $? "ja: an item without a Japanese name under the cart's name"
grep -q "合計 .* 290 JPY" pane.ja; ok $? "ja: the total"
grep -q "残りの枠 .* 4,710 JPY" pane.ja; ok $? "ja: the credit left"
printf '%s\n' "$OPEN" >&4
shows ja "お支払い中... 290 JPY"; ok $? "ja: paying"
printf '%s\n' "$PAID" >&4
shows ja "お支払い済み 290 JPY"; ok $? "ja: paid"
grep -q "コーラ" pane.ja; ok $? "ja: the cart stays on the screen with the outcome"
exec 4>&-
wait_line rc.ja '^rc=' 30	# (tmux wait-for sometimes missed its signal)
is "$(cat rc.ja)" "rc=0" "ja: the end of input ends it with 0"

screen en
printf '%s\n%s\n' "$CART" "$DECL" >&4
shows en "declined: card expired, see the office"; ok $? "en: declined, with the reason"
grep -q "Cola" pane.en; ok $? "en: the cart's own names"
printf '%s\n' '{"type":"outcome","settlement":"S3","user":"alice","state":"pending","amount":1,"currency":"JPY"}' >&4
shows en "no answer yet, ask again later"; ok $? "en: pending"
exec 4>&-
wait_line rc.en '^rc=' 30
is "$(cat rc.en)" "rc=0" "en: the end of input ends it with 0"

# signals and usage, without a pane
mkfifo sig.in
spawn sig.in sig.out sig.err msscreen
exec 4>sig.in
printf '%s\n' "$PAID" >&4
wait_line sig.out 'paid' 10
kill -TERM "$BG_PID"
wait "$BG_PID"
is "$?" 0 "SIGTERM: exits 0"
exec 4>&-
check "-h: usage, 0" "" "" "usage: msscreen [-h] [-c catalogue] [-l lang]" 0 msscreen -h
run msscreen -x
is "$RC" 2 "an unknown option: 2"
run msscreen -c nonexistent
is "$RC" 1 "a catalogue that cannot be read: 1"
printf 'not json\n' >bad.in
run -i bad.in msscreen
is "$RC" 1 "a line that is not JSON: 1, said on stderr"

done_testing
