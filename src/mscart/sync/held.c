/*
 * sync/held.c: "mscart held", the robot's events the server answered but
 * did not apply.  push keeps each of them in the outbox's held database
 * with the server's reason instead of dropping it; an administrator
 * lists them and, once the cause is fixed (a product added to the
 * catalogue, say), has them sent again with their own robot:seq, so
 * exactly once still holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mscart.h"
#include "../store.h"
#include "outbox.h"

static int
usage(void)
{
	fprintf(stderr, "usage: mscart held [-ah] [-d dir] [-s seq] -r robot\n");
	return MS_EX_USAGE;
}

static void
print_one(const char *rec, size_t len, void *arg)
{
	(void)arg;
	ms_write_raw(stdout, rec, len, 0);
}

int
cmd_held(int argc, char **argv)
{
	const char *dir = NULL, *robot = NULL;
	struct outbox ob;
	char err[512];
	long seq = -1;
	size_t n = 0;
	int ch, rc;

	optind = 1;
	while ((ch = getopt(argc, argv, "ad:hr:s:")) != -1) {
		switch (ch) {
		case 'a':
			seq = 0;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'r':
			robot = optarg;
			break;
		case 's':
			if (ms_parse_long(optarg, 1, (1L << 53), &seq) == -1) {
				ms_warnx("held: -s %s: not a seq", optarg);
				return usage();
			}
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || robot == NULL)
		return usage();
	if (!ms_id_valid(robot)) {
		ms_warnx("held: robot \"%s\" must be 1 to %d letters, digits "
		    "or . _ - @", robot, MS_ID_MAX);
		return MS_EX_USAGE;
	}
	if ((rc = outbox_open(&ob, store_home(dir), robot, err,
	    sizeof(err))) != 0) {
		ms_warnx("held: %s", err);
		return MS_EX_TEMPFAIL;
	}
	if (seq < 0)
		rc = outbox_held_list(&ob, print_one, NULL);
	else
		rc = outbox_held_retry(&ob, (int64_t)seq, &n);
	outbox_close(&ob);
	if (rc != 0) {
		ms_warnx("held: %s", db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	if (seq > 0 && n == 0) {
		ms_warnx("held: %s:%ld is not held", robot, seq);
		return MS_EX_FAIL;
	}
	if (seq >= 0)
		fprintf(stderr, "%s: held: %zu event%s will be sent again by "
		    "the next push\n", ms_prog, n, n == 1 ? "" : "s");
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}
