/*
 * loop.c: the message loop of apply, serve, settle and import: a feeder
 * thread reads and parses lines, the main thread applies them in
 * group-committed batches and writes the replies after the commit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "apply.h"
#include "bell.h"
#include "dbrep.h"
#include "replica.h"

static int	run_txn_how(struct store *, int (*)(struct store *, DB_TXN *,
		    void *), void *, int);

int
run_txn(struct store *st, int (*fn)(struct store *, DB_TXN *, void *),
    void *arg)
{
	return run_txn_how(st, fn, arg, 1);
}

/*
 * fn in a transaction that is always aborted: a dry run sees what fn
 * would do (and may print it) and leaves the ledger as it was.
 */
int
run_txn_dry(struct store *st, int (*fn)(struct store *, DB_TXN *, void *),
    void *arg)
{
	return run_txn_how(st, fn, arg, 0);
}

static int
run_txn_how(struct store *st, int (*fn)(struct store *, DB_TXN *, void *),
    void *arg, int commit)
{
	DB_TXN *txn;
	int rc;

	for (int tries = 0;; tries++) {
		if ((rc = store_begin(st, NULL, &txn, 0)) == 0) {
			rc = fn(st, txn, arg);
			if (rc == 0 && commit)
				rc = store_counters_save(st, txn);
			if (rc == 0 && commit)
				rc = txn->commit(txn, 0);
			else
				txn->abort(txn);
		}
		store_counters_forget(st);
		if (rc == 0)
			return 0;
		if (ms_dbenv_stuck(rc, tries) && tries < 1000) {
			if (store_reopen(st) != 0)
				return rc;
			continue;
		}
		if (store_retryable(rc) && tries < 1000) {
			if (tries > 10)
				usleep(1000 * (tries % 50));
			continue;
		}
		if (ms_dbenv_needs_reopen(rc) && tries < 1000) {
			if (store_reopen(st) != 0)
				return rc;
			continue;
		}
		return rc;
	}
}

/* ----- the loop ----- */

/*
 * Outcomes serve owes: a pay with "wait" is answered at once (the
 * settlement opened), then with an outcome message once settle has ended
 * the settlement, or "pending" when wait seconds pass first.  The main
 * thread keeps them here and waits for the settlement bell beside the
 * input, so lines go on being answered meanwhile.
 */
struct pending {
	char	 sett[MS_ID_MAX + 1];
	json_t	*id;		/* the pay's id, or NULL */
	int64_t	 deadline;	/* ms since the epoch */
};

struct watch {
	const char	*home;
	int		 fd;		/* the bell's inotify fd, or -1 */
	int		 tried;		/* fd made, or failed to be */
	int		 rang;
	struct pending	*p;
	size_t		 n, cap;
};

#define WAIT_MAX_MS	(MS_WAIT_MAX * 1000LL)

/* Something to look at now: the bell rang or a deadline passed. */
static int
watch_due(const struct watch *w)
{
	int64_t now;

	if (w->n == 0)
		return 0;
	if (w->rang)
		return 1;
	now = ms_now_ms();
	for (size_t i = 0; i < w->n; i++)
		if (w->p[i].deadline <= now)
			return 1;
	return 0;
}

/* poll()'s timeout: until the nearest deadline, or -1. */
static int
watch_timeout(const struct watch *w)
{
	int64_t first = INT64_MAX, now = ms_now_ms();

	for (size_t i = 0; i < w->n; i++)
		if (w->p[i].deadline < first)
			first = w->p[i].deadline;
	if (first == INT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static void
watch_add(struct watch *w, const json_t *pay, const json_t *sett)
{
	struct pending *np;
	int64_t wait = json_integer_value(json_object_get(pay, "wait")) * 1000;

	/*
	 * The watch is made at the first pay that waits, not for every
	 * serve: a robot's link never needs one, and a user has few
	 * inotify instances (128 by default).
	 */
	if (!w->tried) {
		w->tried = 1;
		if ((w->fd = bell_watch(w->home)) == -1)
			ms_warn("%s: the settlement bell (outcomes wait for "
			    "their deadline)", w->home);
	}

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;

		if ((np = realloc(w->p, cap * sizeof(*np))) == NULL) {
			ms_warn("outcome");
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	np = &w->p[w->n++];
	snprintf(np->sett, sizeof(np->sett), "%s", str(sett, "settlement"));
	np->id = json_incref(json_object_get(pay, "id"));
	np->deadline = ms_now_ms() + (wait < WAIT_MAX_MS ? wait : WAIT_MAX_MS);
	w->rang = 1;	/* it may have ended already: look once */
}

/*
 * Write the outcome of every pending settlement that has ended, and
 * "pending" for those whose wait is over.  A settlement that cannot be
 * read now is looked at again at the next ring or deadline.
 */
static void
watch_check(struct store *st, struct watch *w)
{
	int64_t now = ms_now_ms();
	size_t i = 0;

	if (w->fd != -1)
		bell_heard(w->fd);
	w->rang = 0;
	while (i < w->n) {
		struct pending *p = &w->p[i];
		json_t *s = NULL, *m;
		int rc;

		rc = db_get_json(st->settlements, NULL, p->sett, &s, 0);
		if (rc != 0 || (strcmp(str(s, "state"), "open") == 0 &&
		    p->deadline > now)) {
			json_decref(s);
			i++;
			continue;
		}
		m = settlement_outcome(s, p->id);
		ms_write_json(stdout, m, 1);
		json_decref(m);
		json_decref(s);
		json_decref(p->id);
		w->p[i] = w->p[--w->n];
	}
}

static void
watch_free(struct watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		json_decref(w->p[i].id);
	free(w->p);
	if (w->fd != -1)
		close(w->fd);
}

struct item {
	json_t		*msg;		/* NULL for a line refused on reading */
	json_t		*reply;
	char		*raw;		/* or the reply already encoded */
	size_t		 rawlen;
	enum ms_msg_type type;
	unsigned long	 line;
	int		 refused;
	int		 unchanged;	/* accepted, changed nothing */
	struct evfields	 f;
};

struct batch {
	struct item	*items;
	size_t		 n;
	const struct loop_opts *o;
	const char	*source;
};

/* Everything but an admin's or robot's query may write (a refusal of a
 * terminal's query is audited). */
static int
needs_counters(enum ms_msg_type t, const struct role *role)
{
	return t != MS_MSG_QUERY || role->kind == ROLE_TERMINAL;
}

/*
 * A robot's link was heard from: noted for mscart status in the batch's
 * transaction, at most once every CONTACT_EVERY_MS for this process (a
 * serve is one robot's link), so a busy link adds no write a batch.
 */
#define CONTACT_EVERY_MS	10000

static int
robot_contact(struct store *st, DB_TXN *txn, const struct role *role)
{
	static int64_t noted;
	static int once;
	int64_t now = ms_mono_ms();
	int rc;

	if (role->kind != ROLE_ROBOT || (once && now - noted < CONTACT_EVERY_MS))
		return 0;
	if ((rc = health_robot_contact(st, txn, role->id, -1)) == 0) {
		noted = now;	/* lost if the batch aborts: the next makes it */
		once = 1;
	}
	return rc;
}

static int
batch_run(struct store *st, DB_TXN *txn, void *arg)
{
	struct batch *b = arg;
	int rc, writes = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].msg != NULL && needs_counters(b->items[i].type, b->o->role))
			writes = 1;
	if (writes && (rc = store_counters_load(st, txn)) != 0)
		return rc;
	if (writes && st->replicated && (rc = replica_touch(st, txn)) != 0)
		return rc;
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		struct ctx c;

		if (it->msg == NULL)
			continue;
		json_decref(it->reply);
		it->reply = NULL;
		free(it->raw);
		it->raw = NULL;
		memset(&c, 0, sizeof(c));
		c.st = st;
		c.role = b->o->role;
		c.source = b->source;
		c.line = it->line;
		c.msg = it->msg;
		c.f = &it->f;
		c.txn = txn;
		/* the takes so far are in open.db before anything reads it */
		if (it->type != MS_MSG_TAKE &&
		    (rc = open_pending_flush(st, txn)) != 0)
			return rc;
		if ((rc = dispatch(&c, it->type)) == 0 && c.forbidden)
			/* logged, bounded; nothing else changed */
			rc = audit_forbidden(&c);
		if (rc != 0) {
			json_decref(c.reply);
			free(c.raw);
			return rc;
		}
		it->raw = c.raw;
		it->rawlen = c.rawlen;
		it->reply = c.reply;
		it->refused = c.refused;
		it->unchanged = c.unchanged;
	}
	return writes ? robot_contact(st, txn, b->o->role) : 0;
}

/*
 * A site of a replication group that is not the master answers the
 * batch's writes with "not-master" (queries are read here, unless all);
 * they leave the batch.  Returns how many items are left to apply.
 */
static size_t
batch_not_master(struct batch *b, const char *master, int all)
{
	size_t left = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];

		if (it->msg == NULL)
			continue;
		if (!all && !needs_counters(it->type, b->o->role)) {
			left++;
			continue;
		}
		json_decref(it->reply);
		free(it->raw);
		it->raw = NULL;
		it->reply = replica_not_master(it->msg, b->source, it->line,
		    master);
		it->refused = 1;
		json_decref(it->msg);
		it->msg = NULL;
	}
	return left;
}

/*
 * The batch committed here but a quorum did not acknowledge it in time:
 * its writes are answered "retry" (sent again, they are duplicates once
 * the other sites caught up, or applied anew on a new master).
 */
static void
batch_not_durable(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];

		if (it->msg == NULL || !needs_counters(it->type, b->o->role))
			continue;
		json_decref(it->reply);
		free(it->raw);
		it->raw = NULL;
		it->reply = replica_retry(it->msg, b->source, it->line);
		it->refused = 1;
	}
}

static void
item_bad(struct item *it, const struct ms_reader *r, int code_too_long,
    const char *why)
{
	it->msg = NULL;
	it->line = r->lineno;
	it->reply = error_reply(NULL, code_too_long ? "too-long" : "invalid",
	    r->source, r->lineno, NULL, why);
	it->refused = 1;
}

/* Parse and validate one line into an item. */
static void
item_parse(struct item *it, const struct ms_reader *r, const struct loop_opts *o)
{
	char err[512];
	json_t *m;
	enum ms_msg_type t;

	memset(it, 0, sizeof(*it));
	it->line = r->lineno;
	if ((m = ms_json_parse_line(r->line, r->len, err, sizeof(err))) == NULL) {
		item_bad(it, r, 0, err);
		return;
	}
	t = ms_msg_type(m);
	if (ms_msg_validate(m, err, sizeof(err)) == -1) {
		it->reply = error_reply(m, t == MS_MSG_UNKNOWN ? "unknown-type" :
		    "invalid", r->source, r->lineno, NULL, err);
		it->refused = 1;
		json_decref(m);
		return;
	}
	if (!(o->allowed & TYPE_BIT(t))) {
		snprintf(err, sizeof(err), "%s messages are not accepted here",
		    ms_msg_type_name(t));
		it->reply = error_reply(m, "invalid", r->source, r->lineno, NULL,
		    err);
		it->refused = 1;
		json_decref(m);
		return;
	}
	it->msg = m;
	it->type = t;
	/* what the main thread would look up for an event, looked up here */
	evfields_fill(&it->f, m);
}

/*
 * The feeder: a thread that reads and parses lines while the main thread
 * applies the batch before, so that JSON parsing and validation (a
 * quarter of the work of a take) run on a second core.  It hands over
 * parsed items through a bounded ring.  The main thread commits a batch
 * when the ring is empty and the feeder is idle (no whole line waiting
 * on the input), exactly as it would reading the lines itself: the lines
 * already waiting go in one batch, and a lone line is never delayed.
 * Signals go to the main thread only; it waits in poll() on a pipe the
 * feeder writes to, so SIGTERM interrupts the wait.
 */
struct feed {
	pthread_mutex_t	 mu;
	pthread_cond_t	 space;		/* the feeder waits for room */
	struct item	*ring;
	size_t		 cap, head, count;
	int		 idle;		/* no whole line waiting on input */
	int		 done;		/* end of input, or a read error */
	int		 error;		/* ... a read error, err says which */
	int		 stop;		/* the main thread wants no more */
	int		 main_waits;	/* the main thread sleeps on wake[0] */
	int		 wake[2];	/* feeder -> main thread */
	int		 halt[2];	/* main thread -> feeder in poll() */
	/* messages applied, for the feeder to free: its core has time */
	json_t		**trash;
	size_t		 ntrash, trashcap;
	char		 err[512];
	struct ms_reader r;
	const struct loop_opts *o;
};

/* With f->mu held. */
static void
feed_wake(struct feed *f)
{
	if (f->main_waits) {
		f->main_waits = 0;
		while (write(f->wake[1], "", 1) == -1 && errno == EINTR)
			;
	}
}

static void
feed_set_idle(struct feed *f, int idle)
{
	pthread_mutex_lock(&f->mu);
	f->idle = idle;
	if (idle)
		feed_wake(f);
	pthread_mutex_unlock(&f->mu);
}

/* Block until input or a halt; -1 on a halt. */
static int
feed_wait_input(struct feed *f)
{
	struct pollfd p[2] = {
		{ .fd = f->r.fd, .events = POLLIN },
		{ .fd = f->halt[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return 0;	/* let read() say what is wrong */
		}
		if (p[1].revents)
			return -1;
		return 0;
	}
}

static void *
feeder(void *arg)
{
	struct feed *f = arg;
	struct item it;
	char err[512];
	int rc;

	for (;;) {
		json_t **trash;
		size_t ntrash;

		pthread_mutex_lock(&f->mu);
		while (f->count == f->cap && !f->stop && f->ntrash == 0)
			pthread_cond_wait(&f->space, &f->mu);
		rc = f->stop;
		trash = f->trash;
		ntrash = f->ntrash;
		f->trash = NULL;
		f->ntrash = f->trashcap = 0;
		pthread_mutex_unlock(&f->mu);
		for (size_t i = 0; i < ntrash; i++)
			json_decref(trash[i]);
		free(trash);
		if (rc)
			break;
		if (ntrash > 0)
			continue;	/* look at the room again */
		rc = ms_reader_line(&f->r, 1, err, sizeof(err));
		if (rc == MS_READ_AGAIN) {
			/* nothing whole is waiting: the batch may commit */
			feed_set_idle(f, 1);
			if (feed_wait_input(f) == -1)
				break;
			feed_set_idle(f, 0);
			continue;
		}
		if (rc == MS_READ_LINE)
			item_parse(&it, &f->r, f->o);
		else if (rc == MS_READ_BAD)
			item_bad(&it, &f->r, strstr(err, "longer") != NULL, err);
		pthread_mutex_lock(&f->mu);
		if (rc == MS_READ_LINE || rc == MS_READ_BAD) {
			f->ring[(f->head + f->count) % f->cap] = it;
			f->count++;
		} else {
			f->done = 1;
			if (rc != MS_READ_EOF) {
				f->error = 1;
				snprintf(f->err, sizeof(f->err), "%s", err);
			}
		}
		feed_wake(f);
		pthread_mutex_unlock(&f->mu);
		if (rc != MS_READ_LINE && rc != MS_READ_BAD)
			break;
	}
	return NULL;
}

static void
item_free(struct item *it)
{
	free(it->raw);
	json_decref(it->reply);
	json_decref(it->msg);
	memset(it, 0, sizeof(*it));
}

static int
feed_start(struct feed *f, pthread_t *tid, int fd, const char *source,
    const struct loop_opts *o, size_t cap)
{
	sigset_t all, old;
	int rc;

	memset(f, 0, sizeof(*f));
	f->wake[0] = f->wake[1] = f->halt[0] = f->halt[1] = -1;
	f->o = o;
	f->cap = cap;
	ms_reader_init(&f->r, fd, source);
	if ((f->ring = calloc(cap, sizeof(*f->ring))) == NULL ||
	    pipe(f->wake) == -1 || pipe(f->halt) == -1) {
		ms_warn("feeder");
		return -1;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->space, NULL);
	/* the feeder takes no signals: they interrupt the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(tid, NULL, feeder, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ms_warnx("pthread_create: %s", strerror(rc));
		return -1;
	}
	return 0;
}

static void
feed_stop(struct feed *f, pthread_t tid, int started)
{
	if (started) {
		pthread_mutex_lock(&f->mu);
		f->stop = 1;
		pthread_cond_signal(&f->space);
		pthread_mutex_unlock(&f->mu);
		while (write(f->halt[1], "", 1) == -1 && errno == EINTR)
			;
		pthread_join(tid, NULL);
		pthread_cond_destroy(&f->space);
		pthread_mutex_destroy(&f->mu);
	}
	for (; f->ring != NULL && f->count > 0; f->count--) {
		item_free(&f->ring[f->head]);
		f->head = (f->head + 1) % f->cap;
	}
	free(f->ring);
	for (size_t i = 0; i < f->ntrash; i++)
		json_decref(f->trash[i]);
	free(f->trash);
	for (int i = 0; i < 2; i++) {
		if (f->wake[i] != -1)
			close(f->wake[i]);
		if (f->halt[i] != -1)
			close(f->halt[i]);
	}
	ms_reader_free(&f->r);
}

/*
 * Give the batch's messages to the feeder to free (or free them here if
 * there is no room for the list).
 */
static void
feed_trash(struct feed *f, struct batch *b)
{
	size_t need;
	json_t **nt;

	pthread_mutex_lock(&f->mu);
	need = f->ntrash + b->n;
	if (need > f->trashcap) {
		size_t cap = f->trashcap ? f->trashcap : 1024;

		while (cap < need)
			cap *= 2;
		if ((nt = realloc(f->trash, cap * sizeof(*nt))) != NULL) {
			f->trash = nt;
			f->trashcap = cap;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->items[i].msg == NULL)
			continue;
		if (f->ntrash < f->trashcap)
			f->trash[f->ntrash++] = b->items[i].msg;
		else
			json_decref(b->items[i].msg);
		b->items[i].msg = NULL;
	}
	pthread_cond_signal(&f->space);
	pthread_mutex_unlock(&f->mu);
}

/*
 * The next batch: the first line blocks; the rest are what is already
 * waiting.  Returns 0, or -1 when no more lines will come.
 */
static int
feed_batch(struct feed *f, struct batch *b, size_t max, struct watch *w)
{
	char c[64];
	int more;

	b->n = 0;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		if (f->count > 0) {
			if (f->count == f->cap)
				pthread_cond_signal(&f->space);
			while (f->count > 0 && b->n < max) {
				b->items[b->n++] = f->ring[f->head];
				f->head = (f->head + 1) % f->cap;
				f->count--;
			}
		}
		if (b->n == max || f->done || ms_sig_stop ||
		    (b->n > 0 && f->idle) || watch_due(w))
			break;
		f->main_waits = 1;
		pthread_mutex_unlock(&f->mu);
		{
			struct pollfd p[2] = {
				{ .fd = f->wake[0], .events = POLLIN },
				{ .fd = w->n > 0 ? w->fd : -1, .events = POLLIN },
			};

			if (poll(p, 2, watch_timeout(w)) > 0 && p[1].revents)
				w->rang = 1;
		}
		pthread_mutex_lock(&f->mu);
		if (!f->main_waits)	/* woken: take the byte */
			while (read(f->wake[0], c, 1) == -1 && errno == EINTR)
				;
		f->main_waits = 0;
	}
	more = !(f->done && f->count == 0);
	pthread_mutex_unlock(&f->mu);
	return more ? 0 : -1;
}

/* A charged result applied, by its status. */
static void
count_charged(long *counts, const struct item *it)
{
	const char *status = str(it->msg, "status");

	if (strcmp(status, "succeeded") == 0)
		counts[CHARGED_PAID]++;
	else if (strcmp(status, "declined") == 0)
		counts[CHARGED_DECLINED]++;
	else if (strcmp(status, "failed") == 0)
		counts[CHARGED_FAILED]++;
	else
		counts[CHARGED_UNKNOWN]++;
}

long
ledger_loop(struct store *st, int fd, const char *source,
    const struct loop_opts *o)
{
	struct feed f;
	struct batch b;
	pthread_t tid;
	size_t max = o->batch_max > 0 ? (size_t)o->batch_max : 1000;
	long refused = 0;
	struct watch w = { .home = st->home, .fd = -1 };
	int rc, eof = 0, fatal = 0, started, ring;
	char master[300];
	unsigned long perm;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.source = source;
	started = feed_start(&f, &tid, fd, source, o, 2 * max) == 0;
	if (!started || (b.items = calloc(max, sizeof(*b.items))) == NULL) {
		if (started)
			ms_warn("calloc");
		feed_stop(&f, tid, started);
		return -1;
	}
	while (!eof && !fatal && !ms_sig_stop && !ms_write_failed()) {
		eof = feed_batch(&f, &b, max, &w) == -1;
		if (watch_due(&w))
			watch_check(st, &w);
		if (b.n == 0)
			continue;
		rc = 0;
		if (!replica_writable(st, master, sizeof(master)) &&
		    batch_not_master(&b, master, 0) == 0)
			goto answer;
		perm = ms_rep_perm_failures();
		watchdog_arm();
		rc = run_txn(st, batch_run, &b);
		watchdog_disarm();
		if (rc == 0 && st->replicated && ms_rep_perm_failures() != perm)
			batch_not_durable(&b);
		if (rc != 0 && st->replicated &&
		    !replica_writable(st, master, sizeof(master))) {
			/* the master changed under the batch */
			batch_not_master(&b, master, 1);
			rc = 0;
			goto answer;
		}
		if (rc != 0) {
			ms_warnx("%s: lines %lu-%lu not applied: %s", source,
			    b.items[0].line, b.items[b.n - 1].line,
			    db_strerror(rc));
			for (size_t i = 0; i < b.n; i++) {
				if (b.items[i].msg == NULL)
					continue;
				json_decref(b.items[i].reply);
				free(b.items[i].raw);
				b.items[i].raw = NULL;
				b.items[i].reply = error_reply(b.items[i].msg,
				    "internal", source, b.items[i].line, NULL,
				    db_strerror(rc));
				b.items[i].refused = 1;
			}
			fatal = 1;
		}
		/*
		 * keep the log bounded: a checkpoint once 32 MiB of log or a
		 * minute has passed (a no-op otherwise), so old logs can go.
		 * Each writes every page dirtied since the last, and the
		 * owners' index pages are dirtied all over again between
		 * two: at 8 MiB a quarter of them were written again and
		 * again (a twentieth of a take's time).  Recovery replays at
		 * most this much log, a second or two.
		 */
		watchdog_arm();
		st->env->txn_checkpoint(st->env, 32768, 1, 0);
		watchdog_disarm();
		/* a settlement opened or ended: wake its followers */
		ring = 0;
		for (size_t i = 0; rc == 0 && i < b.n; i++)
			if (!b.items[i].refused &&
			    (b.items[i].type == MS_MSG_PAY ||
			    b.items[i].type == MS_MSG_CHARGED))
				ring = 1;
		if (ring)
			bell_ring(st->home, SETTLEMENT_BELL);
answer:
		for (size_t i = 0; i < b.n; i++) {
			struct item *it = &b.items[i];

			if (it->refused)
				refused++;
			else if (o->charged != NULL && it->type == MS_MSG_CHARGED &&
			    !it->unchanged)
				count_charged(o->charged, it);
			if ((o->quiet || o->warn) && it->refused)
				ms_warn_at(source, it->line, "%s",
				    str(it->reply, "message"));
			if (!o->quiet && it->raw != NULL)
				ms_write_raw(stdout, it->raw, it->rawlen, i + 1 == b.n);
			else if (!o->quiet)
				ms_write_json(stdout, it->reply, i + 1 == b.n);
			if (o->outcomes && !it->refused && it->type == MS_MSG_PAY &&
			    json_object_get(it->msg, "wait") != NULL)
				watch_add(&w, it->msg, it->reply);
			free(it->raw);
			it->raw = NULL;
			json_decref(it->reply);
			it->reply = NULL;
		}
		feed_trash(&f, &b);
	}
	/*
	 * The input ended with outcomes owed: they are waited for (each
	 * within its own wait), so "pay, then hang up the write side" hears
	 * them.  A signal ends the wait.
	 */
	while (eof && !fatal && w.n > 0 && !ms_sig_stop && !ms_write_failed()) {
		struct pollfd p = { .fd = w.fd, .events = POLLIN };

		if (!watch_due(&w) && ms_sig_poll(&p, w.fd != -1 ? 1 : 0,
		    watch_timeout(&w)) > 0)
			w.rang = 1;
		if (watch_due(&w))
			watch_check(st, &w);
	}
	watch_free(&w);
	if (eof && f.error) {
		ms_warnx("%s: %s", source, f.err);
		fatal = 1;
	}
	if (!eof && ms_sig_stop && o->stopped != NULL)
		*o->stopped = 1;
	feed_stop(&f, tid, 1);
	free(b.items);
	return fatal ? -1 : refused;
}
