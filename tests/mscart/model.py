#!/usr/bin/env python3
"""model.py: an independent model of the ledger, from mscart(1) and
ms-events(5) alone, for tests to compare the ledger with.

Usage: model.py [-u USER] [-a] [-c FILE]... FILE...

Reads every FILE (-c files first) as one stream of messages in the order
the ledger applies them: product and user records, robot events, and
"pay" (the user's unpaid lines and the credits that keep the total at or
above zero, oldest first, become settling) and "paid" ({"type":"paid",
"user":U}: the user's settling lines become paid), which stand for a
settlement and its success.  Prints the cart of USER (default: the first
user) as "ITEMS TOTAL": the lines a cart lists (unpaid, settling,
credit, held) and their sum, or "overflow" when the sum is beyond
999999999999999.  With -a, prints one line per cart line instead:
"ID STATE PRICE SKU".

Documented rules it follows:
  - an event is applied once per robot:seq;
  - a take records a line at the catalogue's price; of a product the
    catalogue does not have yet it is held (price 0) until a product
    record names it, which prices it (unpaid);
  - a take by an unknown card belongs to the card until a user record
    enrolls it; a take without a card goes to review;
  - a return matches the owner's takes of the same robot, slot and sku
    taken no later than the return and at most RETURN_WINDOW before it;
    of those, the newest applied unpaid or held one is voided, else the
    newest applied paid or settling one not yet credited gets a credit;
    a return that matches nothing changes no line (it goes to review).
"""
import json, sys

AMOUNT_MAX = 999999999999999
RETURN_WINDOW_MS = 3600 * 1000

def ts_ms(s):
    from datetime import datetime, timezone
    s = s.rstrip("Z")
    if "." in s:
        base, frac = s.split(".")
        frac = (frac + "000")[:3]
    else:
        base, frac = s, "000"
    d = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 1000 + int(frac)

class Ledger:
    def __init__(self):
        self.products = {}
        self.cards = {}
        self.users = []
        self.lines = []          # in order of application
        self.seen = set()
        self.takes = {}          # (sku, robot, slot) -> indexes of takes

    def owner(self, card):
        if card is None:
            return "r:"
        if card in self.cards:
            return "u:" + self.cards[card]
        return "c:" + card

    def apply(self, m):
        t = m["type"]
        if t == "product":
            self.products[m["sku"]] = m
            for l in self.lines:
                if l["state"] == "held" and l["sku"] == m["sku"]:
                    l["state"] = "unpaid"
                    l["price"] = m["price"]
                    l["currency"] = m["currency"]
            return
        if t == "user":
            if m["user"] not in self.users:
                self.users.append(m["user"])
            for c in m.get("cards", []):
                self.cards[c] = m["user"]
                for l in self.lines:
                    if l["owner"] == "c:" + c:
                        l["owner"] = "u:" + m["user"]
            return
        if t == "pay":
            self.pay(m["user"])
            return
        if t == "paid":
            for l in self.lines:
                if l["owner"] == "u:" + m["user"] and l["state"] == "settling":
                    l["state"] = "paid"
            return
        if "robot" in m:
            key = (m["robot"], m["seq"])
            if key in self.seen:
                return
            self.seen.add(key)
        if t == "take":
            p = self.products.get(m["sku"])
            self.takes.setdefault((m["sku"], m.get("robot"), m["slot"]),
                                  []).append(len(self.lines))
            self.lines.append({
                "id": len(self.lines) + 1, "owner": self.owner(m.get("card")),
                "sku": m["sku"], "robot": m.get("robot"), "slot": m["slot"],
                "ts": ts_ms(m["ts"]), "credited": False,
                "state": "unpaid" if p else "held",
                "price": p["price"] if p else 0,
                "currency": p["currency"] if p else None})
        elif t == "return":
            self.ret(m)

    def ret(self, m):
        owner, when = self.owner(m.get("card")), ts_ms(m["ts"])
        key = (m["sku"], m.get("robot"), m["slot"])
        def cands():    # newest applied first
            for i in reversed(self.takes.get(key, ())):
                l = self.lines[i]
                if (l["owner"] == owner and
                        l["ts"] <= when <= l["ts"] + RETURN_WINDOW_MS):
                    yield l
        for l in cands():
            if l["state"] in ("unpaid", "held"):
                l["state"] = "void"
                return
        for l in cands():
            if l["state"] in ("paid", "settling") and not l["credited"]:
                l["credited"] = True
                self.lines.append({
                    "id": len(self.lines) + 1, "owner": owner,
                    "sku": l["sku"], "robot": m.get("robot"),
                    "slot": m["slot"], "ts": when, "credited": False,
                    "state": "credit", "price": -l["price"],
                    "currency": l["currency"]})
                return

    def pay(self, user):
        mine = [l for l in self.lines if l["owner"] == "u:" + user]
        unpaid = [l for l in mine if l["state"] == "unpaid"]
        total = sum(l["price"] for l in unpaid)
        for l in unpaid:
            l["state"] = "settling"
        for l in mine:
            if l["state"] == "credit" and total + l["price"] >= 0:
                total += l["price"]
                l["state"] = "settling"

    def cart(self, user):
        return [l for l in self.lines if l["owner"] == "u:" + user and
                l["state"] in ("unpaid", "settling", "credit", "held")]

def main(argv):
    user, every, files = None, False, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-u":
            user = argv[i + 1]; i += 2
        elif a == "-a":
            every = True; i += 1
        elif a == "-c":
            files.insert(sum(1 for f in files if f[0]), (True, argv[i + 1])); i += 2
        else:
            files.append((False, a)); i += 1
    led = Ledger()
    for _, f in files:
        with open(f) as fh:
            for line in fh:
                if line.strip():
                    led.apply(json.loads(line))
    user = user or led.users[0]
    if every:
        for l in led.lines:
            if l["owner"] == "u:" + user:
                print(l["id"], l["state"], l["price"], l["sku"])
        return
    items = led.cart(user)
    total = sum(l["price"] for l in items)
    print(len(items), total if abs(total) <= AMOUNT_MAX else "overflow")

main(sys.argv[1:])
