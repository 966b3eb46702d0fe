#!/bin/sh
# mscart backup, restore and verify (issue 17, point 6): a backup verified
# in place is left as it was (no region files); restore brings it up in
# another directory; backup -l keeps and copies the logs, so a restore
# reaches the last copy, or a time before it; the takes after that are
# replayed from the robot's journal exactly once.  The expected tabs are
# counted from the takes this test sent.
. "$(dirname "$0")/lib.sh"

MSCART_DB=$T/db
MS_CONF=/dev/null
TZ=UTC
export MSCART_DB MS_CONF TZ
mscart init
printf '%s\n' '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}' \
    '{"type":"product","sku":"tea","name":"Tea","price":120,"currency":"EUR"}' \
    '{"type":"user","user":"al","name":"Al","cards":["line:al"],"currency":"EUR","payment":"cus_al"}' \
    '{"type":"user","user":"bo","name":"Bo","cards":["line:bo"],"currency":"EUR","payment":"cus_bo"}' |
    mscart import

# The model: each take sent is one line in journal (the robot's copy of
# what record stamped) and is added to the expected count and total.
seq=0
takes() {	# takes N USER SKU PRICE: N takes, applied
	i=0
	: >batch
	while [ "$i" -lt "$1" ]; do
		seq=$((seq + 1))
		printf '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"r1","seq":%d,"slot":"A1","sku":"%s","card":"line:%s"}\n' \
		    "$seq" "$3" "$2" >>batch
		i=$((i + 1))
	done
	cat batch >>journal
	mscart apply batch >/dev/null
	n_sent=$((n_sent + $1))
	sum_sent=$((sum_sent + $1 * $4))
}
n_sent=0 sum_sent=0
count() { mscart report -d "$1" | awk -F'"count":' '{ split($2, a, ","); n += a[1] } END { print n + 0 }'; }
total() { mscart report -d "$1" | awk -F'"amount":' '{ split($2, a, ","); n += a[1] } END { print n + 0 }'; }
sums() { find "$1" -type f | sort | xargs md5sum; }

# ----- a full backup, verified without a trace -----
takes 30 al cola 150
takes 20 bo tea 120
run mscart backup "$T/full"
is "$RC:$ERR" "0:" "backup"
before=$(sums "$T/full")
run mscart verify -d "$T/full"
is "$RC" 0 "verify of the backup passes"
like "$ERR" 'verify: 50 lines, 0 settlements, 0 problems' "and counts the 50 lines"
is "$(ls "$T/full" | grep -c '^__db')" 0 "verify left no region files in the backup"
is "$(sums "$T/full")" "$before" "nor changed any of its files"
is "$(ls "$T" | grep -c 'verify')" 0 "its restored copy is gone"

# ----- restore to another directory ("another machine") -----
scp_dir=$T/elsewhere
mkdir "$scp_dir"
cp -r "$T/full" "$scp_dir/full"
run mscart restore "$scp_dir/full" "$scp_dir/ledger"
is "$RC" 0 "restore exits 0"
like "$ERR" 'verify: 50 lines, 0 settlements, 0 problems' "and verifies the restored ledger"
is "$(mscart report -d "$scp_dir/ledger")" "$(mscart report)" "report: the same as the source's"
is "$(count "$scp_dir/ledger"):$(total "$scp_dir/ledger")" "$n_sent:$sum_sent" \
    "50 takes, 30 x 150 + 20 x 120"
run mscart verify -d "$scp_dir/ledger"
is "$RC" 0 "the restored ledger verifies as a ledger"
run mscart restore "$T/full" "$scp_dir/ledger"
is "$RC" 1 "restore into a directory that is not empty: exit 1"
like "$ERR" "mscart: $scp_dir/ledger: not empty" "said"
is "$(count "$scp_dir/ledger")" 50 "and it is left as it was"
run mscart restore "$T/nothing" "$T/x"
is "$RC:$ERR" "1:mscart: $T/nothing: not a backup (no lines.db)" "restore of no backup"
run mscart restore "$T/full"
is "$RC" 2 "restore without a directory: usage"

# ----- point in time: backup -l keeps and copies the logs -----
run mscart backup -l "$T/arch"
is "$RC" 0 "backup -l: a full backup where there was none"
like "$(cat "$T/db/DB_CONFIG")" 'DB_LOG_AUTO_REMOVE off' "the ledger keeps its logs from now on"
takes 10 al cola 150
# the second the next takes start is after this one's end: a time between
s=$(date +%s); while [ "$(date +%s)" = "$s" ]; do :; done
mid=$(date +%Y-%m-%dT%H:%M:%S)
n_mid=$n_sent sum_mid=$sum_sent
s=$(date +%s); while [ "$(date +%s)" = "$s" ]; do :; done
# enough takes for several log files (10 MiB each), in two runs, the
# logs of each added to the archive after it
big() {	# big N: N takes of tea by bo, applied
	awk -v s="$seq" -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"type\":\"take\",\"ts\":\"2026-11-28T11:00:00.000Z\",\"robot\":\"r1\",\"seq\":%d,\"slot\":\"B1\",\"sku\":\"tea\",\"card\":\"line:bo\"}\n", s + i }' >big
	cat big >>journal
	mscart apply -b 100 big >/dev/null
	seq=$((seq + $1)) n_sent=$((n_sent + $1)) sum_sent=$((sum_sent + $1 * 120))
}
big 20000
ok "$([ "$(ls "$T/db" | grep -c '^log\.')" -gt 1 ]; echo $?)" "the ledger kept its older logs"
run mscart backup -l "$T/arch"
is "$RC" 0 "backup -l again: the logs since are added"
big 20000
run mscart backup -l "$T/arch"
is "$RC:$ERR" "0:" "and again after more takes"
is "$(ls "$T/db" | grep -c '^log\.')" 1 "the logs copied are removed from the ledger, the current one stays"
is "$(ls "$T/arch" | grep -c '^log\.')" "$(ls "$T/arch" "$T/db" | grep '^log\.' | sort -u | wc -l | tr -d ' ')" \
    "the archive holds every log"
run mscart status
is "$(printf '%s\n' "$OUT" | jget backup.kind):$(printf '%s\n' "$OUT" | jget backup.target)" "logs:$T/arch" \
    "status: the last backup was a copy of the logs"
n_arch=$n_sent sum_arch=$sum_sent

# takes after the last copy: in the journal, not in the archive
takes 4 al tea 120

# the ledger is lost
rm -rf "$T/db"
run mscart restore "$T/arch" "$T/new"
is "$RC" 0 "restore the archive on a new directory"
is "$(count "$T/new"):$(total "$T/new")" "$n_arch:$sum_arch" \
    "every take up to the last copy of the logs is there"
run mscart restore -t "$mid" "$T/arch" "$T/mid"
is "$RC" 0 "restore -t: to a time between two runs of takes"
is "$(count "$T/mid"):$(total "$T/mid")" "$n_mid:$sum_mid" "only the takes before that time"
run mscart restore -t 2020-01-01 "$T/arch" "$T/early"
is "$RC" 1 "restore -t before the backup: exit 1"
ok "$([ ! -e "$T/early" ]; echo $?)" "and nothing is left behind"

# the robot's journal replayed: exactly once by robot and seq
run mscart apply -d "$T/new" journal
is "$RC" 0 "the journal applied to the restored ledger"
is "$(printf '%s\n' "$OUT" | grep -c '"applied"')" 4 "the 4 takes after the last copy are new"
is "$(printf '%s\n' "$OUT" | grep -c '"duplicate"')" "$n_arch" "everything else is a duplicate"
is "$(count "$T/new"):$(total "$T/new")" "$n_sent:$sum_sent" "the tabs are whole again"
run mscart verify -d "$T/new"
is "$RC" 0 "and the ledger verifies"

# ----- two targets: logs copied to one are not in the other -----
MSCART_DB=$T/new
run mscart backup -l "$T/a1"
is "$RC" 0 "backup -l to a first target"
run mscart backup -l "$T/a2"
is "$RC" 0 "and to a second"
big 30000
run mscart backup -l "$T/a2"
is "$RC:$ERR" 0: "the second target takes the logs, and they leave the ledger"
run mscart backup -l "$T/a1"
is "$RC" 0 "backup -l to the first target again"
like "$ERR" "lacks logs the ledger no longer has: a full backup instead" \
    "it lacks logs the other took: a full backup instead, said"
run mscart restore "$T/a1" "$T/from-a1"
is "$RC:$(count "$T/from-a1"):$(total "$T/from-a1")" "0:$n_sent:$sum_sent" \
    "restored, the first target has every take"

# ----- usage -----
run mscart backup -x t
is "$RC" 2 "backup: a bad option is a usage error"
like "$ERR" 'usage: mscart backup \[-hl\] \[-d dir\] target' "backup's usage"
run mscart restore -t yesterday a b
is "$RC" 2 "restore -t that is not a time: usage error"
done_testing
