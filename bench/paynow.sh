#!/bin/sh
# bench/paynow.sh: pay at the device, now (issue 16).  From a terminal's
# pay line to the "paid" outcome on its stdout, through the settlement
# service (mscart due -f | mspay | mscart settle) and the gateway double
# answering in 50 ms: p50 and p95 over 200 pays, one after another, each
# by its own user over its own mscart serve (started, and asked for its
# cart, before the clock starts).  No peer.  Target p95 <= 1 s.
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/paynow-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

python3 - "$bin" "$top" "$dir" <<'PY'
import json, os, subprocess, sys, time

bin_, top, d = sys.argv[1:4]
N, LATENCY = 200, 0.05
env = dict(os.environ, MSCART_DB=os.path.join(d, "db"),
           MSPAY_KEY="sk_test_bench_paynow_0123456789",
           PATH=bin_ + ":" + os.environ["PATH"])
os.mkdir(os.path.join(d, "db"))
def run(args, inp=""):
    subprocess.run(args, input=inp, text=True, env=env, check=True,
                   stdout=subprocess.DEVNULL)
run(["mscart", "init"])
run(["mscart", "import"], '{"type":"product","sku":"cola","name":"Cola",'
    '"price":150,"currency":"JPY"}\n')
run(["mscart", "apply"], "".join(
    '{"type":"user","user":"u%d","name":"U%d","cards":["line:u%d"],'
    '"currency":"JPY","payment":"cus_u%d"}\n' % (i, i, i, i) for i in range(N)))
run(["mscart", "apply"], "".join(
    '{"type":"take","ts":"2026-11-28T10:00:00.000Z","robot":"r1","seq":%d,'
    '"slot":"A1","sku":"cola","card":"line:u%d"}\n' % (i + 1, i)
    for i in range(N)))
gw = subprocess.Popen(["python3", os.path.join(top, "tests/gwdouble.py"),
                       "--latency", str(LATENCY)], stdout=subprocess.PIPE,
                      text=True)
port = gw.stdout.readline().strip().rsplit(":", 1)[1]
due = subprocess.Popen(["mscart", "due", "-f"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env)
pay = subprocess.Popen(["mspay", "-g", "stripe", "-u", "http://127.0.0.1:" +
                        port], stdin=due.stdout, stdout=subprocess.PIPE,
                       env=env)
due.stdout.close()
settle = subprocess.Popen(["mscart", "settle"], stdin=pay.stdout,
                          stdout=subprocess.DEVNULL, env=env)
pay.stdout.close()
if "following" not in due.stderr.readline():	# its readiness line
    sys.exit("paynow.sh: mscart due -f did not start")
lat, notpaid = [], 0
for i in range(N):
    s = subprocess.Popen(["mscart", "serve", "--role", "terminal:u%d" % i],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, bufsize=1, env=env)
    s.stdin.write('{"type":"query","user":"u%d"}\n' % i)
    s.stdout.readline()
    t0 = time.monotonic()
    s.stdin.write('{"type":"pay","user":"u%d","wait":10}\n' % i)
    for line in s.stdout:
        m = json.loads(line)
        if m["type"] == "outcome":
            lat.append(time.monotonic() - t0)
            notpaid += m["state"] != "paid"
            break
    s.stdin.close()
    s.wait()
due.terminate()
due.wait(); pay.wait(); settle.wait()
gw.terminate(); gw.wait()
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
if len(lat) != N or notpaid:
    print("paynow.sh: %d outcomes, %d not paid" % (len(lat), notpaid),
          file=sys.stderr)
p50, p95 = pct(50) * 1000, pct(95) * 1000
print("pay to paid at the terminal, p50 (gateway 50 ms)\t%.0f ms\t-\t-\t-\t%s"
      % (p50, "yes" if len(lat) == N and not notpaid else "no"))
print("pay to paid at the terminal, p95 (gateway 50 ms)\t%.0f ms\t-\t-\t"
      "<= 1000 ms\t%s" % (p95, "yes" if p95 <= 1000 and len(lat) == N and
                          not notpaid else "no"))
PY
