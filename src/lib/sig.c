/* sig.c: signals set flags; the main loops look at them. */
#include <signal.h>
#include <string.h>

#include "ms.h"

volatile sig_atomic_t ms_sig_stop;
volatile sig_atomic_t ms_sig_reload;

static void
on_stop(int sig)
{
	(void)sig;
	ms_sig_stop = 1;
}

static void
on_reload(int sig)
{
	(void)sig;
	ms_sig_reload = 1;
}

void
ms_sig_install(int want_reload)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: blocking calls return EINTR */
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (want_reload) {
		sa.sa_handler = on_reload;
		sigaction(SIGHUP, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
