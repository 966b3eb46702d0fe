#!/bin/sh
# bench/mspay.sh: mspay against the gateway double (tests/gwdouble.py).
# Rows: figure, ours, peer, ratio, target, met (see bench/run).
#  - throughput and CPU per charge: N charges (5000) to a double that
#    answers in 5 ms, mspay -g stripe -P 16 against one curl process
#    doing the same requests 16 at a time (curl --parallel
#    --parallel-max 16 --config FILE, every request in FILE with the
#    same headers and body as mspay's, under its own settlements and
#    keys).  Three rounds, mspay and curl in turn; the medians.  CPU is
#    user+system time of the process (getrusage of the child).
#  - settling under a rate limit: TABS tabs (10000) with mspay -P 16 and
#    no --rate against a double that takes 100 requests a second and
#    answers 429 beyond (--rate-limit 100): the total time, the share of
#    requests answered 429, and the charges that failed, ended unknown or
#    were not charged exactly once at the double.
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
PATH=$bin:$PATH
export LC_ALL=C
N=${MSPAY_BENCH_N:-5000}
TABS=${MSPAY_BENCH_TABS:-10000}
LIMIT=100
w=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench.XXXXXX")
dpid=
trap '[ -n "$dpid" ] && kill $dpid 2>/dev/null; rm -rf "$w"' EXIT
cd "$w" || exit 1
say() { echo "bench mspay: $*" >&2; }

command -v curl >/dev/null || { say "curl missing"; exit 1; }
key=sk_test_bench_0123456789
printf '%s\n' "$key" >key
chmod 600 key

# double OUTFILE ARGS...: start the double, set url and dpid
double() {
	_out=$1
	shift
	[ -n "$dpid" ] && kill $dpid 2>/dev/null && wait $dpid 2>/dev/null
	python3 "$top/tests/gwdouble.py" --key "$key" "$@" >"$_out" 2>"$_out.err" &
	dpid=$!
	timeout 20 sh -c 'tail -n +1 -F "$1" 2>/dev/null | grep -q -m1 listening' sh "$_out" ||
	    { say "the double did not start: $(cat "$_out.err")"; exit 1; }
	url=http://127.0.0.1:$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)$/\1/p' "$_out")
}

say "$N charges, mspay -P 16 and curl --parallel --parallel-max 16 in turn, 5 ms answers"
double dbl.out --latency 0.005
python3 - "$N" "$url" "$key" <<'PY'
import json, sys
n, url, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for r in range(3):
    with open("mspay%d.in" % r, "w") as m, open("curl%d.cfg" % r, "w") as c:
        for i in range(n):
            s = "m%d-%05d" % (r, i)
            m.write(json.dumps({"type": "charge", "settlement": s, "user": "u%d" % i,
                                "customer": "cus_%d" % i, "amount": 100 + i,
                                "currency": "EUR", "key": "bench-" + s}) + "\n")
            # mspay's request: the same headers and form, its own settlement
            s = "c%d-%05d" % (r, i)
            if i:
                c.write("next\n")
            c.write('url = "%s/v1/charges"\noutput = "/dev/null"\n'
                    'header = "Authorization: Bearer %s"\n'
                    'header = "Idempotency-Key: bench-%s"\n'
                    'header = "Stripe-Version: 2024-06-20"\n'
                    'header = "Accept: application/json"\n'
                    'data = "amount=%d&currency=eur&customer=cus_%d'
                    '&metadata[settlement]=%s&metadata[user]=u%d"\n'
                    % (url, key, s, 100 + i, i, s, i))
PY

python3 - "$N" "$url" <<'PY'
import json, resource, statistics, subprocess, sys, time, urllib.request
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

rm, rc, cm, cc = [], [], [], []
for r in range(3):
    p, t, cpu = timed(["mspay", "-g", "stripe", "-u", url, "-K", "key", "-P", "16"],
                      "mspay%d.in" % r)
    ok = sum(1 for l in p.stdout.splitlines() if json.loads(l)["status"] == "succeeded")
    if p.returncode != 0 or ok != n:
        sys.exit("bench mspay: mspay rc %d, %d of %d succeeded: %s"
                 % (p.returncode, ok, n, p.stderr.decode()[-500:]))
    rm.append(n / t); cm.append(cpu / n * 1e6)
    p, t, cpu = timed(["curl", "--no-progress-meter", "--parallel", "--parallel-max", "16",
                       "--config", "curl%d.cfg" % r], "/dev/null")
    if p.returncode != 0:
        sys.exit("bench mspay: curl rc %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
    rc.append(n / t); cc.append(cpu / n * 1e6)
    print("bench mspay: round %d: mspay %.0f/s %.0f us/charge, curl %.0f/s %.0f us/charge"
          % (r + 1, rm[-1], cm[-1], rc[-1], cc[-1]), file=sys.stderr)
st = json.load(urllib.request.urlopen(url + "/_stats"))
for prefix in ("m", "c"):
    once = sum(1 for s, v in st["charges"].items() if s.startswith(prefix) and len(v) == 1)
    if once != 3 * n or st["mismatch"]:
        sys.exit("bench mspay: %s: %d of %d charged exactly once" % (prefix, once, 3 * n))
# the figures are medians; the ratio is the median of the rounds' ratios
med = statistics.median
ours, peer = med(rm), med(rc)
ratio = med(a / b for a, b in zip(rm, rc))
row = lambda *f: print("\t".join(str(x) for x in f))
row("mspay -P 16 vs curl --parallel 16 (charges/s)", "%.0f" % ours, "%.0f" % peer,
    "%.2f" % ratio, ">=1000, ratio>=1",
    "yes" if ours >= 1000 and ratio >= 1 else "no")
ours, peer = med(cm), med(cc)
ratio = med(a / b for a, b in zip(cm, cc))
row("mspay CPU per charge vs curl --parallel (us)", "%.0f" % ours, "%.0f" % peer,
    "%.2f" % ratio, "ratio<1", "yes" if ratio < 1 else "no")
PY
[ $? = 0 ] || exit 1

say "$TABS tabs against a gateway limited to $LIMIT requests a second, mspay -P 16, no --rate"
double rl.out --latency 0.005 --rate-limit $LIMIT
python3 - "$TABS" <<'PY'
import json, sys
with open("tabs.in", "w") as m:
    for i in range(int(sys.argv[1])):
        s = "t%05d" % i
        m.write(json.dumps({"type": "charge", "settlement": s, "user": "u%d" % i,
                            "customer": "cus_%d" % i, "amount": 100 + i,
                            "currency": "EUR", "key": "bench-" + s}) + "\n")
PY
python3 - "$TABS" "$url" "$LIMIT" <<'PY'
import collections, json, subprocess, sys, time, urllib.request
n, url, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
with open("tabs.in") as f:
    p = subprocess.run(["mspay", "-g", "stripe", "-u", url, "-K", "key", "-P", "16"],
                       stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t = time.monotonic() - t0
answers = [json.loads(l) for l in p.stdout.splitlines()]
status = collections.Counter(a["status"] for a in answers)
st = json.load(urllib.request.urlopen(url + "/_stats"))
once = sum(1 for v in st["charges"].values() if len(v) == 1)
share = 100.0 * st["rate_limited"] / st["requests"]
# a tab is settled when mspay says succeeded and the double charged it once
good = set(a["settlement"] for a in answers if a["status"] == "succeeded")
bad = sum(1 for i in range(n) if not ("t%05d" % i in good and
          len(st["charges"].get("t%05d" % i, [])) == 1))
print("bench mspay: rate-limited: rc %d in %.1fs, %s, %d requests, %d answered 429, "
      "%d charged exactly once, %d Retry-After violations"
      % (p.returncode, t, dict(status), st["requests"], st["rate_limited"], once,
         st["retry_after_violations"]), file=sys.stderr)
row = lambda *f: print("\t".join(str(x) for x in f))
row("mspay %d tabs, %d/s limit: time (s)" % (n, limit), "%.1f" % t, "-", "-",
    "<=%.0f" % (n / limit * 1.1), "yes" if t <= n / limit * 1.1 else "no")
row("mspay %d tabs, %d/s limit: 429 share (%%)" % (n, limit), "%.2f" % share,
    "-", "-", "<=2", "yes" if share <= 2 else "no")
row("mspay %d tabs, %d/s limit: not settled once" % (n, limit), "%d" % bad,
    "-", "-", "0", "yes" if bad == 0 else "no")
PY
