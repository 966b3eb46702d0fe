#!/bin/sh
# bench/latency.sh: what a person at the robot waits for (issue 15, part 3).
# Whole emulated robots (tests/pn532emu, tests/fakegpiod.so and the real
# msid, msdetect, mscart record and mscart push), a server ledger behind a
# throwaway sshd on 127.0.0.1 (the config of tests/sshd.sh) and its forced
# command mscart serve.  Rows: figure, ours, peer, ratio, target, met (see
# bench/run); 100 taps, 40 takes and 10 outages, as bench/README.md says.
#  - tap to cart: from writing the card to the emulator's control to the
#    ack of the identify, with the user's cart, on push's stdout (the
#    robot's screen); one ssh login per robot, kept up across the taps.
#    Peer: the same robot with push running mscart serve itself (no ssh),
#    tapped in turn with it, so the ratio says what ssh adds.  Once with
#    msdetect's deployed reorder window (1 s, which every identify waits
#    for) and once with -w 0, with the time from msid's first select of
#    the card (the emulator says when) to the cart: the rest of the chain.
#  - take to ack: from the edge written to the fake GPIO FIFO to the
#    "applied" ack of that take on push's stdout, for the single pipeline
#    and for the two services of contrib/ (record alone, push -f following
#    the outbox); msdetect's own hold (debounce, window, margin) is a row
#    of its own, and for the two services the time from record's commit to
#    the ack.
#  - back online: push -f over ssh; sshd and its sessions killed, an event
#    recorded, a random outage of 1-20 s, sshd started again on the same
#    port: from its "Server listening" to the ack of that event.  Also how
#    many times push started its transport per minute of outage.
# The programs run with their deployed settings (contrib/ms-robot.service,
# contrib/ms-push.service, the man pages' defaults), except msid's hold
# (-H 0, not 0.5: a card's depart is written before the next card comes,
# which only the bench's pace needs) and the second tap run's msdetect -w 0.
# Smaller runs for development:
#   LATENCY_TAPS=10 LATENCY_TAKES=5 LATENCY_ROUNDS=2 LATENCY_OUTAGE=1,3
set -u
top=${MS_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
MS_TOP=$top
export MS_TOP
say() { echo "bench latency: $*" >&2; }

# tests/lib.sh gives the temp dir ($T, the cwd, removed at exit) and the
# helpers tests/sshd.sh needs; it prints nothing by itself.
. "$top/tests/lib.sh"
missing() { say "cannot run, missing: $*"; exit 1; }
. "$top/tests/sshd.sh"
for f in "$MS_BUILD/tests/pn532emu" "$MS_BUILD/fakegpiod.so"; do
	[ -e "$f" ] || missing "$f (make bench builds it)"
done

TAPS=${LATENCY_TAPS:-100}
TAKES=${LATENCY_TAKES:-40}
ROUNDS=${LATENCY_ROUNDS:-10}
OUTAGE=${LATENCY_OUTAGE:-1,20}

# The sshd config, host key and one forced command per robot: sshd_start
# writes them and proves the server starts; the driver then runs sshd
# itself, as it stops and starts it in the back-online rounds.
for r in tap tap0 take2 back; do
	sshd_key "$r" "$MS_BIN/mscart serve --role robot:$r -d $T/server" ||
	    { say "ssh-keygen failed"; exit 1; }
done
sshd_start || { say "sshd did not start"; exit 1; }
sshd_stop

python3 - "$TAPS" <<'PY' >shop.ndjson
import json, sys
print('{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}')
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "user", "user": "u%d" % i, "name": "User %d" % i,
        "cards": ["iso14443a:04%06X" % i]}, separators=(",", ":")))
print('{"type":"user","user":"taker","name":"Taker","cards":["iso14443a:04FFFFFF"]}')
PY
mscart import -c -d server shop.ndjson || { say "import failed"; exit 1; }

# The driver runs in the background so that a signal to this script
# reaches it through lib.sh's cleanup (it stops what it started).
cat >driver.py <<'PY'
import json, math, os, queue, random, signal, subprocess, sys, threading, time

TAPS, TAKES, ROUNDS = (int(a) for a in sys.argv[1:4])
OUT_MIN, OUT_MAX = (float(x) for x in sys.argv[4].split(","))
SSHD_DIR, SSH_TEMPLATE = sys.argv[5:7]
T = os.environ["T"]
BIN, BUILD = os.environ["MS_BIN"], os.environ["MS_BUILD"]
MSCART = os.path.join(BIN, "mscart")
SERVER = os.path.join(T, "server")
HOLD = "0"              # msid -H: a card's depart before the next card
DEBOUNCE_MS = 20        # the planogram's, as in planogram.example
WINDOW_MS, MARGIN_MS = 1000, 250   # msdetect's defaults (-w, -a)
POLL_S = 0.1            # msid's default -p, which ms-robot.service keeps
PERIOD = 0.6            # seconds between taps at one robot
WAIT = 30               # seconds any one thing may take before we give up

def say(*a):
    print("bench latency:", *a, file=sys.stderr, flush=True)

procs = []
def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p

def below(pid):
    """Every process under pid (sshd's sessions and their children)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            kids.setdefault(int(st.rsplit(")", 1)[1].split()[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out

def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            for c in below(p.pid):
                try:
                    os.kill(c, signal.SIGTERM)
                except OSError:
                    pass
            stop(p)

def quit_on_signal(sig, frame):
    sys.exit(128 + sig)
signal.signal(signal.SIGTERM, quit_on_signal)
signal.signal(signal.SIGINT, quit_on_signal)

class Lines:
    """A pipe's lines, each stamped with the monotonic time it was read."""
    def __init__(self, f, keep=None):
        self.q = queue.Queue()
        self.keep = keep
        threading.Thread(target=self.run, args=(f,), daemon=True).start()
    def run(self, f):
        for l in iter(f.readline, b""):
            t = time.monotonic()
            if self.keep:
                self.keep.write(l)
                self.keep.flush()
            self.q.put((t, l.decode(errors="replace")))
        self.q.put((time.monotonic(), None))
    def wait(self, match, what, timeout=WAIT):
        end = time.monotonic() + timeout
        while True:
            try:
                t, l = self.q.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                sys.exit("latency.sh: no %s within %d s" % (what, timeout))
            if l is None:
                sys.exit("latency.sh: pipe closed waiting for %s" % what)
            if match(l):
                return t, l

def ack(of, status="applied", user=None):
    def m(l):
        try:
            j = json.loads(l)
        except ValueError:
            return False
        return (j.get("type") == "ack" and j.get("of") == of and
            j.get("status") == status and
            (user is None or j.get("user") == user))
    return m

def wait_file(path, text, what):
    end = time.monotonic() + WAIT
    while text not in open(path).read():
        if time.monotonic() > end:
            sys.exit("latency.sh: %s not ready: %s" % (what, open(path).read()))
        time.sleep(0.01)

class Sshd:
    """The throwaway sshd, run and stopped here; same port every time."""
    def __init__(self):
        self.p = None
        self.log = open(os.path.join(SSHD_DIR, "sshd.log"), "ab")
    def start(self):
        self.p = start(["/usr/sbin/sshd", "-D", "-e", "-f",
            os.path.join(SSHD_DIR, "sshd_config")], stderr=subprocess.PIPE)
        t, _ = Lines(self.p.stderr, self.log).wait(
            lambda l: "Server listening on 127.0.0.1 port " in l, "sshd")
        return t
    def kill(self):
        """sshd and every session: the link is gone."""
        for c in below(self.p.pid):
            try:
                os.kill(c, signal.SIGTERM)
            except OSError:
                pass
        stop(self.p)

def ssh_cmd(robot):
    return SSH_TEMPLATE.replace(os.path.join(SSHD_DIR, "XX"),
        os.path.join(SSHD_DIR, robot)).split()

PLANOGRAM_HEAD = "chip gpiochip0\ndefault pull-up active-low debounce=%d\n" % DEBOUNCE_MS
SLOTS = range(3, 63)    # one presence line per take: the fake chip has 64

class Robot:
    """msid | msdetect | mscart record [| mscart push -- LINK], with the
    emulated reader and fake GPIO.  follow: record writes its own stdout
    and a separate push -f follows the outbox (contrib/'s two services)."""
    def __init__(self, name, link, follow=False, window=None):
        self.name, d = name, os.path.join(T, name)
        self.d = d
        os.mkdir(d)
        with open(os.path.join(d, "planogram"), "w") as f:
            f.write(PLANOGRAM_HEAD)
            for o in SLOTS:
                f.write("line %d S%d cola presence\n" % (o, o))
        with open(os.path.join(d, "levels"), "w") as f:
            for o in SLOTS:
                f.write("level %d low\n" % o)       # every slot full
        os.mkfifo(os.path.join(d, "gpio"))
        self.emu = start([os.path.join(BUILD, "tests", "pn532emu"), "-l",
            os.path.join(d, "nfc")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.emu_out = Lines(self.emu.stdout)
        self.emu_out.wait(lambda l: l.startswith("ready "), "pn532emu")
        err = lambda n: open(os.path.join(d, n + ".err"), "wb")
        env = dict(os.environ, LIBNFC_AUTO_SCAN="false", LIBNFC_INTRUSIVE_SCAN="false")
        msid = start([os.path.join(BIN, "msid"), "-H", HOLD, "-d",
            "pn532_uart:" + os.path.join(d, "nfc")], stdout=subprocess.PIPE,
            stderr=err("msid"), env=env)
        env = dict(os.environ, LD_PRELOAD=os.path.join(BUILD, "fakegpiod.so"),
            FAKEGPIOD_SCRIPT=os.path.join(d, "levels"),
            FAKEGPIOD_FIFO=os.path.join(d, "gpio"))
        det = start([os.path.join(BIN, "msdetect"), "-v"] +
            (["-w", window] if window else []) +
            ["-c", os.path.join(d, "planogram")], stdin=msid.stdout,
            stdout=subprocess.PIPE, stderr=err("msdetect"), env=env)
        msid.stdout.close()
        outbox = os.path.join(d, "outbox")
        rec = start([MSCART, "record", "-r", name, "-d", outbox],
            stdin=det.stdout, stdout=subprocess.PIPE, stderr=err("record"))
        det.stdout.close()
        if follow:
            self.recorded = Lines(rec.stdout)
            pin = subprocess.DEVNULL
            # push -f needs the outbox record makes
            end = time.monotonic() + WAIT
            while not os.path.exists(os.path.join(outbox, "outbox.db")):
                if time.monotonic() > end:
                    sys.exit("latency.sh: record made no outbox")
                time.sleep(0.01)
        else:
            pin = rec.stdout
        push = start([MSCART, "push"] + (["-f"] if follow else []) +
            ["-r", name, "-d", outbox, "--"] + link, stdin=pin,
            stdout=subprocess.PIPE, stderr=err("push"))
        if not follow:
            rec.stdout.close()
        self.screen = Lines(push.stdout)
        wait_file(os.path.join(d, "msid.err"), "reader ready", "msid")
        wait_file(os.path.join(d, "msdetect.err"), "ready", "msdetect")
        self.gpio = open(os.path.join(d, "gpio"), "w")
    def emu_cmd(self, s):
        self.emu.stdin.write(s.encode() + b"\n")
        self.emu.stdin.flush()
    def taps(self, first, n, start, seed):
        """n cards, u<first> on, one every PERIOD seconds from start at a
        random phase of msid's poll, each taken away once msid has read it
        (the emulator's "select"), at least 0.25 s after the tap.  Returns
        the time each was tapped and the time msid first selected it (the
        emulator's clock is CLOCK_MONOTONIC, as time.monotonic), by user."""
        rng, tapped = random.Random(seed), {}
        for k in range(n):
            i = first + k
            time.sleep(max(0.0, start + k * PERIOD + rng.uniform(0, POLL_S) -
                time.monotonic()))
            t0 = time.monotonic()
            self.emu_cmd("card iso14443a 04%06X" % i)
            _, l = self.emu_out.wait(lambda l: l.startswith("select "), "msid's select")
            tapped["u%d" % i] = (t0, int(l.split()[2]) / 1000.0)
            time.sleep(max(0.0, t0 + 0.25 - time.monotonic()))
            self.emu_cmd("remove")
        return tapped
    def carts(self, tapped):
        """The time from each tap to its cart on the screen, and from
        msid's select of the card to its cart."""
        lat, chain = [], []
        for _ in tapped:
            t, l = self.screen.wait(ack("identify"), "a cart")
            j = json.loads(l)
            if "cart" not in j or j.get("user") not in tapped:
                sys.exit("latency.sh: identify ack without a cart: %s" % l)
            lat.append(t - tapped[j["user"]][0])
            chain.append(t - tapped[j["user"]][1])
        return lat, chain
    def takes(self, n):
        """A card held to the reader, n takes from n slots, 0.3-0.6 s
        apart; returns (edge to ack, record's commit to ack or None)."""
        self.emu_cmd("card iso14443a 04FFFFFF")
        self.screen.wait(ack("identify", user="taker"), "cart of taker")
        edges, rng = [], random.Random(2)
        for o in list(SLOTS)[:n]:
            time.sleep(rng.uniform(0.2, 0.4))
            edges.append(time.monotonic())
            self.gpio.write("%d rising\n" % o)      # the item leaves: a take
            self.gpio.flush()
        lat, rec = [], []
        for k in range(n):
            t, l = self.screen.wait(ack("take"), "ack of take %d" % (k + 1))
            lat.append(t - edges[k])
            if hasattr(self, "recorded"):
                ev = json.loads(l)["event"]
                while True:
                    tr, r = self.recorded.wait(lambda l: '"take"' in l, "record")
                    j = json.loads(r)
                    if "%s:%d" % (j["robot"], j["seq"]) == ev:
                        break
                rec.append(t - tr)
        self.emu_cmd("remove")
        self.screen.wait(ack("depart"), "depart")
        return lat, rec

def pct(v, p):                              # nearest rank
    v = sorted(v)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]
def ms(x):
    return "%.1f" % (x * 1000)
rows = []
def row(figure, ours, peer="-", ratio="-", target="-", met="-"):
    rows.append("\t".join([figure, ours, peer, ratio, target, met]))

try:
    sshd = Sshd()
    sshd.start()

    # 1. Tap to cart, over ssh and straight into serve.  The two robots
    # are tapped in turn, a card every PERIOD seconds each, half a period
    # apart, so that each cart goes through while the other robot is
    # quiet.  With msdetect's deployed reorder window every identify waits
    # a second in msdetect (msdetect(1), Time order), so a card is tapped
    # before the last one's cart is back; then the same chain with
    # msdetect -w 0, to see what the rest of it adds.
    results = {}
    for w in ("1", "0"):
        say("tap to cart: %d taps over ssh and %d without, msdetect -w %s" % (TAPS, TAPS, w))
        sfx = "" if w == "1" else "0"
        a = Robot("tap" + sfx, ssh_cmd("tap" + sfx), window=w)
        b = Robot("tapd" + sfx, [MSCART, "serve", "--role", "robot:tapd" + sfx,
            "-d", SERVER], window=w)
        if w == "1":
            r_ssh = a
        start_at = time.monotonic() + 0.5
        tapped, failed = {}, []
        def run(r, delay, seed):
            try:
                tapped[r] = r.taps(0, TAPS, start_at + delay, seed)
            except BaseException as e:
                failed.append(e)
        th = [threading.Thread(target=run, args=(a, 0, 1)),
              threading.Thread(target=run, args=(b, PERIOD / 2, 2))]
        for t in th:
            t.start()
        for t in th:
            t.join()
        if failed:
            raise failed[0]
        results[w] = (a.carts(tapped[a]), b.carts(tapped[b]))
    for w, ((a_s, _), (b_s, _)) in (("1", results["1"]), ("0", results["0"])):
        for p in (50, 95, 100):
            x, y = pct(a_s, p), pct(b_s, p)
            row("tap to cart %s, msid -p %g, msdetect -w %s (ms)" %
                ("max" if p == 100 else "p%d" % p, POLL_S, w),
                ms(x), ms(y), "%.2f" % (x / y),
                "<= 150" if p == 95 else "-",
                ("yes" if x <= 0.150 else "no") if p == 95 else "-")

    (_, a_s), (_, b_s) = results["0"]
    for p in (50, 95):
        x, y = pct(a_s, p), pct(b_s, p)
        row("  msid's select of the card to cart p%d, -w 0 (ms)" % p,
            ms(x), ms(y), "%.2f" % (x / y))

    # 2. Take to ack: the single pipeline (the tap robot), then the two
    # services of contrib/.
    say("take to ack: %d takes, single pipeline" % TAKES)
    one, _ = r_ssh.takes(TAKES)
    say("take to ack: %d takes, record and push -f" % TAKES)
    r_two = Robot("take2", ssh_cmd("take2"), follow=True)
    two, rec = r_two.takes(TAKES)
    # libgpiod 1 (and the fake of it) has no debounce in the kernel:
    # msdetect debounces, and an event's window counts from its last edge,
    # so the debounce is inside the hold; with the kernel's debounce
    # (libgpiod 2) the hold is longer by it.
    hold = (WINDOW_MS + MARGIN_MS) / 1000.0
    row("debounce of the slot lines (ms)", "%d" % DEBOUNCE_MS)
    row("msdetect's hold of a take, -w %g -a %g (ms)" % (WINDOW_MS / 1000.0,
        MARGIN_MS / 1000.0), "%d" % (WINDOW_MS + MARGIN_MS))
    for label, v in (("single pipeline", one), ("record + push -f", two)):
        for p in (50, 95):
            row("take to ack p%d, %s (ms)" % (p, label),
                ms(pct(v, p)))
        for p in (50, 95):
            row("  less msdetect's hold, p%d, %s (ms)" % (p, label),
                ms(pct(v, p) - hold))
    for p in (50, 95):
        v = pct(rec, p)
        row("record commit to ack p%d, push -f, bell (ms)" % p, ms(v),
            target="< 180" if p == 50 else "-",
            met=("yes" if v < 0.180 else "no") if p == 50 else "-")

    # 3. Back online.
    say("back online: %d rounds, outages of %g-%g s" % (ROUNDS, OUT_MIN, OUT_MAX))
    d = os.path.join(T, "back")
    os.mkdir(d)
    starts = os.path.join(d, "starts")
    link = os.path.join(d, "link")
    with open(link, "w") as f:
        # a transport that notes each start: attempts are a figure
        f.write('#!/bin/sh\necho x >>%s\nexec %s\n' % (starts, " ".join(ssh_cmd("back"))))
    os.chmod(link, 0o755)
    open(starts, "w").close()
    rec = start([MSCART, "record", "-r", "back", "-d", os.path.join(d, "outbox")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(d, "record.err"), "wb"))
    def record_door(state):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        rec.stdin.write(b'{"type":"door","ts":"%s","state":"%s"}\n' %
            (ts.encode(), state.encode()))
        rec.stdin.flush()
    record_door("open")
    end = time.monotonic() + WAIT
    while not os.path.exists(os.path.join(d, "outbox", "outbox.db")):
        if time.monotonic() > end:
            sys.exit("latency.sh: record made no outbox")
        time.sleep(0.01)
    push = start([MSCART, "push", "-f", "-r", "back", "-d", os.path.join(d, "outbox"),
        "--", link], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    screen = Lines(push.stdout)
    news = Lines(push.stderr, open(os.path.join(d, "push.err"), "wb"))
    screen.wait(ack("door"), "first ack")
    back, tries, down_s = [], 0, 0.0
    rng = random.Random(3)
    count = lambda: sum(1 for _ in open(starts))
    for k in range(ROUNDS):
        n0, down = count(), time.monotonic()
        sshd.kill()
        news.wait(lambda l: "link down" in l or "offline" in l, "push's link down")
        record_door("closed" if k % 2 == 0 else "open")
        time.sleep(rng.uniform(OUT_MIN, OUT_MAX))
        n, restart = count() - n0, time.monotonic()
        up = sshd.start()
        t, _ = screen.wait(ack("door"), "ack after the outage")
        back.append(t - up)
        tries += n
        down_s += restart - down
        say("round %d/%d: outage %.1f s, %d transport starts, back %.0f ms after sshd" %
            (k + 1, ROUNDS, restart - down, n, (t - up) * 1000))
    rec.stdin.close()
    for p, name in ((50, "median"), (100, "max")):
        v = pct(back, p)
        row("back online, sshd ready to ack, %s (ms)" % name,
            ms(v), target="< 2000", met="yes" if v < 2.0 else "no")
    say("push started its transport %d times in %.0f s of outages" % (tries, down_s))
    row("push's transport starts a minute, server down",
        "%.0f" % (tries * 60.0 / down_s))
finally:
    cleanup()
print("\n".join(rows), flush=True)
PY
bg python3 driver.py "$TAPS" "$TAKES" "$ROUNDS" "$OUTAGE" "$SSHD_DIR" \
    "$(sshd_cmd XX)"
wait "$BG_PID"
