"""acked.py TYPE N: exit 0 once N distinct events of TYPE have been
acknowledged in the ack lines on stdin.  Distinct "robot:seq" ids, so an
ack repeated as "duplicate" after a cut link counts once."""
import json
import sys

want_type, want = sys.argv[1], int(sys.argv[2])
seen = set()
while True:
    line = sys.stdin.readline()
    if not line:
        sys.exit(1)
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("type") == "ack" and m.get("of") == want_type and m.get("event"):
        seen.add(m["event"])
        if len(seen) >= want:
            sys.exit(0)
