/*
 * sync/record.c: "mscart record", the robot's first stop for every event.
 *
 * Each event from msid | msdetect is validated, stamped with the robot
 * id and the next seq, and committed to the outbox with a synchronous
 * commit before it is written on stdout, where "mscart push" picks it up.
 * Queries and pay requests pass through unchanged, in order, so that the
 * robot's screen and its events share one pipe.  Lines that are already
 * waiting on stdin are committed together (at most BATCH), so a burst
 * costs one log flush; a lone line is never held back.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mscart.h"
#include "../store.h"
#include "../bell.h"
#include "outbox.h"

#define BATCH	1000
#define WATCHDOG_SECS	10

/*
 * The watchdog.  A process SIGKILLed while it holds one of Berkeley DB's
 * region mutexes (push, say, in the middle of a log write) leaves record
 * blocked in that mutex for good.  So each batch is stored under
 * alarm(2).  When it fires, the SIGALRM handler saves what record holds
 * in memory (the batch's input lines and the input read but not used
 * yet) in a memory file and starts record again with -R and that file,
 * as its child (see outbox_restart).  The new process opens the outbox
 * (DB_REGISTER finds the dead processes and recovers), looks whether the
 * batch got in before the hang, and goes on where the old one stopped:
 * no line is lost, no event stamped twice.
 */
struct resume_head {
	int64_t		first;	/* seq of the batch's first event; 0: none yet */
	uint64_t	nlines;	/* lines of the batch */
	uint64_t	lineno;	/* input lines read so far */
	uint64_t	imglen, restlen;
};

static struct {
	char	**argv;		/* the command line with -R, to start again */
	int	 fd;		/* the memory file, -1 when there is none */
	int	 pending;	/* it holds a resume the new image has not used */
	struct ms_buf img;	/* the batch's lines, each with '\n' */
	size_t	 nlines;
	const struct ms_reader *rd;
	volatile int64_t first;
} wd = { .fd = -1 };

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* SIGALRM: only async-signal-safe calls here. */
static void
on_stuck(int sig)
{
	static const char msg[] = "mscart: record: the outbox is stuck behind "
	    "a killed process; starting again\n";
	struct resume_head h;

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	if (wd.fd == -1)
		_exit(MS_EX_TEMPFAIL);
	if (!wd.pending) {
		/* what the batch and the reader hold, for the new image */
		memset(&h, 0, sizeof(h));
		h.first = wd.first;
		h.nlines = wd.nlines;
		h.lineno = wd.rd != NULL ? wd.rd->lineno : 0;
		h.imglen = wd.img.len;
		h.restlen = wd.rd != NULL ? wd.rd->end - wd.rd->start : 0;
		if (ftruncate(wd.fd, 0) == -1 || lseek(wd.fd, 0, SEEK_SET) == -1 ||
		    write_all(wd.fd, &h, sizeof(h)) == -1 ||
		    write_all(wd.fd, wd.img.p, h.imglen) == -1 ||
		    (h.restlen > 0 && write_all(wd.fd, wd.rd->buf + wd.rd->start,
		    h.restlen) == -1))
			_exit(MS_EX_TEMPFAIL);
	}
	if (lseek(wd.fd, 0, SEEK_SET) == -1)
		_exit(MS_EX_TEMPFAIL);
	outbox_restart(wd.argv, wd.fd);
}

/* Keep a copy of an accepted line for the watchdog. */
static int
img_add(const char *line, size_t len)
{
	ms_buf_add(&wd.img, line, len);
	ms_buf_add(&wd.img, "\n", 1);
	wd.nlines++;
	return wd.img.failed ? -1 : 0;
}

/*
 * Set up the watchdog: the memory file (fd, or a new one when fd is -1)
 * and the command line that starts record again with it.
 */
static void
watchdog_setup(int argc, char **argv, int fd)
{
	static char fdarg[16];
	struct sigaction sa;
	int i, n;

	if (fd == -1) {
		fd = (int)syscall(SYS_memfd_create, "mscart-record", 0);
		if (fd >= 0 && fd <= 2) {	/* never on stdin, stdout, stderr */
			int nfd = fcntl(fd, F_DUPFD, 3);

			close(fd);
			fd = nfd;
		}
		if (fd == -1) {
			ms_warn("record: no watchdog: memfd_create");
			return;
		}
	}
	if ((wd.argv = calloc((size_t)argc + 4, sizeof(*wd.argv))) == NULL) {
		close(fd);
		return;
	}
	/* main passes argv + 1: argv[-1] is the program */
	n = 0;
	wd.argv[n++] = argv[-1];
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-R") == 0 && i + 1 < argc) {
			i++;	/* the old -R FD: ours goes at the end */
			continue;
		}
		wd.argv[n++] = argv[i];
	}
	snprintf(fdarg, sizeof(fdarg), "%d", fd);
	wd.argv[n++] = "-R";
	wd.argv[n++] = fdarg;
	wd.argv[n] = NULL;
	wd.fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stuck;
	sa.sa_flags = SA_NODEFER;	/* the new image needs SIGALRM */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

struct item {
	json_t	*msg;
	int	 is_event;
};

static void
usage(void)
{
	fprintf(stderr, "usage: mscart record [-h] [-d dir] [-w seconds] -r robot\n");
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
		wd.first = seq;		/* for the watchdog */
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
	if (rc == 0)
		bell_ring(ob->home, OUTBOX_BELL);	/* push -f wakes */
	return rc;
}

/*
 * Read what an earlier image saved (see on_stuck): the batch's lines go
 * back in front of the input, followed by what it had read beyond them.
 */
static int
read_all(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, c, n)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
resume_read(int fd, struct ms_reader *rd, struct resume_head *h)
{
	char *buf;
	size_t len;
	int rc;

	if (lseek(fd, 0, SEEK_SET) == -1 || read_all(fd, h, sizeof(*h)) == -1 ||
	    h->imglen > SIZE_MAX / 2 || h->restlen > SIZE_MAX / 2)
		return -1;
	len = h->imglen + h->restlen;
	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	rc = read_all(fd, buf, len) == -1 ||
	    ms_reader_prefill(rd, buf, len) == -1 ? -1 : 0;
	free(buf);
	rd->lineno = h->lineno >= h->nlines ? h->lineno - h->nlines : 0;
	return rc;
}

/*
 * The batch an earlier image was storing when it hung: if it got in,
 * its events are the outbox's from first on, so they take their stamped
 * form from there; if not, they are stored now.
 */
static int
resume_batch(struct outbox *ob, struct item *it, size_t n, const char *robot,
    int64_t first)
{
	DB_TXN *txn;
	int64_t next = 0, seq = first;
	size_t nev = 0;
	char *line;
	size_t len;
	json_t *j;
	int rc;

	for (size_t i = 0; i < n; i++)
		nev += it[i].is_event;
	if (first < 1 || nev == 0)
		return store_batch(ob, it, n, robot);
	if ((rc = outbox_txn_begin(ob, &txn)) != 0)
		return rc;
	rc = outbox_counter_get(ob, txn, "next", &next, 0);
	txn->commit(txn, 0);
	if (rc != 0)
		return rc;
	if (next < first + (int64_t)nev)
		return store_batch(ob, it, n, robot);
	for (size_t i = 0; i < n; i++) {
		if (!it[i].is_event)
			continue;
		if ((rc = outbox_event_get(ob, NULL, seq++, &line, &len)) != 0)
			return rc;
		j = json_loadb(line, len, 0, NULL);
		free(line);
		if (j == NULL)
			return EINVAL;
		json_decref(it[i].msg);
		it[i].msg = j;
	}
	return 0;
}

int
cmd_record(int argc, char **argv)
{
	struct outbox ob;
	struct ms_reader rd;
	struct item it[BATCH];
	struct resume_head h;
	const char *dir = NULL, *robot = NULL;
	char err[512];
	size_t n, force = 0;
	long bad = 0, v, secs = WATCHDOG_SECS, rfd = -1;
	int ch, rc, done = 0, status = MS_EX_OK, is_event, resuming = 0;
	json_t *j;

	optind = 1;
	while ((ch = getopt(argc, argv, "d:hR:r:w:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'R':	/* record itself, starting again: see on_stuck */
			if (ms_parse_long(optarg, 3, 1000000, &rfd) == -1) {
				ms_warnx("record: -R %s: not a descriptor", optarg);
				return MS_EX_USAGE;
			}
			break;
		case 'r':
			robot = optarg;
			break;
		case 'w':
			if (ms_parse_long(optarg, 0, 86400, &v) == -1) {
				ms_warnx("record: -w %s: not 0 to 86400 seconds",
				    optarg);
				return MS_EX_USAGE;
			}
			secs = v;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	if (optind != argc || robot == NULL) {
		usage();
		return MS_EX_USAGE;
	}
	if (!ms_id_valid(robot)) {
		ms_warnx("record: robot \"%s\" must be 1 to %d letters, digits "
		    "or . _ - @", robot, MS_ID_MAX);
		return MS_EX_USAGE;
	}
	ms_sig_install(0);
	ms_reader_init(&rd, STDIN_FILENO, "-");
	if (secs > 0)
		watchdog_setup(argc, argv, (int)rfd);
	wd.rd = &rd;
	if (rfd >= 0 && wd.fd == (int)rfd) {
		if (resume_read((int)rfd, &rd, &h) == -1) {
			ms_warnx("record: -R %ld: cannot read what to resume", rfd);
			return MS_EX_TEMPFAIL;
		}
		/* until the batch is handled, a new hang starts it over */
		wd.pending = 1;
		resuming = 1;
		force = (size_t)h.nlines;
	}
	alarm((unsigned)secs);	/* even the open may meet the dead mutex */
	rc = outbox_open(&ob, store_home(dir), robot, err, sizeof(err));
	alarm(0);
	if (rc != 0) {
		ms_warnx("record: %s", err);
		return MS_EX_TEMPFAIL;
	}
	while (!done) {
		n = 0;
		wd.img.len = wd.nlines = 0;
		while (n < BATCH && !(resuming && n == force)) {
			/* block for the first line only; then take what waits */
			rc = ms_reader_next(&rd, n > 0 || ms_sig_stop, &j, err,
			    sizeof(err));
			if (rc == MS_READ_LINE) {
				if (accept_line(j, &is_event, err, sizeof(err)) == 0) {
					it[n].msg = j;
					it[n].is_event = is_event;
					n++;
					if (img_add(rd.line, rd.len) == -1)
						wd.fd = -1;	/* no watchdog */
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
		wd.first = 0;
		alarm((unsigned)secs);
		if (resuming)
			rc = resume_batch(&ob, it, n, robot, h.first);
		else
			rc = store_batch(&ob, it, n, robot);
		alarm(0);
		resuming = 0;
		wd.pending = 0;
		if (rc != 0) {
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
	free(wd.img.p);
	if (ms_close_stdout() != 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	if (bad > 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	return status;
}
