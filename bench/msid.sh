#!/bin/sh
# bench/msid.sh: msid's tap-to-identify latency and its CPU use while idle,
# against libnfc's real pn532_uart driver and the emulated PN532
# (tests/pn532emu).  No peer: msid is compared with its targets only.
#   tap-to-identify: from the emulator's "enter" (card in the field) to
#   the identify line read from msid's stdout; 100 taps at random phases
#   of the 100 ms poll period.  Target p95 <= 200 ms.
#   idle CPU: msid's user+system time over 10 s with no card.  Target < 1%.
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${MS_BIN:-$top/bin}
build=${MS_BUILD:-$top/build}
[ -x "$build/tests/pn532emu" ] || { echo "msid.sh: $build/tests/pn532emu not built" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/msid-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

python3 - "$bin/msid" "$build/tests/pn532emu" "$dir" <<'EOF'
import math, os, random, subprocess, sys, time

msid, emu, d = sys.argv[1:4]
TAPS, IDLE_S = 100, 10.0
link = os.path.join(d, "nfc")
e = subprocess.Popen([emu, "-l", link], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True, bufsize=1)
def emu_cmd(s):
    e.stdin.write(s + "\n"); e.stdin.flush()
def emu_wait(prefix):
    while True:
        l = e.stdout.readline()
        if not l:
            sys.exit("msid.sh: pn532emu ended")
        if l.startswith(prefix):
            return l.split()
emu_wait("ready")
env = dict(os.environ, LIBNFC_AUTO_SCAN="false", LIBNFC_INTRUSIVE_SCAN="false")
errf = open(os.path.join(d, "msid.err"), "w+")
m = subprocess.Popen([msid, "-d", "pn532_uart:" + link, "-H", "0"],
                     stdout=subprocess.PIPE, stderr=errf, text=True, env=env)
while "reader ready" not in open(errf.name).read():
    if m.poll() is not None:
        sys.exit("msid.sh: msid exited")
    time.sleep(0.01)

lat = []
rng = random.Random(1)
for i in range(TAPS):
    time.sleep(rng.uniform(0, 0.1))        # a random phase of the poll period
    if i % 4 == 3:
        emu_cmd("card felica 0123%012X" % i)
    else:
        emu_cmd("card iso14443a 04%06X" % i)
    t0 = int(emu_wait("enter")[2])
    l = m.stdout.readline()
    t1 = time.monotonic() * 1000
    if '"identify"' not in l:
        sys.exit("msid.sh: expected identify, got %r" % l)
    lat.append(t1 - t0)
    emu_cmd("remove")
    emu_wait("leave")
    if '"depart"' not in m.stdout.readline():
        sys.exit("msid.sh: expected depart")
    if (i + 1) % 25 == 0:
        print("msid.sh: %d/%d taps" % (i + 1, TAPS), file=sys.stderr)

def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])       # utime + stime, in ticks
print("msid.sh: idle for %.0f s" % IDLE_S, file=sys.stderr)
c0, w0 = cpu(m.pid), time.monotonic()
time.sleep(IDLE_S)
c1, w1 = cpu(m.pid), time.monotonic()
idle = 100.0 * (c1 - c0) / os.sysconf("SC_CLK_TCK") / (w1 - w0)
m.terminate(); m.wait()
emu_cmd("quit"); e.wait()

lat.sort()
def pct(p):                               # nearest rank
    return lat[max(0, math.ceil(p / 100.0 * len(lat)) - 1)]
rows = [
    ("msid tap-to-identify p50 (ms, %d taps)" % TAPS, "%.1f" % pct(50), "-", "-"),
    ("msid tap-to-identify p95 (ms, %d taps)" % TAPS, "%.1f" % pct(95), "<= 200",
     "yes" if pct(95) <= 200 else "no"),
    ("msid tap-to-identify max (ms, %d taps)" % TAPS, "%.1f" % lat[-1], "-", "-"),
    ("msid idle CPU, no card (% of a core)", "%.2f" % idle, "< 1",
     "yes" if idle < 1 else "no"),
]
for f, ours, target, met in rows:
    print("\t".join([f, ours, "-", "-", target, met]))
EOF
