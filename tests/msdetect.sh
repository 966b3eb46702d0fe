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

# --- both libgpiod APIs.  bin/msdetect is built against this machine's
# libgpiod (GPIOD_VERSION in $MS_BUILD/config.mk); make check builds the
# other API's msdetect as $MS_BUILD/gpiod-vN/msdetect, and a fake libgpiod
# for each API (tests/fakegpiod.c, tests/fakegpiod2.c) as
# $MS_BUILD/fakegpiod-vN.so.  Every msdetect test runs once per API.
GPIOD_APIS="1 2"

gpiod_machine_api() {
	case $(sed -n 's/^GPIOD_VERSION := *//p' "$MS_BUILD/config.mk" 2>/dev/null) in
	1.*) echo 1 ;;
	"") missing "$MS_BUILD/config.mk with GPIOD_VERSION (make builds it)" ;;
	*) echo 2 ;;
	esac
}

# msdetect_bin N: the msdetect built against libgpiod API N.
msdetect_bin() {
	if [ "$1" = "$(gpiod_machine_api)" ]; then
		echo "$MS_BIN/msdetect"
	else
		echo "$MS_BUILD/gpiod-v$1/msdetect"
	fi
}

# msdetect_need_apis: fail the test, before it has said anything, unless
# msdetect and the fake are built for both APIs.
msdetect_need_apis() {
	for _a in $GPIOD_APIS; do
		[ -x "$(msdetect_bin "$_a")" ] || missing "$(msdetect_bin "$_a")" \
		    "(msdetect for the libgpiod v$_a API: make check builds it once" \
		    "make deps has unpacked the other libgpiod into build/gpiod-other)"
		need_preload "$MS_BUILD/fakegpiod-v$_a.so"
	done
}

# msdetect_api N: run what follows against API N: msdetect first in PATH,
# FAKE the fake libgpiod for it, a fresh work directory, and every test
# description starting "vN: ".
msdetect_api() {
	API=$1
	FAKE=$MS_BUILD/fakegpiod-v$1.so
	PATH=$(dirname "$(msdetect_bin "$1")"):$_msdetect_path
	API_TAG="v$1: "
	mkdir -p "$T/v$1" && cd "$T/v$1" || exit 1
}
_msdetect_path=$PATH

# lib.sh's ok, with the API in each description.
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_tap_n - ${API_TAG:-}$2"
	else
		echo "not ok $_tap_n - ${API_TAG:-}$2"
		_tap_failed=$((_tap_failed + 1))
	fi
}
