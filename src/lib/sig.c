/* sig.c: signals set flags; the main loops look at them. */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

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

int
ms_sig_poll(struct pollfd *fds, unsigned long nfds, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	sigset_t block, old;
	int rc, e;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (ms_sig_stop || ms_sig_reload) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = EINTR;
		return -1;
	}
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tp = &ts;
	}
	rc = ppoll(fds, (nfds_t)nfds, tp, &old);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return rc;
}
