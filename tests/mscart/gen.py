#!/usr/bin/env python3
"""gen.py: test input for mscart.  Usage:
  gen.py setup USERS PRODUCTS          products and users (card = user number)
  gen.py takes ROBOT FIRST COUNT USERS PRODUCTS [SEED]   take events
  gen.py queries COUNT USERS           query lines
Prices are 100 + product number, so totals can be checked exactly."""
import json, random, sys

def card(u):
    return "iso14443a:%08X" % (0x10000000 + u)

def out(o):
    sys.stdout.write(json.dumps(o, separators=(",", ":")) + "\n")

what = sys.argv[1]
if what == "setup":
    users, products = int(sys.argv[2]), int(sys.argv[3])
    for p in range(products):
        out({"type": "product", "sku": "p%d" % p, "name": "Product %d" % p,
             "price": 100 + p, "currency": "EUR"})
    for u in range(users):
        out({"type": "user", "user": "u%d" % u, "name": "User %d" % u,
             "cards": [card(u)], "currency": "EUR"})
elif what == "takes":
    robot, first, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    users, products = int(sys.argv[5]), int(sys.argv[6])
    rnd = random.Random(int(sys.argv[7]) if len(sys.argv) > 7 else 1)
    total = 0
    for s in range(first, first + count):
        p = rnd.randrange(products)
        total += 100 + p
        out({"type": "take", "ts": "2026-11-28T10:00:00.000Z", "robot": robot,
             "seq": s, "slot": "A1", "sku": "p%d" % p,
             "card": card(rnd.randrange(users))})
    sys.stderr.write("%d\n" % total)
elif what == "queries":
    count, users = int(sys.argv[2]), int(sys.argv[3])
    for i in range(count):
        out({"type": "query", "id": "q%d" % i, "user": "u%d" % (i % users)})
