/*
 * pn532emu: an emulated PN532 NFC reader on a pseudo-terminal, for tests,
 * benchmarks and demos of programs that use libnfc's pn532_uart driver.
 * It stands in for the reader chip and the cards in its field; libnfc and
 * the tty layer are the real ones.
 *
 * usage: pn532emu [-v] -l LINK
 *
 * It opens a pty, points the symlink LINK at it, and prints
 *	ready LINK PTY
 * on stdout.  Point libnfc at it with
 *	LIBNFC_DEVICE=pn532_uart:LINK LIBNFC_AUTO_SCAN=false \
 *	LIBNFC_INTRUSIVE_SCAN=false
 * (or msid -d pn532_uart:LINK).  -v logs every frame on stderr.
 *
 * Control commands, one per line on stdin:
 *	card iso14443a UIDHEX [classic|ultralight|iso14443-4]
 *		a type A card enters the field (replacing any card there);
 *		by UID length 4 bytes is a MIFARE Classic, 7 an Ultralight,
 *		10 an ISO14443-4 card (SAK 20, with ATS)
 *	card felica IDMHEX [212|424]	a FeliCa card (both speeds unless named)
 *	card iso14443b PUPIHEX		an ISO14443-B card
 *	remove				the card leaves the field
 *	vanish				the reader is unplugged: pty closed,
 *					LINK removed
 *	back				plugged in again: a new pty behind LINK
 *	mute, unmute			the chip stops (starts) answering
 *	corrupt [N]			the next N answers (default 1) carry a
 *					bad checksum
 *	wait N				print "waited MONO" once N more
 *					commands have been answered (a test
 *					can wait for N presence checks)
 *	quit				exit
 * Lines starting with '#' are ignored.  End of input is not the end:
 * pn532emu serves until "quit", SIGINT or SIGTERM.
 *
 * Lines on stdout (MONO is CLOCK_MONOTONIC in milliseconds):
 *	ready LINK PTY		(at start and after "back")
 *	enter TOKEN MONO	a card entered the field (TOKEN as msid
 *				writes it: iso14443a:04A1B2C3)
 *	select TOKEN MONO	the host first selected that card
 *	leave TOKEN MONO	the card left ("leave - MONO" if none was there)
 *	hello MONO		the host opened the reader (communication test)
 *	waited MONO		after "wait N"
 *	vanished MONO, muted, unmuted, corrupt N, corrupted CMD MONO
 * A bad control line is reported on stderr as "pn532emu: stdin:LINE: ..."
 * and changes nothing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pn532emu.h"

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void
note(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: pn532emu [-v] -l link\n");
}

int
main(int argc, char *argv[])
{
	struct pn532emu *e;
	struct sigaction sa;
	char err[256], line[512];
	size_t linelen = 0;
	unsigned long lineno = 0;
	const char *link = NULL;
	int ch, trace = 0, in_open = 1, status = 0;

	while ((ch = getopt(argc, argv, "hl:v")) != -1) {
		switch (ch) {
		case 'h':
			usage();
			return 0;
		case 'l':
			link = optarg;
			break;
		case 'v':
			trace = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || link == NULL) {
		usage();
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((e = pn532emu_new(link, note, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pn532emu: %s\n", err);
		return 1;
	}
	pn532emu_set_trace(e, trace);
	printf("ready %s %s\n", link, pn532emu_pty(e));
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd[2];
		int n = 0, tmo, r;

		pfd[0].fd = in_open ? 0 : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = pn532emu_fd(e);
		pfd[1].events = POLLIN;
		n = 2;
		tmo = pn532emu_timeout(e);
		r = poll(pfd, (nfds_t)n, tmo);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "pn532emu: poll: %s\n", strerror(errno));
			status = 1;
			break;
		}
		if (pfd[1].fd != -1 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			pn532emu_io(e);
		pn532emu_timer(e);
		if (pfd[0].fd != -1 && (pfd[0].revents & (POLLIN | POLLHUP))) {
			char buf[256];
			ssize_t got;

			/* one read: poll said it will not block */
			if ((got = read(0, buf, sizeof(buf))) <= 0) {
				if (got == 0 || errno != EINTR)
					in_open = 0;
				continue;
			}
			for (ssize_t i = 0; i < got && !stop; i++) {
				if (buf[i] != '\n') {
					if (linelen + 1 < sizeof(line))
						line[linelen++] = buf[i];
					continue;
				}
				line[linelen] = '\0';
				linelen = 0;
				lineno++;
				if (strcmp(line, "quit") == 0)
					stop = 1;
				else if (pn532emu_control(e, line, err,
				    sizeof(err)) == -1)
					fprintf(stderr, "pn532emu: stdin:%lu: %s\n",
					    lineno, err);
			}
		}
	}
	pn532emu_free(e);
	return status;
}
