#!/usr/bin/env python3
"""gwdouble: a fault-injecting payment gateway double for mspay's tests.

It speaks the part of the Stripe API mspay uses (form-encoded POST
/v1/charges and /v1/payment_intents, Bearer key, Idempotency-Key with
replay and mismatch errors) and mspay's webhook contract (POST /webhook,
MS-Signature: t=TS,v1=HMAC-SHA256(secret, "TS.BODY")).  It stands in for a
real gateway; nothing here is Stripe's code.

With --faults F, a fraction F of idempotency keys (chosen by a hash of the
key and --seed, so a run is reproducible) meets one fault on its first
attempts:

  drop      the charge is committed, then the connection is closed
            without an answer
  late      the charge is committed, the answer comes after --late seconds
            (set it longer than the client's timeout)
  500 429 409
            a run of 1 to 3 such answers before the request is processed
            (429 carries Retry-After: --retry-after)
  malformed the charge is committed and answered with broken JSON
  trickle   the answer is sent a few bytes at a time, slowly

Customers named cus_decline* are declined (402 card_error, and a failed
charge object is kept, as Stripe does); cus_nocard* have no payment method
(404 card_error "missing"); cus_noretry* get 500 with Stripe-Should-Retry:
false; cus_retry400* get 400 with Stripe-Should-Retry: true on their first
attempt; cus_err500* get a 500 that is saved under the key and replayed,
as Stripe saves the result of a request that failed on its side;
cus_mismatch* are answered "succeeded" for 999.00 USD whatever was asked.
A customer that does not start with cus_ does not exist (400
resource_missing).  As strict as Stripe about amounts: ISK must be a
multiple of 100, the three-decimal currencies (BHD, JOD, KWD, OMR, TND) a
multiple of 10.

Idempotency keys are kept for --key-retention seconds (Stripe: 24 hours)
and then forgotten: a request under a forgotten key is a new request.
The double has its own clock, which a test moves forward with
POST /_admin/clock?advance=SECONDS (keys expire, searches catch up);
POST /_admin/forget?older_than=SECONDS forgets keys older than that.

The search API: GET /v1/charges/search and /v1/payment_intents/search with
query=metadata['KEY']:'VALUE' answer Stripe's search_result object.  An
object shows in search only --search-lag seconds after it was written
(Stripe: up to about a minute).

With --process-time S a request holds its key for S seconds while it is
processed; another request under the same key meanwhile gets 409.

With --rate-limit N the double limits requests as Stripe does (about 100
writes a second in live mode, 25 in test mode): a token bucket that holds
--rate-burst tokens (default N, one second's worth) and gains N a second;
a request that finds it empty is not processed and gets 429 with
Retry-After: --retry-after and Stripe's body, {"error": {"type":
"invalid_request_error", "code": "rate_limit", ...}}.  Every request but
/_stats and /_admin counts, searches included.

GET /_stats answers JSON: per settlement the charges committed (their
ids: money taken), the attempts per key, faults injected, idempotency
mismatches, keys expired, searches, requests without a key, Retry-After
violations, connections accepted, the arrival time of every request,
the requests rate-limited (429) and the most requests that arrived
within any one second (peak_1s).
--log FILE writes one JSON line per request (method, path, query, key,
whether the Bearer key was right, Stripe-Version, body).

It prints "gwdouble: listening on 127.0.0.1:PORT" when ready (port 0 picks
a free one), and stops on SIGTERM.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import re
import signal
import ssl
import sys
import time
import urllib.parse

FAULTS = ["drop", "late", "500", "429", "409", "malformed", "trickle"]


class Gateway:
    def __init__(self, args):
        self.args = args
        self.saved = {}          # idempotency key -> (params, status, body, time)
        self.objects = []        # charges and payment intents, as Stripe keeps them
        self.offset = 0.0        # the double's clock = wall clock + offset
        self.expired = 0
        self.searches = 0
        self.inflight = set()    # keys being processed now
        self.attempts = {}       # key -> attempts seen
        self.last_seen = {}      # key -> monotonic time of the last attempt
        self.not_before = {}     # key -> monotonic time Retry-After allows
        self.charges = {}        # settlement -> [ids]
        self.faults = {}         # kind -> count
        self.mismatch = 0
        self.nokey = 0
        self.retry_after_violations = 0
        self.requests = 0
        self.connections = 0
        self.arrivals = []       # monotonic time of each charge request
        self.rate_limited = 0    # requests answered 429 by the bucket
        self.limited_at = []     # their arrival times
        self.bucket = Bucket(args.rate_limit, args.rate_burst or args.rate_limit) \
            if args.rate_limit > 0 else None
        self.seq = 0
        self.log = open(args.log, "a") if args.log else None
        self.secret = None
        if args.webhook_secret:
            with open(args.webhook_secret, "rb") as f:
                self.secret = f.read().rstrip(b"\r\n")

    def fault_for(self, key):
        if self.args.faults <= 0 or not key:
            return None
        h = hashlib.sha256(("%s/%s" % (self.args.seed, key)).encode()).digest()
        if int.from_bytes(h[:4], "big") / 2**32 >= self.args.faults:
            return None
        kinds = self.args.only.split(",") if self.args.only else FAULTS
        return kinds[h[4] % len(kinds)], 1 + h[5] % 3

    def now(self):
        return time.time() + self.offset

    def saved_get(self, key):
        """The saved answer under key, or None; a key kept past the
        retention is forgotten first."""
        e = self.saved.get(key)
        if e and self.now() - e[3] >= self.args.key_retention:
            del self.saved[key]
            self.expired += 1
            return None
        return e

    def forget(self, older_than):
        t = self.now()
        for k in [k for k, e in self.saved.items() if t - e[3] >= older_than]:
            del self.saved[k]
            self.expired += 1

    def keep(self, obj):
        obj["created"] = int(self.now())
        obj["_written"] = self.now()
        self.objects.append(obj)
        return obj

    def search(self, kind, query):
        m = re.fullmatch(r"\s*metadata\[(['\"])(\w+)\1\]:(['\"])(.*)\3\s*", query)
        if not m:
            return None
        field, value = m.group(2), m.group(4).replace("\\'", "'")
        visible = self.now() - self.args.search_lag
        return [public(o) for o in self.objects
                if o["object"] == kind and o["_written"] <= visible
                and o.get("metadata", {}).get(field) == value]

    def new_id(self, prefix):
        self.seq += 1
        return "%s_%08d" % (prefix, self.seq)

    def commit(self, settlement, prefix):
        cid = self.new_id(prefix)
        self.charges.setdefault(settlement, []).append(cid)
        return cid

    def peak_1s(self):
        """The most requests that arrived within any one second."""
        a, best, i = self.arrivals, 0, 0
        for j in range(len(a)):
            while a[j] - a[i] >= 1.0:
                i += 1
            best = max(best, j - i + 1)
        return best

    def stats(self):
        return {
            "charges": self.charges,
            "objects": [public(o) for o in self.objects],
            "expired": self.expired,
            "searches": self.searches,
            "attempts": self.attempts,
            "faults": self.faults,
            "mismatch": self.mismatch,
            "nokey": self.nokey,
            "retry_after_violations": self.retry_after_violations,
            "requests": self.requests,
            "connections": self.connections,
            "arrivals": self.arrivals,
            "rate_limited": self.rate_limited,
            "limited_at": self.limited_at,
            "peak_1s": self.peak_1s(),
        }


class Bucket:
    """Stripe's limiter as a token bucket: burst tokens, rate a second."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.t = self.burst, time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def public(o):
    return {k: v for k, v in o.items() if not k.startswith("_")}


def jbody(obj):
    return json.dumps(obj).encode()


def stripe_error(status, etype, message, code=None, **extra):
    e = {"type": etype, "message": message}
    if code:
        e["code"] = code
    e.update(extra)
    return status, jbody({"error": e})


async def respond(writer, status, body, headers=None, trickle=False):
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized",
              402: "Payment Required", 404: "Not Found", 409: "Conflict",
              429: "Too Many Requests", 500: "Internal Server Error"}
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\n" % (status, reason.get(status, "X"), len(body))
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    data = (head + "\r\n").encode() + body
    if trickle:
        for i in range(0, len(data), 16):
            writer.write(data[i:i + 16])
            await writer.drain()
            await asyncio.sleep(0.005)
    else:
        writer.write(data)
        await writer.drain()


async def handle(gw, reader, writer):
    gw.connections += 1
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                method, target, _ = line.decode("latin-1").split(" ", 2)
            except ValueError:
                break
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            body = await reader.readexactly(n) if n else b""
            keep = await serve(gw, method, target, headers, body, writer)
            if not keep:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def admin(gw, method, path, qs, writer):
    if method == "GET" and path == "/_stats":
        await respond(writer, 200, jbody(gw.stats()))
        return True
    if method == "POST" and path == "/_admin/clock":
        gw.offset += float(qs.get("advance", "0"))
        await respond(writer, 200, jbody({"now": gw.now()}))
        return True
    if method == "POST" and path == "/_admin/forget":
        gw.forget(float(qs.get("older_than", "0")))
        await respond(writer, 200, jbody({"keys": len(gw.saved)}))
        return True
    return None


API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.\w+)?")


async def serve(gw, method, target, headers, body, writer):
    args = gw.args
    path, _, query = target.partition("?")
    qs = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    done = await admin(gw, method, path, qs, writer)
    if done is not None:
        return done
    gw.requests += 1
    arrived = time.monotonic()
    gw.arrivals.append(arrived)
    # the limiter decides on arrival; the answer takes the usual time
    limited = gw.bucket is not None and not gw.bucket.take()
    if args.latency > 0:
        await asyncio.sleep(args.latency)
    key = headers.get("idempotency-key", "")
    version = headers.get("stripe-version", "")
    if gw.log:
        auth = headers.get("authorization", "")
        gw.log.write(json.dumps({
            "method": method, "path": path, "query": qs, "key": key,
            "auth": "Bearer ok" if args.key and auth == "Bearer " + args.key
            else ("other" if auth else "none"),
            "stripe_version": version,
            "content_type": headers.get("content-type", ""),
            "signature": headers.get("ms-signature", ""),
            "body": body.decode("utf-8", "replace")}) + "\n")
        gw.log.flush()
    searching = method == "GET" and path in ("/v1/charges/search",
                                             "/v1/payment_intents/search")
    if not searching and (method != "POST" or path not in (
            "/v1/charges", "/v1/payment_intents", "/webhook")):
        await respond(writer, *stripe_error(404, "invalid_request_error",
                                            "Unrecognized request URL (%s: %s)."
                                            % (method, path)))
        return True
    webhook = path == "/webhook"
    if webhook:
        sig = headers.get("ms-signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        want = hmac.new(gw.secret or b"", (parts.get("t", "") + ".").encode() + body,
                        hashlib.sha256).hexdigest()
        if gw.secret is None or not hmac.compare_digest(want, parts.get("v1", "")):
            await respond(writer, 401, jbody({"status": "failed", "code": "signature",
                                              "message": "bad signature"}))
            return True
    else:
        if args.key and headers.get("authorization") != "Bearer " + args.key:
            await respond(writer, *stripe_error(401, "invalid_request_error",
                                                "Invalid API Key provided"))
            return True
        if version and not API_VERSION.fullmatch(version):
            await respond(writer, *stripe_error(
                400, "invalid_request_error",
                "Invalid Stripe API version: %s" % version))
            return True

    if limited:
        gw.rate_limited += 1
        now = time.monotonic()
        gw.limited_at.append(arrived)
        if key:
            if key in gw.not_before and now + 0.05 < gw.not_before[key]:
                gw.retry_after_violations += 1
            gw.not_before[key] = now + args.retry_after
        st, b = stripe_error(
            429, "invalid_request_error",
            "Request rate limit exceeded. You can learn more about rate "
            "limits here https://stripe.com/docs/rate-limits.", "rate_limit")
        if webhook:
            b = jbody({"message": "rate limit"})
        await respond(writer, st, b, {"Retry-After": str(args.retry_after)})
        return True

    if searching:
        gw.searches += 1
        kind = "charge" if path.startswith("/v1/charges") else "payment_intent"
        found = gw.search(kind, qs.get("query", ""))
        if found is None:
            await respond(writer, *stripe_error(
                400, "invalid_request_error",
                "The query is not valid: %s" % qs.get("query", ""),
                "parameter_invalid_string", param="query"))
            return True
        await respond(writer, 200, jbody({
            "object": "search_result", "url": path, "has_more": False,
            "next_page": None, "data": found}))
        return True

    if not key:
        gw.nokey += 1
    now = time.monotonic()
    n = gw.attempts[key] = gw.attempts.get(key, 0) + 1
    if key in gw.not_before and now + 0.05 < gw.not_before[key]:
        gw.retry_after_violations += 1
    gw.last_seen[key] = now

    if key and key in gw.inflight:
        await respond(writer, *stripe_error(
            409, "idempotency_error",
            "There is currently another in-progress request using this "
            "Idempotent Key (that probably means you submitted twice, and "
            "the other request is still going through): %s." % key,
            "lock_timeout"))
        return True

    fault = gw.fault_for(key)
    kind, runs = fault if fault else (None, 0)
    if kind in ("500", "429", "409") and n <= runs:
        gw.faults[kind] = gw.faults.get(kind, 0) + 1
        hdrs = {}
        if kind == "429":
            hdrs["Retry-After"] = str(args.retry_after)
            gw.not_before[key] = now + args.retry_after
            # a fault of one key, as Stripe's lock on one object is: a
            # rate limit is --rate-limit's, for every key at once
            st, b = stripe_error(429, "invalid_request_error",
                                 "This object cannot be accessed right now "
                                 "because another API request or Stripe "
                                 "process is currently accessing it.",
                                 "lock_timeout")
        elif kind == "409":
            st, b = stripe_error(409, "idempotency_error",
                                 "another request with this key is in progress",
                                 "lock_timeout")
        else:
            st, b = stripe_error(500, "api_error", "An unknown error occurred")
        if webhook:
            b = jbody({"message": "try again"})
        await respond(writer, st, b, hdrs)
        return True

    if webhook:
        try:
            params = json.loads(body)
        except ValueError:
            await respond(writer, 400, jbody({"status": "failed", "code": "json",
                                              "message": "not JSON"}))
            return True
    else:
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    fingerprint = json.dumps(params, sort_keys=True)

    # Stripe-Should-Retry, both ways: a 500 not to retry, a 400 to retry
    cust = "" if webhook else params.get("customer", "")
    if cust.startswith("cus_noretry"):
        await respond(writer, *stripe_error(500, "api_error", "do not retry"),
                      {"Stripe-Should-Retry": "false"})
        return True
    if cust.startswith("cus_retry400") and n == 1:
        await respond(writer, *stripe_error(400, "invalid_request_error",
                                            "try once more"),
                      {"Stripe-Should-Retry": "true"})
        return True

    replayed = False
    saved = gw.saved_get(key) if key else None
    if saved:
        if saved[0] != fingerprint:
            gw.mismatch += 1
            msg = ("Keys for idempotent requests can only be used with the "
                   "same parameters they were first used with. Try using a "
                   "key other than '%s' if you meant to execute a different "
                   "request." % key)
            if webhook:
                await respond(writer, 400, jbody({
                    "status": "failed", "code": "idempotency_error",
                    "message": msg}))
            else:
                await respond(writer, *stripe_error(400, "idempotency_error", msg))
            return True
        status, rbody = saved[1], saved[2]
        replayed = True
    else:
        gw.inflight.add(key)
        try:
            if args.process_time > 0:
                await asyncio.sleep(args.process_time)
            status, rbody = process(gw, path, params)
        finally:
            gw.inflight.discard(key)
        if key:
            gw.saved[key] = (fingerprint, status, rbody, gw.now())

    hdrs = {"Idempotent-Replayed": "true"} if replayed else {}
    if kind and n == 1 and kind in ("drop", "late", "malformed", "trickle"):
        gw.faults[kind] = gw.faults.get(kind, 0) + 1
        if kind == "drop":
            return False
        if kind == "late":
            await asyncio.sleep(args.late)
        elif kind == "malformed":
            await respond(writer, 200, rbody[: len(rbody) // 2], hdrs)
            return True
        elif kind == "trickle":
            await respond(writer, status, rbody, hdrs, trickle=True)
            return True
    await respond(writer, status, rbody, hdrs)
    return True


THREE_DECIMAL = ("bhd", "jod", "kwd", "omr", "tnd")


def process(gw, path, p):
    if path == "/webhook":
        settlement = p.get("settlement", "")
        cust = p.get("customer", "")
        if cust.startswith("cus_decline"):
            return 200, jbody({"status": "declined", "code": "insufficient_funds",
                               "message": "not enough salary left"})
        cid = gw.commit(settlement, "wh")
        return 200, jbody({"status": "succeeded", "id": cid})
    pi = path == "/v1/payment_intents"
    settlement = p.get("metadata[settlement]", "")
    for need in ("amount", "currency"):
        if need not in p:
            return stripe_error(400, "invalid_request_error",
                                "Missing required param: %s." % need,
                                "parameter_missing", param=need)
    if "payment_method" in p and not pi:
        return stripe_error(400, "invalid_request_error",
                            "Received unknown parameter: payment_method",
                            "parameter_unknown", param="payment_method")
    try:
        amount = int(p["amount"])
    except ValueError:
        return stripe_error(400, "invalid_request_error", "Invalid integer: %s"
                            % p["amount"], "parameter_invalid_integer",
                            param="amount")
    cur = p["currency"]
    if cur == "isk" and amount % 100:
        return stripe_error(400, "invalid_request_error",
                            "Invalid amount. Currency ISK has become effectively "
                            "zero-decimal and charged amounts must be evenly "
                            "divisible by 100.",
                            "invalid_charge_amount_no_decimal_compatible",
                            param="amount")
    if cur in THREE_DECIMAL and amount % 10:
        return stripe_error(400, "invalid_request_error",
                            "Invalid amount: the last digit of a %s amount must "
                            "be 0." % cur.upper(), "invalid_charge_amount",
                            param="amount")
    cust = p.get("customer", "")
    source = p.get("source", "")
    if pi and (p.get("confirm") != "true" or p.get("off_session") != "true"):
        return stripe_error(400, "invalid_request_error", "want confirm and off_session")
    if not source and not cust.startswith("cus_"):
        return stripe_error(400, "invalid_request_error",
                            "No such customer: '%s'" % cust, "resource_missing",
                            param="customer")
    if cust.startswith("cus_nocard"):
        return stripe_error(404, "card_error",
                            "Cannot charge a customer that has no active card",
                            "missing")
    if cust.startswith("cus_err500"):
        return stripe_error(500, "api_error", "An unknown error occurred")
    meta = {k[9:-1]: v for k, v in p.items() if k.startswith("metadata[")}
    base = {"amount": amount, "currency": cur, "customer": cust or None,
            "metadata": meta, "description": p.get("description")}
    if pi:
        base["payment_method"] = p.get("payment_method")
    if cust.startswith("cus_decline"):
        cid = gw.new_id("pi" if pi else "ch")
        if pi:
            o = gw.keep(dict(base, id=cid, object="payment_intent",
                             status="requires_payment_method",
                             last_payment_error={
                                 "code": "card_declined",
                                 "decline_code": "insufficient_funds",
                                 "message": "Your card has insufficient funds."}))
            return 200, jbody(public(o))
        gw.keep(dict(base, id=cid, object="charge", status="failed",
                     paid=False, failure_code="card_declined",
                     failure_message="Your card has insufficient funds."))
        return stripe_error(402, "card_error", "Your card has insufficient funds.",
                            "card_declined", decline_code="insufficient_funds",
                            charge=cid)
    if cust.startswith("cus_mismatch"):
        base["amount"], base["currency"] = 99900, "usd"
    cid = gw.commit(settlement, "pi" if pi else "ch")
    o = gw.keep(dict(base, id=cid, object="payment_intent" if pi else "charge",
                     status="succeeded"))
    if not pi:
        o["paid"] = True
    return 200, jbody(public(o))


async def main():
    ap = argparse.ArgumentParser(description="fault-injecting gateway double")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--faults", type=float, default=0.0)
    ap.add_argument("--only", default="", help="comma-separated fault kinds")
    ap.add_argument("--seed", default="ms")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--late", type=float, default=1.0)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--key", default="", help="Bearer key to demand")
    ap.add_argument("--key-file", default="", help="read --key from a file")
    ap.add_argument("--webhook-secret", default="")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--log", default="")
    ap.add_argument("--key-retention", type=float, default=86400.0,
                    help="seconds an idempotency key is kept (Stripe: 24 h)")
    ap.add_argument("--search-lag", type=float, default=0.0,
                    help="seconds before a new object shows in search")
    ap.add_argument("--process-time", type=float, default=0.0,
                    help="seconds a request holds its key")
    ap.add_argument("--rate-limit", type=float, default=0.0,
                    help="requests a second before 429 (Stripe: 100 live, 25 test)")
    ap.add_argument("--rate-burst", type=float, default=0.0,
                    help="the limiter's bucket (default: --rate-limit)")
    args = ap.parse_args()
    if args.key_file:
        with open(args.key_file) as f:
            args.key = f.read().strip()
    gw = Gateway(args)
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
    server = await asyncio.start_server(lambda r, w: handle(gw, r, w),
                                        "127.0.0.1", args.port, ssl=ctx,
                                        backlog=256)
    port = server.sockets[0].getsockname()[1]
    print("gwdouble: listening on 127.0.0.1:%d" % port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
