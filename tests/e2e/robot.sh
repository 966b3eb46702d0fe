# tests/e2e/robot.sh: whole robots for end-to-end tests.  Source after
# tests/lib.sh and tests/sshd.sh.  A robot is an emulated PN532 reader
# (tests/pn532emu), fake GPIO (tests/fakegpiod.so) and the real pipeline
#   msid | msdetect | mscart record | mscart push -- LINK
# with everything under $T/NAME; its "screen" (push's stdout) is
# $T/NAME/screen, appended to across restarts.
#
#   robot_new NAME EMUFD GPIOFD LINK...
#	Starts the emulator; EMUFD and GPIOFD are free descriptor numbers
#	(3-9) kept open on its control FIFO and the GPIO FIFO.  LINK is the
#	command push runs.  Then robot_up.
#   robot_up NAME	(Re)starts the pipeline and waits until msid and
#			msdetect are ready.
#   robot_tap NAME TECH UID / robot_remove NAME
#   robot_gpio NAME "OFFSET rising|falling"  (also kept as the line's level
#			for the next robot_up, as the hardware would keep it)
#   robot_wait NAME ERE N	waits until the screen has N lines matching ERE
#   robot_stop NAME	SIGTERM to msid; waits for the pipeline to drain
#   robot_kill NAME	SIGKILL to all four processes
#
# The planogram: A1 cola-350 (line 3), A2 tea-500 (4), A3 chips-60 (5),
# A4 gum-10 (6), all presence sensors, active-low; the door on line 7.

. "$MS_TOP/tests/pn532emu/emu.sh"

robot_new() {
	_n=$1 _efd=$2 _gfd=$3
	shift 3
	mkdir -p "$T/$_n"
	printf '%s\n' "$@" >"$T/$_n/link"
	cat >"$T/$_n/planogram" <<'PLAN'
chip gpiochip0
default pull-up active-low debounce=20
line 3 A1 cola-350 presence
line 4 A2 tea-500 presence
line 5 A3 chips-60 presence
line 6 A4 gum-10 presence
door 7 pull-up active-high debounce=20
PLAN
	printf 'level 3 low\nlevel 4 low\nlevel 5 low\nlevel 6 low\nlevel 7 low\n' >"$T/$_n/levels"
	mkfifo "$T/$_n/emu.ctl" "$T/$_n/gpio" || return 1
	spawn "$T/$_n/emu.ctl" "$T/$_n/emu.out" "$T/$_n/emu.err" \
	    "$MS_BUILD/tests/pn532emu" -l "$T/$_n/nfc"
	eval "exec $_efd>\"\$T/\$_n/emu.ctl\""
	eval "robot_${_n}_efd=$_efd robot_${_n}_gfd=$_gfd"
	wait_line "$T/$_n/emu.out" '^ready ' 10 || return 1
	: >"$T/$_n/screen"
	robot_up "$_n"
}

robot_up() {
	_n=$1 _d=$T/$1
	rm -f "$_d/p1" "$_d/p2" "$_d/p3"
	mkfifo "$_d/p1" "$_d/p2" "$_d/p3" || return 1
	: >"$_d/msid.err"
	: >"$_d/msdetect.err"
	spawn /dev/null "$_d/p1" "$_d/msid.err" env LIBNFC_AUTO_SCAN=false \
	    LIBNFC_INTRUSIVE_SCAN=false msid -H 0.2 -p 0.05 -d "pn532_uart:$_d/nfc"
	_pids=$BG_PID
	spawn "$_d/p1" "$_d/p2" "$_d/msdetect.err" env \
	    LD_PRELOAD="$MS_BUILD/fakegpiod.so" FAKEGPIOD_SCRIPT="$_d/levels" \
	    FAKEGPIOD_FIFO="$_d/gpio" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	    msdetect -v -T 1 -c "$_d/planogram"
	_pids="$_pids $BG_PID"
	spawn "$_d/p2" "$_d/p3" "$_d/record.err" mscart record -r "$_n" -d "$_d/outbox"
	_pids="$_pids $BG_PID"
	# shellcheck disable=SC2046
	spawn "$_d/p3" "$_d/screen" "$_d/push.err" mscart push -b 1 -t 10 -r "$_n" \
	    -d "$_d/outbox" -- $(cat "$_d/link")
	_pids="$_pids $BG_PID"
	eval "robot_${_n}_pids=\"\$_pids\" robot_${_n}_push=$BG_PID"
	wait_line "$_d/msid.err" 'reader ready' 20 || { diag "msid: $(cat "$_d/msid.err")"; return 1; }
	wait_line "$_d/msdetect.err" 'ready' 20 || { diag "msdetect: $(cat "$_d/msdetect.err")"; return 1; }
	eval "_g=\$robot_${_n}_gfd"
	eval "exec $_g>\"\$_d/gpio\""
}

robot_tap() {
	eval "_fd=\$robot_${1}_efd"
	eval "printf 'card %s %s\n' \"\$2\" \"\$3\" >&$_fd"
}

robot_remove() {
	eval "_fd=\$robot_${1}_efd"
	eval "printf 'remove\n' >&$_fd"
}

robot_gpio() {
	eval "_fd=\$robot_${1}_gfd"
	eval "printf '%s\n' \"\$2\" >&$_fd"
	set -- "$1" $2
	case $3 in
	rising) echo "level $2 high" ;;
	falling) echo "level $2 low" ;;
	esac >>"$T/$1/levels"
}

robot_wait() {
	wait_count "$T/$1/screen" "$2" "$3" 60
}

robot_stop() {
	eval "_p=\$robot_${1}_pids _push=\$robot_${1}_push"
	set -- $_p
	kill -TERM "$1" 2>/dev/null
	wait "$_push" 2>/dev/null
}

robot_kill() {
	eval "_p=\$robot_${1}_pids"
	for _x in $_p; do
		kill -KILL "$_x" 2>/dev/null
	done
	for _x in $_p; do
		wait "$_x" 2>/dev/null
	done
}
