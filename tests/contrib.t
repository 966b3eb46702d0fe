#!/bin/sh
# contrib/ as the package installs it, tested without booting systemd:
# make install and the package's extra files in a root ($R), every unit
# clean for systemd-analyze verify there, the users and directories of
# sysusers.d and tmpfiles.d made there, and the units' commands run as
# systemd would run them (the words of ExecStart=, the environment of
# Environment=), with / moved to $R: the settlement for the payroll and
# the Stripe deployment of ms.conf.example, the robot's pipeline and its
# reload, push over ssh with the server's key in known_hosts, the kiosk
# socket's role, and the failure notifier.
. "$(dirname "$0")/lib.sh"
. "$MS_TOP/tests/gwdouble.sh"
. "$MS_TOP/tests/sshd.sh"

for t in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	command -v $t >/dev/null 2>&1 || missing "$t (make deps installs systemd)"
done
R=$T/root
# the sessions unit_run started with UNIT_PIDFILE go too, whatever happens
trap 'for f in "$T"/push*.pid; do [ -s "$f" ] && /bin/kill -s TERM -- "-$(cat "$f")" 2>/dev/null; done; _tap_cleanup' EXIT
C=$MS_TOP/contrib
UNITS=$R/usr/lib/systemd/system

# --- the root: make install, then what debian/rules adds
run make -C "$MS_TOP" -s install DESTDIR="$R" PREFIX=/usr
is "$RC" 0 "make install DESTDIR PREFIX=/usr exits 0"
mkdir -p "$UNITS" "$R/usr/lib/sysusers.d" "$R/usr/lib/tmpfiles.d" "$R/etc" "$R/run"
cp "$C"/*.service "$C"/*.socket "$C"/*.timer "$UNITS"/
cp "$C/ms.sysusers" "$R/usr/lib/sysusers.d/ms.conf"
cp "$C/ms.tmpfiles" "$R/usr/lib/tmpfiles.d/ms.conf"
# what systemd-analyze needs of the system: a shell, and the targets
mkdir -p "$R/usr/bin" && cp /bin/bash /bin/dash "$R/usr/bin/" &&
    ln -s dash "$R/usr/bin/sh" && ln -s usr/bin "$R/bin"
cp /lib/systemd/system/*.target "$UNITS"/
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$R/etc/passwd"
printf 'root:x:0:\ndialout:x:20:\n' >"$R/etc/group"

# --- the units as shipped
n=0
for u in "$C"/*.service "$C"/*.socket "$C"/*.timer; do
	n=$((n + 1))
	u=${u##*/}
	run systemd-analyze verify --man=no --root="$R" "$UNITS/$u"
	is "$RC:$ERR" "0:" "systemd-analyze verify $u (its programs are in the root)"
	run grep -n '^[^#]*/usr/local' "$C/$u"
	is "$OUT" "" "$u names nothing under /usr/local"
	for f in $(python3 "$MS_TOP/tests/unit.py" "$C/$u" get OnFailure); do
		f=$(printf '%s\n' "$f" | sed 's/@%n\.service$/@.service/')
		[ -f "$UNITS/$f" ]
		ok $? "$u: its OnFailure= unit $f is shipped"
	done
done
[ "$n" -ge 8 ]
ok $? "all $n units checked"
for u in ms-settle.service ms-settle-now.service ms-robot.service ms-push.service; do
	is "$(python3 "$MS_TOP/tests/unit.py" "$C/$u" get OnFailure)" "ms-notify@%n.service" \
	    "$u: OnFailure=ms-notify@%n.service"
done
for u in ms-settle.service ms-settle-now.service mscart-serve@.service ms-notify@.service; do
	is "$(python3 "$MS_TOP/tests/unit.py" "$C/$u" get User)" ms "$u runs as ms"
done
for u in ms-robot.service ms-push.service; do
	is "$(python3 "$MS_TOP/tests/unit.py" "$C/$u" get User)" ms-robot "$u runs as ms-robot"
done
is "$(python3 "$MS_TOP/tests/unit.py" "$C/ms-settle.service" get WorkingDirectory)" /var/lib/ms \
    "ms-settle.service works in /var/lib/ms"

# --- users and directories
run systemd-sysusers --root="$R"
is "$RC" 0 "systemd-sysusers --root makes the users"
uid() { awk -F: -v u="$1" '$1 == u { print $3 }' "$R/etc/passwd"; }
gid() { awk -F: -v g="$1" '$1 == g { print $3 }' "$R/etc/group"; }
members() { awk -F: -v g="$1" '$1 == g { print $4 }' "$R/etc/group"; }
[ -n "$(uid ms)" ] && [ -n "$(uid ms-robot)" ] && [ "$(uid ms)" != "$(uid ms-robot)" ]
ok $? "users ms and ms-robot, not the same"
is "$(awk -F: '$1 == "ms-robot" { print $6 ":" $7 }' "$R/etc/passwd")" \
    "/var/lib/ms/robot:/usr/sbin/nologin" "ms-robot: home its outbox, no login shell"
is "$(members dialout)/$(members gpio)/$(members ms)" "ms-robot/ms-robot/ms-robot" \
    "ms-robot is in dialout (reader), gpio (sensors) and ms (/etc/ms)"
is "$(gid dialout)" 20 "an existing group is kept"
run systemd-tmpfiles --root="$R" --create ms.conf
is "$RC" 0 "systemd-tmpfiles --root --create"
is "$(stat -c '%u:%g %a' "$R/var/lib/ms")" "$(uid ms):$(gid ms) 750" "/var/lib/ms is ms:ms 0750"
is "$(stat -c '%u:%g %a' "$R/etc/ms")" "0:$(gid ms) 750" "/etc/ms is root:ms 0750"

# --- running a unit's command: its words with / moved to $R
map() {
	printf '%s\n' "$1" | sed "s#/etc/ms#$R/etc/ms#g; s#/var/lib/ms#$R/var/lib/ms#g;
	    s#/usr/bin#$R/usr/bin#g; s#/usr/libexec#$R/usr/libexec#g; s#/run/#$R/run/#g"
}
# unit_env UNIT: the unit's Environment=, mapped, one NAME=VALUE a line
unit_env() {
	python3 "$MS_TOP/tests/unit.py" "$1" env | while IFS= read -r e; do map "$e"; done
}
# unit_run UNIT KEY [NAME=VALUE...]: run KEY= of UNIT as systemd would,
# / moved to $R: a clean environment, the unit's Environment= then the
# arguments; stdin, stdout and stderr are the caller's.
unit_run() {
	_u=$1 _k=$2
	_f=$T/.unit.${_u##*/}.$_k
	shift 2
	python3 "$MS_TOP/tests/unit.py" "$_u" exec "$_k" >"$_f.words" || return 125
	unit_env "$_u" >"$_f.env"
	: >"$_f.args"
	for _a; do printf '%s\n' "$_a" >>"$_f.args"; done
	set -- env -i HOME="$T" LC_ALL=C
	while IFS= read -r _e; do set -- "$@" "$_e"; done <"$_f.env"
	while IFS= read -r _e; do set -- "$@" "$_e"; done <"$_f.args"
	while IFS= read -r _w; do set -- "$@" "$(map "$_w")"; done <"$_f.words"
	if [ -n "${UNIT_PIDFILE:-}" ]; then
		# its own session, so that the test can stop all of it
		setsid sh -c 'echo $$ >"$0"; exec "$@"' "$UNIT_PIDFILE" "$@"
	else
		"$@"
	fi
}
stop_group() {	# stop_group PIDFILE: SIGTERM to the session it names
	[ -s "$1" ] && /bin/kill -s TERM -- "-$(cat "$1")"
	ok $? "${1##*/}: stopped"
}
ev() {	# ev ROBOT SEQ TYPE FIELDS: a recorded event, for the ledger
	printf '{"type":"%s","ts":"2026-11-28T10:00:%02d.000Z","robot":"%s","seq":%d%s}\n' \
	    "$3" "$2" "$1" "$2" "$4"
}

# --- the settlement, payroll deployment: ms.conf.example as shipped
CONF=$R/etc/ms/ms.conf
map "$(cat "$C/ms.conf.example")" >"$CONF"
export MS_CONF="$CONF"
ledger() {	# a new ledger where ms.conf says: cola 1.50, alice took two
	rm -rf "$R/var/lib/ms/server"
	mscart init >/dev/null &&
	{ printf '{"type":"product","sku":"cola","name":"Cola","price":150,"currency":"EUR"}\n'
	  printf '{"type":"user","user":"alice","name":"Alice","cards":["line:alice"],"currency":"EUR","payment":"cus_alice"}\n'
	  ev r1 1 take ',"slot":"A1","sku":"cola","card":"line:alice"'
	  ev r1 2 take ',"slot":"A1","sku":"cola","card":"line:alice"'
	} | mscart apply >/dev/null
}
ledger
ok $? "a ledger where ms.conf.example says, made by mscart init"
[ -d "$R/var/lib/ms/server" ]
ok $? "ms.conf.example's ledger is /var/lib/ms/server"
wd=$(map "$(python3 "$MS_TOP/tests/unit.py" "$C/ms-settle.service" get WorkingDirectory)")
settle() {	# settle UNIT: its ExecStart in its WorkingDirectory, ms.conf moved
	(cd "$wd" && unit_run "$C/$1" ExecStart MS_CONF="$CONF")
}
run settle ms-settle.service
is "$RC" 0 "payroll: the settle unit's command exits 0"
[ "$RC" = 0 ] || diag "$ERR"
month=$(TZ=Europe/Berlin date +%Y-%m)
run python3 -c 'import csv,sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(" ".join("%s:%s:%s" % (r["user"], r["amount"], r["currency"]) for r in rows))' \
    "$R/var/lib/ms/payroll-$month.csv"
is "$OUT" "alice:300:EUR" "payroll: this month's file holds Alice's two colas, 300 EUR cents"
is "$(mscart list settlements | jget state)" paid "payroll: the settlement is paid in the ledger"
run settle ms-settle.service
is "$RC:$(mscart list settlements | wc -l | tr -d ' ')" "0:1" "payroll: a second run finds nothing more to settle"

# --- the Stripe deployment: the lines ms.conf.example says to swap
KEY=sk_test_contrib_0123456789
gwdouble_start --key "$KEY" --log "$T/gw.log" || exit 1
sed -i "s/^gateway = ledger/#&/; s/^payroll = /#&/; s/^#gateway = stripe/gateway = stripe/;
    s/^#key = /key = /; s|^#url = .*|url = $GW_URL|" "$CONF"
grep -q "^key = $R/etc/ms/stripe.key\$" "$CONF"
ok $? "stripe: ms.conf's key is /etc/ms/stripe.key"
ledger
printf '%s\n' "$KEY" >"$R/etc/ms/stripe.key"
chmod 640 "$R/etc/ms/stripe.key"
run settle ms-settle.service
is "$RC" 1 "stripe: a key file its group may read: the run fails"
like "$ERR" "stripe.key: readable by group or others" "and says why"
is "$(gwdouble_stats | python3 -c 'import json,sys; print(sum(len(v) for v in json.load(sys.stdin)["charges"].values()))')" \
    0 "and charges nothing"
chmod 600 "$R/etc/ms/stripe.key"
run settle ms-settle.service
is "$RC" 0 "stripe: the settle unit's command exits 0"
[ "$RC" = 0 ] || diag "$ERR"
s=$(mscart list settlements | jget settlement)
is "$(gwdouble_charges "$s")" 1 "stripe: the double charged settlement $s once"
is "$(python3 -c 'import json,sys,urllib.parse
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("method") == "POST" and r.get("body"):
        print(urllib.parse.parse_qs(r["body"]).get("amount", ["-"])[0])' gw.log | sort -u)" \
    300 "stripe: for 300 cents"
is "$(mscart list settlements | jget state)" paid "stripe: the settlement is paid in the ledger"

# --- the monthly archive: where ms.conf says, into its own directory
is "$(python3 "$MS_TOP/tests/unit.py" "$C/ms-archive.service" get StateDirectory)" "ms ms/archive" \
    "archive: systemd makes /var/lib/ms/archive for it"
mkdir -p "$R/var/lib/ms/archive"
run unit_run "$C/ms-archive.service" ExecStart MS_CONF="$CONF"
like "$RC:$ERR" "^0:mscart: archive: nothing settled before 20" \
    "archive: the unit's command finds nothing a year old in this ledger, exits 0"
is "$(ls "$R/var/lib/ms/archive")" "" "archive: and writes no file"
is "$(python3 "$MS_TOP/tests/unit.py" "$C/ms-archive.service" get SuccessExitStatus)" 75 \
    "archive: a client's refusal (75) is no failure, one timer serves every site"

# --- the kiosk socket: one connection, the role the unit gives it
printf '%s\n' '{"type":"query","card":"line:alice"}' \
    '{"type":"product","sku":"gum","name":"Gum","price":50,"currency":"EUR"}' >kiosk.in
run -i kiosk.in unit_run "$C/mscart-serve@.service" ExecStart MS_CONF="$CONF"
is "$RC" 0 "serve@: the connection's command exits 0"
is "$(printf '%s\n' "$OUT" | sed -n 1p | jget type)/$(printf '%s\n' "$OUT" | sed -n 1p | jget user)" \
    cart/alice "serve@: the kiosk asks for the cart of whoever taps their card"
is "$(printf '%s\n' "$OUT" | sed -n 2p | jget code)" forbidden "serve@: but may not change the catalogue"
run -i kiosk.in unit_run "$C/mscart-serve@.service" ExecStart MS_CONF="$CONF" ROLE=admin
is "$RC:$OUT" "2:" "serve@: ROLE=admin is refused, nothing answered"
like "$ERR" "ROLE=admin refused" "serve@: saying so"

# --- the robot's pipeline, msid and msdetect stood in for by scripts
# (the real ones need a reader and GPIO; their own tests have emulators),
# mscart record the real one
unset MS_CONF
S=$T/stub
mkdir -p "$S" "$R/run/ms-robot" "$R/var/lib/ms/robot"
mkfifo "$T/reader"
cat >"$S/msid" <<STUB
#!/bin/sh
echo "\$*" >"$T/msid.args"
echo \$\$ >"$T/msid.pid"
exec cat "$T/reader"
STUB
cat >"$S/msdetect" <<STUB
#!/bin/bash
echo "\$*" >"$T/msdetect.args"
echo \$\$ >"$T/msdetect.self"
trap 'echo hup >>"$T/msdetect.signals"' HUP
while :; do
	IFS= read -r l && printf '%s\n' "\$l" || [ \$? -gt 128 ] || break
done
STUB
chmod 755 "$S/msid" "$S/msdetect"
: >robot.out
spawn /dev/null robot.out robot.err unit_run "$C/ms-robot.service" ExecStart \
    PATH="$S:$R/usr/bin:/bin" RUNTIME_DIRECTORY="$R/run/ms-robot"
robot=$BG_PID
exec 7>"$T/reader"
id1='{"type":"identify","ts":"2026-11-28T10:00:00.000Z","card":"line:alice"}'
printf '%s\n' "$id1" >&7
wait_line robot.out '"robot":"r7","seq":1'
ok $? "robot: an identify goes through msdetect into the outbox as r7:1"
is "$(cat "$T/msid.args")" "-H 0.5 -d pn532_uart:/dev/ttyUSB0" "robot: msid gets READER"
is "$(cat "$T/msdetect.args")" "-c $R/etc/ms/planogram" "robot: msdetect gets /etc/ms/planogram"
is "$(cat "$R/run/ms-robot/msdetect.pid" 2>/dev/null)" "$(cat "$T/msdetect.self")" \
    "robot: the pid file names msdetect itself"
run unit_run "$C/ms-robot.service" ExecReload RUNTIME_DIRECTORY="$R/run/ms-robot"
is "$RC" 0 "robot: ExecReload exits 0"
wait_line "$T/msdetect.signals" hup 10
ok $? "robot: ExecReload sends msdetect SIGHUP (it loads the planogram again)"
kill -0 "$(cat "$T/msid.pid")" 2>/dev/null
ok $? "robot: msid still runs"
printf '%s\n' "$id1" | sed 's/10:00:00/10:00:05/' >&7
wait_line robot.out '"robot":"r7","seq":2'
ok $? "robot: and the pipeline goes on: the next event is r7:2"
exec 7>&-
wait "$robot"
is "$?" 0 "robot: at the reader's end the pipeline ends, exit 0"
is "$(cat robot.err)" "" "robot: nothing on stderr"

# --- push: ssh trusts only the host key in /etc/ms/known_hosts
mscart init -d "$T/server" >/dev/null
sshd_key robot "$MS_BIN/mscart serve --role robot:r7 -d $T/server"
sshd_start || { fail "sshd starts"; done_testing; exit 1; }
install -m 600 "$T/sshd/robot" "$R/etc/ms/robot_key"
: >"$R/etc/ms/known_hosts"
server=ssh://$SSHD_USER@127.0.0.1:$SSHD_PORT
: >push1.err
UNIT_PIDFILE=$T/push1.pid
spawn /dev/null push1.out push1.err \
    unit_run "$C/ms-push.service" ExecStart SERVER="$server"
UNIT_PIDFILE=
wait_line push1.err 'offline|link down'
ok $? "push: with the server's key not in known_hosts the link is down"
like "$(cat push1.err)" "Host key verification failed" "push: ssh refused the unknown host key"
is "$(mscart list robots -d "$T/server")" "" "push: the server got nothing"
stop_group "$T/push1.pid"
ssh-keyscan -p "$SSHD_PORT" -t ed25519 127.0.0.1 2>/dev/null >"$R/etc/ms/known_hosts"
is "$(ssh-keygen -lf "$R/etc/ms/known_hosts" | cut -d' ' -f2)" "$(ssh-keygen -lf "$T/sshd/host_ed25519.pub" | cut -d' ' -f2)" \
    "push: the scanned key's fingerprint is the server's"
: >push2.err
UNIT_PIDFILE=$T/push2.pid
spawn /dev/null push2.out push2.err \
    unit_run "$C/ms-push.service" ExecStart SERVER="$server"
UNIT_PIDFILE=
wait_line push2.err 'up to date at r7:2'
ok $? "push: with the key in known_hosts the outbox is delivered"
is "$(mscart list robots -d "$T/server" | jget events)" 2 "push: the server applied r7's two events"
stop_group "$T/push2.pid"

# --- the notifier: the journal always, mail when set up
N=$T/nstub
mkdir -p "$N"
cat >"$N/systemctl" <<'STUB'
#!/bin/sh
[ "$1 $2 $3 $5" = "show -P Result ms-settle.service" ] && echo exit-code
STUB
cat >"$N/journalctl" <<'STUB'
#!/bin/sh
echo "2026-11-29T02:15:03+0100 server bash[7]: mspay: no key"
echo "2026-11-29T02:15:03+0100 server systemd[1]: ms-settle.service: Failed"
STUB
cat >"$N/logger" <<STUB
#!/bin/sh
echo "\$*" >"$T/logger.args"
cat >>"$T/logged"
STUB
cat >"$N/sendmail" <<STUB
#!/bin/sh
echo "\$*" >"$T/sendmail.args"
cat >"$T/mail"
exit \${SENDMAIL_STATUS:-0}
STUB
chmod 755 "$N"/*
notify() {
	UNIT_INSTANCE=ms-settle.service
	export UNIT_INSTANCE
	unit_run "$C/ms-notify@.service" ExecStart \
	    PATH="$N:$R/usr/bin:/bin" "$@"
}
run notify
is "$RC:$ERR" "0:" "notify: exits 0, quietly"
is "$(cat "$T/logger.args")" "-t ms-notify -p daemon.err" "notify: to the journal, tag ms-notify, priority err"
is "$(sed -n 1p "$T/logged")" "ms-settle.service failed on $(uname -n) (result: exit-code)" \
    "notify: which unit failed, where and how"
is "$(sed -n 3p "$T/logged")" "  2026-11-29T02:15:03+0100 server systemd[1]: ms-settle.service: Failed" \
    "notify: with its last journal lines"
[ ! -e "$T/mail" ]
ok $? "notify: no mail unless MS_NOTIFY_MAILTO says where"
run notify MS_NOTIFY_MAILTO=office@example.com MS_NOTIFY_SENDMAIL="$N/sendmail"
is "$RC" 0 "notify with mail: exits 0"
is "$(cat "$T/sendmail.args")" "-t" "notify: sendmail -t"
is "$(sed -n '1,2p' "$T/mail" | tr '\n' '|')" \
    "To: office@example.com|Subject: [ms] ms-settle.service failed on $(uname -n) (result: exit-code)|" \
    "notify: the mail's To and Subject"
like "$(cat "$T/mail")" "mspay: no key" "notify: the mail has the journal lines"
rm -f "$T/logged"
run notify MS_NOTIFY_MAILTO=office@example.com MS_NOTIFY_SENDMAIL="$N/sendmail" SENDMAIL_STATUS=1
is "$RC" 1 "notify: a failed sendmail: exit 1"
like "$ERR" "^ms-notify: .*sendmail failed: no mail to office@example.com" "notify: saying so"
like "$(cat "$T/logged")" "ms-settle.service failed" "notify: the journal has it all the same"
run "$R/usr/libexec/ms/ms-notify"
is "$RC" 2 "ms-notify without a unit: usage, exit 2"
done_testing
