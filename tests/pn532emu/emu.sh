# tests/pn532emu/emu.sh: shell helpers for tests that drive pn532emu.
# Source after tests/lib.sh.
#
#	emu_start		start the emulator; EMU_LINK is its device link,
#				EMU_CONN the libnfc connstring, $T/emu.out its news
#	emu CMD...		send one control command (see main.c)
#	wait_count FILE ERE N [SECS]	wait until FILE has N lines matching ERE
#	msid_start ARGS...	start msid on the emulator in the background,
#				stdout $T/id.out, stderr $T/id.err, pid MSID_PID;
#				waits for its "reader ready" line

emu_start() {
	EMU_LINK=$T/nfc
	EMU_CONN=pn532_uart:$EMU_LINK
	mkfifo "$T/emu.ctl" || return 1
	# an asynchronous command's stdin is /dev/null unless it redirects
	# it itself, hence the sh -c; <> so that neither side blocks
	bg sh -c 'exec "$1" -l "$2" <>"$3" >"$4" 2>"$5"' sh \
	    "$MS_BUILD/tests/pn532emu" "$EMU_LINK" "$T/emu.ctl" \
	    "$T/emu.out" "$T/emu.err"
	EMU_PID=$BG_PID
	exec 9>"$T/emu.ctl"
	wait_line "$T/emu.out" '^ready ' 10
}

emu() {
	printf '%s\n' "$*" >&9
}

wait_count() {
	# (grep -m N into /dev/null would not exit: it must write somewhere)
	timeout "${4:-20}" sh -c 'tail -n +1 -F "$1" 2>/dev/null |
	    grep -E -m "$3" -- "$2" | grep -c . >/dev/null' sh "$1" "$2" "$3"
}

msid_start() {
	LIBNFC_AUTO_SCAN=false LIBNFC_INTRUSIVE_SCAN=false \
	    bg msid -d "$EMU_CONN" "$@" >"$T/id.out" 2>"$T/id.err"
	MSID_PID=$BG_PID
	wait_line "$T/id.err" 'reader ready' 10
}

# lines FILE: the number of lines in FILE
lines() {
	wc -l <"$1" | tr -d ' '
}
