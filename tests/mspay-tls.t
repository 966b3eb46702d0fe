#!/bin/sh
# mspay over TLS: a private CA via --cacert; the same server is refused
# without it.  The CA and the server certificate are made here with the
# openssl command.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"

command -v openssl >/dev/null || skip_all "no openssl command"
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

done_testing
