# tests/msdetect.sh: what the msdetect tests share.  Source after lib.sh.

# summ: one short line per event, for exact comparison (ts left out);
# our own events are checked against the wire format (src/lib/msg.c)
summ() {
	python3 -c 'import json,sys,re
want={"take":({"type","ts","slot","sku"},{"card"}),
    "return":({"type","ts","slot","sku"},{"card"}),
    "door":({"type","ts","state"},set()),
    "alarm":({"type","ts","reason"},{"slot","sku","card","message"}),
    "session-end":({"type","ts","card","takes","returns"},{"reason"})}
for l in sys.stdin:
    o=json.loads(l); f=[o["type"]]
    if o["type"] in want:
        req,opt=want[o["type"]]
        if not (req <= set(o) <= req|opt) or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]) or \
            json.dumps(o,separators=(",",":"),ensure_ascii=False) != l.strip():
            f.insert(0,"INVALID")
    for k in ("slot","sku","state","card","reason","takes","returns"):
        if k in o: f.append("%s=%s"%(k,o[k]))
    print(" ".join(f))'
}
