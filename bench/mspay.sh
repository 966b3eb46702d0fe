#!/bin/sh
# bench/mspay.sh: mspay's throughput against a gateway that answers in
# 5 ms (tests/gwdouble.py --latency 0.005), compared with the curl command
# run by xargs -P 16, one process per charge, posting the same requests.
# Rows: figure, ours, peer, ratio, target, met (see bench/run).
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
PATH=$bin:$PATH
export LC_ALL=C
N=${MSPAY_BENCH_N:-5000}
w=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench.XXXXXX")
dpid=
trap '[ -n "$dpid" ] && kill $dpid 2>/dev/null; rm -rf "$w"' EXIT
cd "$w" || exit 1
say() { echo "bench mspay: $*" >&2; }

command -v curl >/dev/null || { say "curl missing"; exit 1; }
key=sk_test_bench_0123456789
python3 "$top/tests/gwdouble.py" --latency 0.005 --key "$key" >dbl.out 2>dbl.err &
dpid=$!
timeout 20 sh -c 'tail -n +1 -F dbl.out 2>/dev/null | grep -q -m1 listening' ||
    { say "the double did not start"; exit 1; }
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)$/\1/p' dbl.out)
url=http://127.0.0.1:$port

say "$N charges through mspay -P 16 and through xargs -P 16 curl, 5 ms answers"
python3 - "$N" "$url" <<'PY'
import json, sys
n, url = int(sys.argv[1]), sys.argv[2]
with open("mspay.in", "w") as m, open("curl.in", "w") as c:
    for i in range(n):
        ch = {"type": "charge", "settlement": "m%05d" % i, "user": "u%d" % i,
              "customer": "cus_%d" % i, "amount": 100 + i, "currency": "EUR",
              "key": "bench-m%05d" % i}
        m.write(json.dumps(ch) + "\n")
        # the same form mspay sends, under its own settlement and key
        c.write("-HIdempotency-Key:bench-c%05d -damount=%d&currency=eur&customer=cus_%d"
                "&metadata[settlement]=c%05d&metadata[user]=u%d %s/v1/charges\n"
                % (i, 100 + i, i, i, i, url))
PY
printf 'Authorization: Bearer %s\n' "$key" >auth.hdr
printf '%s\n' "$key" >key
chmod 600 key

python3 - "$N" "$url" <<'PY'
import json, resource, subprocess, sys, time, urllib.request
n, url = int(sys.argv[1]), sys.argv[2]

def timed(cmd, stdin):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(stdin) as f:
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, t, cpu

p, tm, cpu = timed(["mspay", "-g", "stripe", "-u", url, "-K", "key", "-P", "16"], "mspay.in")
ok_m = sum(1 for l in p.stdout.splitlines() if json.loads(l)["status"] == "succeeded")
print("bench mspay: mspay rc %d, %d succeeded in %.2fs" % (p.returncode, ok_m, tm), file=sys.stderr)
p2, tc, _ = timed(["xargs", "-P", "16", "-L", "1", "curl", "-s", "-o", "/dev/null",
                   "-H", "@auth.hdr"], "curl.in")
st = json.load(urllib.request.urlopen(url + "/_stats"))
ok_c = sum(1 for s, v in st["charges"].items() if s.startswith("c") and len(v) == 1)
ok_m2 = sum(1 for s, v in st["charges"].items() if s.startswith("m") and len(v) == 1)
print("bench mspay: curl loop rc %d, %d charged in %.2fs" % (p2.returncode, ok_c, tc), file=sys.stderr)
if ok_m != n or ok_m2 != n or ok_c != n:
    print("bench mspay: not every charge went through (mspay %d/%d, curl %d)"
          % (ok_m, ok_m2, ok_c), file=sys.stderr)
    sys.exit(1)
rm, rc = n / tm, n / tc
ratio = rm / rc
us = cpu / n * 1e6
row = lambda *f: print("\t".join(str(x) for x in f))
row("mspay -P 16, 5 ms gateway (charges/s)", "%.0f" % rm, "%.0f" % rc, "%.1f" % ratio,
    ">= 1000/s", "yes" if rm >= 1000 else "no")
row("mspay vs xargs -P 16 curl (ratio)", "%.1fx" % ratio, "1x", "%.1f" % ratio,
    ">= 5x", "yes" if ratio >= 5 else "no")
row("mspay CPU time per charge (us)", "%.0f" % us, "-", "-", "-", "yes")
PY
