/*
 * watchdog.c: the alarm that ends a process whose transaction is stuck
 * behind a killed process's Berkeley DB mutex.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "apply.h"

/*
 * The watchdog of the loop's transactions.  A process SIGKILLed while
 * it holds one of Berkeley DB's region mutexes (not a lock: those time
 * out) leaves everyone else blocked in that mutex for good.  A
 * transaction that runs this long (MSCART_WATCHDOG seconds, 60 by
 * default, 0 for none) is taken for one: the process says so and exits
 * 75.  Nothing is lost: replies are written only after a commit, so a
 * client sends again what was not answered (and exactly-once makes that
 * safe); the next process to open the environment recovers it.
 */
static unsigned int
watchdog_secs(void)
{
	static long secs = -1;
	const char *e;

	if (secs < 0) {
		secs = 60;
		if ((e = getenv("MSCART_WATCHDOG")) != NULL && *e != '\0' &&
		    ms_parse_long(e, 0, 86400, &secs) == -1) {
			ms_warnx("MSCART_WATCHDOG=%s: not 0 to 86400 seconds; "
			    "using 60", e);
			secs = 60;
		}
	}
	return (unsigned int)secs;
}

static void
on_stuck(int sig)
{
	static const char msg[] = "mscart: a transaction is stuck behind a "
	    "killed process; exiting (what was not answered was not applied "
	    "or is answered as a duplicate when sent again)\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(MS_EX_TEMPFAIL);
}

void
watchdog_arm(void)
{
	static int installed;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stuck;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		installed = 1;
	}
	alarm(watchdog_secs());
}

void
watchdog_disarm(void)
{
	alarm(0);
}
