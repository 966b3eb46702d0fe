#!/bin/sh
# mspay over TLS: a private CA via --cacert; the same server is refused
# without it.  The CA and the server certificate are made here with the
# openssl command.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

command -v openssl >/dev/null || missing "the openssl command (make deps installs it)"
export MSPAY_KEY=sk_test_tls_0123456789

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=ms test CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
    -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out srv.pem -days 2 -extfile ext 2>/dev/null
ok $? "made a CA and a server certificate"

GW_CACERT=$T/ca.pem
gwdouble_start --tls srv.pem srv.key --key "$MSPAY_KEY" || exit 1
printf '{"type":"charge","settlement":"t1","user":"ann","customer":"cus_1","amount":250,"currency":"EUR","key":"k-t1"}\n' >in

run -i in mspay -g stripe -u "$GW_URL"
is "$RC" 1 "without --cacert: exit 1"
is "$(printf '%s\n' "$OUT" | jget status)/$(printf '%s\n' "$OUT" | jget code)" "failed/tls" \
    "without --cacert: failed, code tls (nothing was sent)"
like "$(printf '%s\n' "$OUT" | jget message)" "certificate" "without --cacert: says it is the certificate"
is "$(gwdouble_stats | jget requests)" 0 "without --cacert: no request reached the server"

run -i in mspay -g stripe -u "$GW_URL" --cacert nosuch.pem
is "$RC/$OUT" "1/" "--cacert with a missing file: exit 1 before any charge"
like "$ERR" "^mspay: --cacert: nosuch.pem: No such file" "--cacert with a missing file: says so"

run -i in mspay -g stripe -u "$GW_URL" --cacert ca.pem
is "$RC" 0 "with --cacert: exit 0"
is "$(printf '%s\n' "$OUT" | jget status)" succeeded "with --cacert: succeeded"
like "$(printf '%s\n' "$OUT" | jget gateway_id)" "^ch_" "with --cacert: the charge id"

# the host name is checked too: a certificate from the same CA for
# another name is refused
openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr \
    -subj "/CN=other.example" 2>/dev/null
printf 'subjectAltName=DNS:other.example\n' >ext2
openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out other.pem -days 2 -extfile ext2 2>/dev/null
gwdouble_start --tls other.pem other.key --key "$MSPAY_KEY" || exit 1
run -i in mspay -g stripe -u "$GW_URL" --cacert ca.pem
is "$RC/$(printf '%s\n' "$OUT" | jget status)" "1/failed" "a certificate for another name: refused"

# HTTP/2 where the server offers it: many charges as streams of one
# connection (node's http2 module plays a Stripe-like server)
if command -v node >/dev/null 2>&1; then
	cat >h2.js <<'JS'
const http2 = require("http2"), fs = require("fs");
const srv = http2.createSecureServer({ key: fs.readFileSync("srv.key"),
    cert: fs.readFileSync("srv.pem") });
let sessions = 0, streams = 0, maxOpen = 0, open = 0;
srv.on("session", () => sessions++);
srv.on("stream", (st, h) => {
	if (h[":path"] === "/_stats") {
		st.respond({ ":status": 200 });
		st.end(JSON.stringify({ sessions, streams, maxOpen }));
		return;
	}
	open++; maxOpen = Math.max(maxOpen, open);
	let body = "";
	st.on("data", (d) => { body += d; });
	st.on("end", () => setTimeout(() => {
		const p = new URLSearchParams(body);
		streams++; open--;
		st.respond({ ":status": 200, "content-type": "application/json" });
		st.end(JSON.stringify({ id: "ch_h2_" + streams, object: "charge",
		    amount: +p.get("amount"), currency: p.get("currency"),
		    status: "succeeded" }));
	}, 20));
});
srv.listen(0, "127.0.0.1", () =>
    console.log("h2: listening on 127.0.0.1:" + srv.address().port));
JS
	bg node h2.js >h2.out 2>h2.err
	wait_line h2.out listening
	h2port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)$/\1/p' h2.out)
	i=0
	while [ $i -lt 40 ]; do
		printf '{"type":"charge","settlement":"h%d","user":"ann","customer":"cus_1","amount":250,"currency":"EUR","key":"k-h%d"}\n' $i $i
		i=$((i + 1))
	done >h2.in
	run -i h2.in mspay -g stripe -u "https://127.0.0.1:$h2port" --cacert ca.pem -P 8
	is "$RC/$(printf '%s\n' "$OUT" | grep -c '"succeeded"')" "0/40" "HTTP/2: 40 charges succeeded"
	curl -s --cacert ca.pem "https://127.0.0.1:$h2port/_stats" >h2.stats
	# (the stats request is a session of its own)
	is "$(jget sessions <h2.stats)" 2 "HTTP/2: all of them over one connection"
	is "$(( $(jget maxOpen <h2.stats) > 1 ))" 1 "HTTP/2: several streams at once"
else
	ok 1 "missing: node, for the HTTP/2 server (make deps installs it)"
fi

done_testing
