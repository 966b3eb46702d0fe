# tests/sshd.sh: a throwaway OpenSSH server for tests, on 127.0.0.1.
# Source it after tests/lib.sh (it uses $T, bg, wait_line, free_port,
# missing).  Everything lives in $T/sshd; sshd is stopped with the test.
#
#   sshd_start
#	Makes a host key and a config (StrictModes no, UsePAM no, keys only,
#	AuthorizedKeysFile $T/sshd/authorized_keys), starts
#	"/usr/sbin/sshd -D -e" on a free port and waits for its
#	"Server listening" line.  Sets SSHD_PORT, SSHD_PID, SSHD_LOG.
#	After sshd_stop, sshd_start brings it back on the same port.
#	Skips the whole test (missing) when sshd or ssh is missing.
#   sshd_key NAME 'FORCED COMMAND'
#	Makes a client key $T/sshd/NAME (no passphrase) and authorizes it
#	with command="FORCED COMMAND",restrict.  May be called before or
#	after sshd_start (sshd reads authorized_keys at each login).
#   sshd_ssh NAME
#	Prints the ssh client command line for key NAME, one word per line
#	(no quoting problems); use it as:  set -- $(sshd_ssh robot)
#	or see SSH_CMD below.  No control master, no known_hosts, batch mode.
#   sshd_cmd NAME
#	The same as one string, for eval or for a command after "--".
#   sshd_sessions
#	The pids of everything sshd runs for its connections (all processes
#	below SSHD_PID: session monitors, their children, forced commands),
#	to cut links from the server side.
#   sshd_stop
#	Stops sshd now (the test's exit stops it anyway).
#
# The forced command runs with HOME=$T/sshd/home (an authorized_keys
# environment= option), so the login shell reads none of the real user's
# rc files: Debian's bash sources ~/.bashrc for ssh commands, and one
# that runs, say, "pyenv init" makes concurrent logins crawl.
# The forced command gets a minimal environment: use absolute paths
# ($MS_BIN/mscart).  The login user is whoever runs the test (root in CI).

SSHD_DIR=$T/sshd
SSHD_PORT=
SSHD_PID=
SSHD_LOG=$SSHD_DIR/sshd.log
SSHD_USER=$(id -un)

sshd_start() {
	[ -x /usr/sbin/sshd ] || missing "/usr/sbin/sshd (make deps installs openssh-server)"
	command -v ssh >/dev/null 2>&1 || missing "the ssh client (make deps installs openssh-client)"
	mkdir -p "$SSHD_DIR" || return 1
	[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd 2>/dev/null
	[ -f "$SSHD_DIR/host_ed25519" ] ||
	    ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_ed25519" || return 1
	touch "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
	# a restart keeps the port, so clients find the server again
	[ -n "$SSHD_PORT" ] || SSHD_PORT=$(free_port)
	cat >"$SSHD_DIR/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $SSHD_DIR/host_ed25519
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment HOME
AllowUsers $SSHD_USER
MaxStartups 100:30:200
MaxSessions 50
LogLevel INFO
EOF
	: >"$SSHD_LOG"
	bg /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_LOG"
	SSHD_PID=$BG_PID
	if ! wait_line "$SSHD_LOG" "Server listening on 127.0.0.1 port $SSHD_PORT" 20; then
		diag "sshd did not start:" "$(cat "$SSHD_LOG")"
		return 1
	fi
}

sshd_key() {
	rm -f "$SSHD_DIR/$1" "$SSHD_DIR/$1.pub"
	mkdir -p "$SSHD_DIR" &&
	ssh-keygen -q -t ed25519 -N '' -C "$1" -f "$SSHD_DIR/$1" || return 1
	mkdir -p "$SSHD_DIR/home"
	printf 'command="%s",environment="HOME=%s",restrict %s\n' "$2" "$SSHD_DIR/home" \
	    "$(cat "$SSHD_DIR/$1.pub")" \
	    >>"$SSHD_DIR/authorized_keys"
}

sshd_ssh() {
	printf '%s\n' ssh -T -F /dev/null -i "$SSHD_DIR/$1" -p "$SSHD_PORT" \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o BatchMode=yes -o ControlMaster=no -o ControlPath=none \
	    -o IdentitiesOnly=yes -o LogLevel=ERROR -o ConnectTimeout=10 \
	    "$SSHD_USER@127.0.0.1"
}

sshd_cmd() {
	sshd_ssh "$1" | tr '\n' ' '
}

_sshd_below() {
	for _c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$_c"
		_sshd_below "$_c"
	done
}

sshd_sessions() {
	[ -n "$SSHD_PID" ] && _sshd_below "$SSHD_PID"
}

sshd_stop() {
	if [ -n "$SSHD_PID" ]; then
		kill -TERM "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
	fi
}
