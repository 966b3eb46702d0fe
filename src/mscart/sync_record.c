/*
 * sync_record.c: "mscart record", the robot's first stop for every event.
 *
 * Each event from msid | msdetect is validated, stamped with the robot
 * id and the next seq, and committed to the outbox with a synchronous
 * commit before it is written on stdout, where "mscart push" picks it up.
 * Queries and pay requests pass through unchanged, in order, so that the
 * robot's screen and its events share one pipe.  Lines that are already
 * waiting on stdin are committed together (at most BATCH), so a burst
 * costs one log flush; a lone line is never held back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mscart.h"
#include "sync_outbox.h"

#define BATCH	1000

struct item {
	json_t	*msg;
	int	 is_event;
};

static void
usage(void)
{
	fprintf(stderr, "usage: mscart record [-h] [-d dir] -r robot\n");
}

/* 0 if the line may be recorded (an event) or passed on (query, pay). */
static int
accept_line(const json_t *j, int *is_event, char *err, size_t errlen)
{
	enum ms_msg_type t;
	char id[MS_ID_MAX + 24];

	if (ms_msg_validate(j, err, errlen) == -1)
		return -1;
	t = ms_msg_type(j);
	if (ms_msg_is_event(t)) {
		if (ms_event_id(j, id, sizeof(id)) == 0) {
			snprintf(err, errlen, "%s: already recorded as %s",
			    ms_msg_type_name(t), id);
			return -1;
		}
		*is_event = 1;
		return 0;
	}
	if (t == MS_MSG_QUERY || t == MS_MSG_PAY) {
		*is_event = 0;
		return 0;
	}
	snprintf(err, errlen, "\"%s\" is not an event, query or pay",
	    ms_msg_type_name(t));
	return -1;
}

/* Was the batch that ended with seq last committed after all? */
static int
batch_is_stored(struct outbox *ob, int64_t last, const char *line, size_t len)
{
	char *got;
	size_t glen;
	int same;

	if (outbox_event_get(ob, NULL, last, &got, &glen) != 0)
		return 0;
	same = glen == len && memcmp(got, line, len) == 0;
	free(got);
	return same;
}

/*
 * Stamp and store the events of a batch in one transaction.  Returns 0
 * once it is committed, or the error outbox_again gave up on.
 */
static int
store_batch(struct outbox *ob, struct item *it, size_t n, const char *robot)
{
	struct outbox_retry r = { 0, 0, 0 };
	DB_TXN *txn;
	int64_t next, seq = 0;
	char *line = NULL, err[256];
	size_t len = 0, nev = 0;
	int rc = 0, at_commit;

	for (size_t i = 0; i < n; i++)
		nev += it[i].is_event;
	if (nev == 0)
		return 0;
	for (;;) {
		at_commit = 0;
		free(line);
		line = NULL;
		if ((rc = outbox_txn_begin(ob, &txn)) != 0)
			goto failed;
		if ((rc = outbox_counter_get(ob, txn, "next", &next, 1)) != 0)
			goto abort;
		if (next < 1)
			next = 1;
		seq = next;
		for (size_t i = 0; i < n; i++) {
			if (!it[i].is_event)
				continue;
			json_object_set_new(it[i].msg, "robot", json_string(robot));
			json_object_set_new(it[i].msg, "seq", json_integer(seq));
			free(line);
			line = json_dumps(it[i].msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (line == NULL) {
				rc = ENOMEM;
				goto abort;
			}
			len = strlen(line);
			if ((rc = outbox_event_put(ob, txn, seq, line, len)) != 0)
				goto abort;
			seq++;
		}
		if ((rc = outbox_counter_put(ob, txn, "next", seq)) != 0)
			goto abort;
		at_commit = 1;
		if ((rc = txn->commit(txn, 0)) == 0)
			break;
		goto failed;
abort:
		txn->abort(txn);
failed:
		if (at_commit && ms_dbenv_needs_reopen(rc)) {
			/*
			 * A crashed process made the next opener run recovery
			 * during our commit: the batch may be in.  Look before
			 * storing it again under new seqs.
			 */
			if ((rc = outbox_reopen(ob, err, sizeof(err))) != 0) {
				ms_warnx("%s", err);
				break;
			}
			if (batch_is_stored(ob, seq - 1, line, len))
				break;
			continue;
		}
		if ((rc = outbox_again(ob, &r, rc)) != 0)
			break;
	}
	free(line);
	return rc;
}

int
cmd_record(int argc, char **argv)
{
	struct outbox ob;
	struct ms_reader rd;
	struct item it[BATCH];
	const char *dir = NULL, *robot = NULL;
	char err[512];
	size_t n;
	long bad = 0;
	int ch, rc, done = 0, status = MS_EX_OK, is_event;
	json_t *j;

	optind = 1;
	while ((ch = getopt(argc, argv, "d:hr:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'r':
			robot = optarg;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || robot == NULL) {
		usage();
		return MS_EX_USAGE;
	}
	if (!ms_id_valid(robot)) {
		ms_warnx("record: robot \"%s\" must be 1 to %d letters, digits "
		    "or . _ - @", robot, MS_ID_MAX);
		return MS_EX_USAGE;
	}
	ms_sig_install(0);
	if (outbox_open(&ob, outbox_home(dir), robot, err, sizeof(err)) != 0) {
		ms_warnx("record: %s", err);
		return MS_EX_TEMPFAIL;
	}
	ms_reader_init(&rd, STDIN_FILENO, "-");
	while (!done) {
		n = 0;
		while (n < BATCH) {
			/* block for the first line only; then take what waits */
			rc = ms_reader_next(&rd, n > 0 || ms_sig_stop, &j, err,
			    sizeof(err));
			if (rc == MS_READ_LINE) {
				if (accept_line(j, &is_event, err, sizeof(err)) == 0) {
					it[n].msg = j;
					it[n].is_event = is_event;
					n++;
					continue;
				}
				json_decref(j);
				ms_warn_at(rd.source, rd.lineno, "%s", err);
				bad++;
			} else if (rc == MS_READ_BAD) {
				ms_warn_at(rd.source, rd.lineno, "%s", err);
				bad++;
			} else if (rc == MS_READ_AGAIN) {
				if (ms_sig_stop && n == 0)
					done = 1;
				if (n > 0 || ms_sig_stop)
					break;
			} else if (rc == MS_READ_EOF) {
				done = 1;
				break;
			} else {
				ms_warnx("record: %s: %s", rd.source, err);
				status = MS_EX_FAIL;
				done = 1;
				break;
			}
		}
		if ((rc = store_batch(&ob, it, n, robot)) != 0) {
			ms_warnx("record: cannot store %zu lines: %s", n,
			    db_strerror(rc));
			for (size_t i = 0; i < n; i++)
				json_decref(it[i].msg);
			status = MS_EX_TEMPFAIL;
			break;
		}
		/*
		 * Only now, with the events durable, do they go on.  A reader
		 * that went away does not stop the recording: the outbox is
		 * what push sends from.
		 */
		for (size_t i = 0; i < n; i++) {
			ms_write_json(stdout, it[i].msg, i + 1 == n);
			json_decref(it[i].msg);
		}
	}
	ms_reader_free(&rd);
	outbox_close(&ob);
	if (ms_close_stdout() != 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	if (bad > 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	return status;
}
