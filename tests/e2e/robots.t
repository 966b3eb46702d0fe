#!/bin/sh
# End to end: two robots and three users at once, all real pieces: libnfc
# on the emulated PN532, msdetect's libgpiod code on the fake library,
# Berkeley DB, sshd, mspay against stripe-stateful-mock.  Every take ends
# in the right cart exactly once and every tab is charged exactly once.
. "$(dirname "$0")/../lib.sh"
. "$MS_TOP/tests/sshd.sh"
. "$MS_TOP/tests/stripe-mock.sh"
. "$MS_TOP/tests/e2e/robot.sh"
. "$MS_TOP/tests/e2e/common.sh"

shop_open || { fail "the shop opened"; done_testing; exit 1; }
robot_new r1 3 4 $(sshd_ssh r1) || { fail "robot r1 started"; done_testing; exit 1; }
robot_new r2 5 6 $(sshd_ssh r2) || { fail "robot r2 started"; done_testing; exit 1; }
pass "two robots started"

# Both robots at once.
(
	session r1 felica "$FELICA" take\ 3 take\ 4 &&
	session r1 iso14443a "$MIFARE7" take\ 5
) >"$T/r1.drive" 2>&1 &
d1=$!
(
	session r2 iso14443a "$MIFARE4" take\ 3 take\ 4 return\ 3 &&
	session r2 felica "$FELICA" take\ 5
) >"$T/r2.drive" 2>&1 &
d2=$!
wait $d1; ok $? "robot r1's sessions went through"
wait $d2; ok $? "robot r2's sessions went through"
robot_stop r1
robot_stop r2
is "$(grep -c '"status":"applied"' "$T/r1/screen")" "$(grep -c '"type":"ack"' "$T/r1/screen")" \
    "r1: every ack says applied"
is "$(cat "$T/r1/screen" "$T/r2/screen" | grep -c '"of":"take"')" 6 "six takes acknowledged"
is "$(grep -c '"of":"return"' "$T/r2/screen")" 1 "one return acknowledged"

settle_all -P 4
ok $? "the settlement run finished"
is "$(grep -c '"state":"paid"' "$T/settled")" 3 "three settlements paid"
check_shop
done_testing
