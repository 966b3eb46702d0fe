/* sync/outbox.c: the robot's durable outbox (see outbox.h). */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

#define OUTBOX_FILE	"outbox.db"
#define RETRIES		100
#define REOPEN_MS	2000	/* a lock busy this long: reopen, maybe recover */
#define GIVEUP_MS	60000	/* a lock busy this long: give up */

static int
open_db(DB_ENV *env, DB **dbp, const char *name, char *err, size_t errlen)
{
	DB *db;
	int rc;

	*dbp = NULL;
	if ((rc = db_create(&db, env, 0)) != 0) {
		SET_ERR("db_create: %s", db_strerror(rc));
		return rc;
	}
	rc = db->open(db, NULL, OUTBOX_FILE, name, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | DB_THREAD, 0600);
	if (rc != 0) {
		SET_ERR("%s/%s: %s", OUTBOX_FILE, name, db_strerror(rc));
		db->close(db, 0);
		return rc;
	}
	*dbp = db;
	return 0;
}

int
outbox_open(struct outbox *ob, const char *home, const char *robot,
    char *err, size_t errlen)
{
	int rc, tries;

	memset(ob, 0, sizeof(*ob));
	if (strlen(home) >= sizeof(ob->home)) {
		SET_ERR("%.40s...: directory name too long", home);
		return ENAMETOOLONG;
	}
	snprintf(ob->home, sizeof(ob->home), "%s", home);
	snprintf(ob->robot, sizeof(ob->robot), "%s", robot);
	for (tries = 0; tries < RETRIES; tries++) {
		if ((rc = ms_dbenv_open(home, NULL, &ob->env, err, errlen)) != 0)
			return rc;
		/* two first openers may race to create the file: retry */
		if ((rc = open_db(ob->env, &ob->events, "events", err, errlen)) == 0 &&
		    (rc = open_db(ob->env, &ob->state, "state", err, errlen)) == 0 &&
		    (rc = open_db(ob->env, &ob->held, "held", err, errlen)) == 0)
			return 0;
		outbox_abandon(ob);
		if (!outbox_retryable(rc) && !ms_dbenv_needs_reopen(rc) &&
		    rc != EEXIST)
			return rc;
	}
	return rc;
}

void
outbox_close(struct outbox *ob)
{
	if (ob->events != NULL)
		ob->events->close(ob->events, 0);
	if (ob->state != NULL)
		ob->state->close(ob->state, 0);
	if (ob->held != NULL)
		ob->held->close(ob->held, 0);
	ob->events = ob->state = ob->held = NULL;
	if (ob->env != NULL)
		ms_dbenv_close(ob->env);
	ob->env = NULL;
}

/*
 * Let go of a damaged environment: no sync and no checkpoint, which
 * would wait forever for a page a killed process left pinned.
 */
void
outbox_abandon(struct outbox *ob)
{
	if (ob->events != NULL)
		ob->events->close(ob->events, DB_NOSYNC);
	if (ob->state != NULL)
		ob->state->close(ob->state, DB_NOSYNC);
	if (ob->held != NULL)
		ob->held->close(ob->held, DB_NOSYNC);
	ob->events = ob->state = ob->held = NULL;
	if (ob->env != NULL)
		ob->env->close(ob->env, 0);
	ob->env = NULL;
}

int
outbox_reopen(struct outbox *ob, char *err, size_t errlen)
{
	char home[sizeof(ob->home)], robot[sizeof(ob->robot)];

	memcpy(home, ob->home, sizeof(home));
	memcpy(robot, ob->robot, sizeof(robot));
	outbox_abandon(ob);
	return outbox_open(ob, home, robot, err, errlen);
}

int
outbox_retryable(int rc)
{
	return rc == DB_LOCK_DEADLOCK || rc == DB_LOCK_NOTGRANTED;
}

int
outbox_again(struct outbox *ob, struct outbox_retry *r, int rc)
{
	char err[256];
	int64_t now = ms_mono_ms();

	if (r->start == 0)
		r->start = r->reopened = now;
	r->tries++;
	switch (rc) {
	case DB_LOCK_DEADLOCK:
		/* a dead waiter can make every retry the victim: pause too */
		if (r->tries < 10)
			return 0;
		/* FALLTHROUGH */
	case DB_LOCK_NOTGRANTED:
		if (now - r->start >= GIVEUP_MS)
			return rc;
		if (now - r->reopened >= REOPEN_MS) {
			r->reopened = now;
			outbox_abandon(ob);
		} else {
			poll(NULL, 0, r->tries < 6 ? 1 << r->tries : 50);
		}
		break;
	case DB_RUNRECOVERY:
		if (r->tries > RETRIES)
			return rc;
		outbox_abandon(ob);
		break;
	default:
		return rc;
	}
	if (ob->env == NULL && (rc = outbox_reopen(ob, err, sizeof(err))) != 0) {
		ms_warnx("%s", err);
		return rc;
	}
	return 0;
}

int
outbox_txn_begin(struct outbox *ob, DB_TXN **txn)
{
	return ob->env->txn_begin(ob->env, NULL, txn, DB_TXN_NOWAIT);
}

/* "ROBOT\0" + seq: the robot's events sort together, in seq order. */
static size_t
event_key(const struct outbox *ob, int64_t seq, unsigned char *buf)
{
	size_t n = strlen(ob->robot) + 1;

	memcpy(buf, ob->robot, n);
	ms_be64_put(buf + n, seq);
	return n + 8;
}

int
outbox_counter_get(struct outbox *ob, DB_TXN *txn, const char *name,
    int64_t *out, int rmw)
{
	char kbuf[MS_ID_MAX + 16];
	unsigned char vbuf[8];
	DBT key, data;
	int rc;

	snprintf(kbuf, sizeof(kbuf), "%s:%s", name, ob->robot);
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)strlen(kbuf);
	data.data = vbuf;
	data.ulen = sizeof(vbuf);
	data.flags = DB_DBT_USERMEM;
	rc = ob->state->get(ob->state, txn, &key, &data, rmw ? DB_RMW : 0);
	if (rc == DB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (data.size != 8)
		return DB_NOTFOUND;	/* never written by us: treat as damage */
	*out = ms_be64_get(vbuf);
	return 0;
}

int
outbox_counter_put(struct outbox *ob, DB_TXN *txn, const char *name,
    int64_t value)
{
	char kbuf[MS_ID_MAX + 16];
	unsigned char vbuf[8];
	DBT key, data;

	snprintf(kbuf, sizeof(kbuf), "%s:%s", name, ob->robot);
	ms_be64_put(vbuf, value);
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)strlen(kbuf);
	data.data = vbuf;
	data.size = sizeof(vbuf);
	return ob->state->put(ob->state, txn, &key, &data, 0);
}

int
outbox_event_put(struct outbox *ob, DB_TXN *txn, int64_t seq,
    const char *line, size_t len)
{
	unsigned char kbuf[MS_ID_MAX + 16];
	DBT key, data;

	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, seq, kbuf);
	data.data = (void *)line;
	data.size = (u_int32_t)len;
	return ob->events->put(ob->events, txn, &key, &data, 0);
}

/* The record of our robot's seq in db (events or held), malloc'ed. */
static int
seq_get(struct outbox *ob, DB *db, DB_TXN *txn, int64_t seq, u_int32_t flags,
    DBT *data)
{
	unsigned char kbuf[MS_ID_MAX + 16];
	DBT key;

	memset(&key, 0, sizeof(key));
	memset(data, 0, sizeof(*data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, seq, kbuf);
	data->flags = DB_DBT_MALLOC;
	return db->get(db, txn, &key, data, flags);
}

int
outbox_event_get(struct outbox *ob, DB_TXN *txn, int64_t seq, char **line,
    size_t *len)
{
	DBT data;
	int rc;

	*line = NULL;
	if ((rc = seq_get(ob, ob->events, txn, seq, 0, &data)) != 0)
		return rc;
	*line = data.data;
	*len = data.size;
	return 0;
}

/* Is this cursor key one of our robot's events?  Then its seq. */
static int
our_key(const struct outbox *ob, const DBT *key, int64_t *seq)
{
	size_t n = strlen(ob->robot) + 1;

	if (key->size != n + 8 || memcmp(key->data, ob->robot, n) != 0)
		return 0;
	*seq = ms_be64_get((const unsigned char *)key->data + n);
	return 1;
}

unsigned int outbox_watchdog_secs;

static void
close_from_to(unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return;
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	for (unsigned int fd = lo; fd <= hi && fd < 65536; fd++)
		close((int)fd);
}

static volatile pid_t restart_child;

static void
pass_on(int sig)
{
	if (restart_child > 0)
		kill(restart_child, sig);
}

void
outbox_restart(char **argv, int keep)
{
	struct sigaction sa;
	int st;

	if (keep >= 3) {
		close_from_to(3, (unsigned int)keep - 1);
		close_from_to((unsigned int)keep + 1, ~0U);
	} else
		close_from_to(3, ~0U);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_on;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	switch ((restart_child = fork())) {
	case -1:
		_exit(MS_EX_TEMPFAIL);
	case 0:
		/* the handler's signal is blocked here unless SA_NODEFER */
		execv("/proc/self/exe", argv);
		_exit(MS_EX_TEMPFAIL);
	}
	if (keep >= 0)
		close(keep);
	while (waitpid(restart_child, &st, 0) == -1)
		if (errno != EINTR)
			_exit(MS_EX_TEMPFAIL);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* Run fn in a transaction until it commits (see outbox_again). */
static int
with_txn(struct outbox *ob, u_int32_t commit_flags,
    int (*fn)(struct outbox *, DB_TXN *, void *), void *arg)
{
	struct outbox_retry r = { 0, 0, 0 };
	DB_TXN *txn;
	int rc;

	/* see outbox_watchdog_secs: SIGALRM if this never returns */
	alarm(outbox_watchdog_secs);
	for (;;) {
		if ((rc = outbox_txn_begin(ob, &txn)) == 0) {
			if ((rc = fn(ob, txn, arg)) == 0)
				rc = txn->commit(txn, commit_flags);
			else
				txn->abort(txn);
		}
		if (rc == 0 || (rc = outbox_again(ob, &r, rc)) != 0) {
			alarm(0);
			return rc;
		}
	}
}

struct read_args {
	int64_t			 after;
	struct outbox_event	*ev;
	size_t			 max, n;
};

static void
free_events(struct outbox_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ev[i].line);
		ev[i].line = NULL;
	}
}

static int
read_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct read_args *a = arg;
	unsigned char kbuf[MS_ID_MAX + 16];
	DBC *c;
	DBT key, data;
	int64_t seq;
	int rc, rc2;

	free_events(a->ev, a->n);
	a->n = 0;
	if ((rc = ob->events->cursor(ob->events, txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, a->after + 1, kbuf);
	key.ulen = sizeof(kbuf);
	key.flags = DB_DBT_USERMEM;
	data.flags = DB_DBT_REALLOC;
	for (rc = c->get(c, &key, &data, DB_SET_RANGE); rc == 0 && a->n < a->max;
	    rc = c->get(c, &key, &data, DB_NEXT)) {
		if (!our_key(ob, &key, &seq))
			break;
		if ((a->ev[a->n].line = malloc(data.size + 1)) == NULL) {
			rc = ENOMEM;
			break;
		}
		memcpy(a->ev[a->n].line, data.data, data.size);
		a->ev[a->n].line[data.size] = '\0';
		a->ev[a->n].len = data.size;
		a->ev[a->n].seq = seq;
		a->n++;
	}
	free(data.data);
	if (rc == DB_NOTFOUND)
		rc = 0;
	if ((rc2 = c->close(c)) != 0 && rc == 0)
		rc = rc2;
	if (rc != 0) {
		free_events(a->ev, a->n);
		a->n = 0;
	}
	return rc;
}

int
outbox_read_after(struct outbox *ob, int64_t after, struct outbox_event *ev,
    size_t max, size_t *n)
{
	struct read_args a = { after, ev, max, 0 };
	int rc;

	rc = with_txn(ob, 0, read_fn, &a);
	*n = a.n;
	return rc;
}

/* A held record for the event line of seq, as outbox.h describes. */
static char *
held_record(const struct outbox *ob, int64_t seq, const char *line,
    size_t len, const char *code, const char *message, int retry)
{
	char ts[MS_TIME_LEN];
	json_t *ev, *r;
	char *s;

	ms_time_format(ms_now_ms(), ts);
	if ((ev = json_loadb(line, len, 0, NULL)) == NULL)
		ev = json_stringn(line, len);	/* kept as it was, whatever it is */
	r = json_pack("{s:s,s:I,s:s,s:s?,s:s,s:b,s:o}", "robot", ob->robot,
	    "seq", (json_int_t)seq, "code", code, "message", message, "at", ts,
	    "retry", retry, "event", ev);
	if (r == NULL)
		return NULL;
	s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	return s;
}

static int
held_put(struct outbox *ob, DB_TXN *txn, int64_t seq, const char *rec)
{
	unsigned char kbuf[MS_ID_MAX + 16];
	DBT key, data;

	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, seq, kbuf);
	data.data = (void *)rec;
	data.size = (u_int32_t)strlen(rec);
	return ob->held->put(ob->held, txn, &key, &data, 0);
}

static int
held_get(struct outbox *ob, DB_TXN *txn, int64_t seq, json_t **rec)
{
	DBT data;
	int rc;

	*rec = NULL;
	if ((rc = seq_get(ob, ob->held, txn, seq, DB_RMW, &data)) != 0)
		return rc;
	*rec = json_loadb(data.data, data.size, 0, NULL);
	free(data.data);
	return *rec == NULL ? DB_NOTFOUND : 0;
}

struct mark_args {
	int64_t				 upto;
	const struct outbox_refusal	*ref;
	size_t				 nref;
};

static int
mark_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct mark_args *m = arg;
	int64_t upto = m->upto, acked, seq;
	unsigned char kbuf[MS_ID_MAX + 16];
	DBC *c;
	DBT key, data;
	int rc, rc2;

	/* state first, then events: the order record takes its locks in */
	if ((rc = outbox_counter_get(ob, txn, "acked", &acked, 1)) != 0)
		return rc;
	if (upto <= acked)
		return 0;
	if ((rc = outbox_counter_put(ob, txn, "acked", upto)) != 0)
		return rc;
	/* what the server did not apply is kept, before it leaves events */
	for (size_t i = 0; i < m->nref; i++) {
		char *line, *rec;
		size_t len;

		if (m->ref[i].seq <= acked)
			continue;
		if ((rc = outbox_event_get(ob, txn, m->ref[i].seq, &line,
		    &len)) == DB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		rec = held_record(ob, m->ref[i].seq, line, len, m->ref[i].code,
		    m->ref[i].message, 0);
		free(line);
		if (rec == NULL)
			return ENOMEM;
		rc = held_put(ob, txn, m->ref[i].seq, rec);
		free(rec);
		if (rc != 0)
			return rc;
	}
	if ((rc = ob->events->cursor(ob->events, txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, 0, kbuf);
	key.ulen = sizeof(kbuf);
	key.flags = DB_DBT_USERMEM;
	data.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;	/* keys only */
	for (rc = c->get(c, &key, &data, DB_SET_RANGE | DB_RMW); rc == 0;
	    rc = c->get(c, &key, &data, DB_NEXT | DB_RMW)) {
		if (!our_key(ob, &key, &seq) || seq > upto)
			break;
		if ((rc = c->del(c, 0)) != 0)
			break;
	}
	if (rc == DB_NOTFOUND)
		rc = 0;
	if ((rc2 = c->close(c)) != 0 && rc == 0)
		rc = rc2;
	return rc;
}

int
outbox_mark_delivered(struct outbox *ob, int64_t seq,
    const struct outbox_refusal *ref, size_t n)
{
	struct mark_args m = { seq, ref, n };

	/* a held event must survive a crash: those commits are synchronous */
	return with_txn(ob, n > 0 ? 0 : DB_TXN_NOSYNC, mark_fn, &m);
}

/* ----- held events ----- */

struct held_args {
	void			(*fn)(const char *, size_t, void *);
	void			*arg;
	int64_t			 seq;	/* retry: 0 for all */
	size_t			 n, max;
	struct outbox_event	*ev;
	const char		*code, *message;
	struct ms_buf		 out;	/* list: the records, '\n' each */
};

/* Each held record of the robot: fn(rec, len, arg) in a cursor walk. */
static int
held_walk(struct outbox *ob, DB_TXN *txn, int rmw,
    int (*fn)(struct outbox *, DBC *, DBT *, DBT *, int64_t, void *), void *arg)
{
	unsigned char kbuf[MS_ID_MAX + 16];
	DBC *c;
	DBT key, data;
	int64_t seq;
	int rc, rc2;

	if ((rc = ob->held->cursor(ob->held, txn, &c, 0)) != 0)
		return rc;
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = kbuf;
	key.size = (u_int32_t)event_key(ob, 0, kbuf);
	key.ulen = sizeof(kbuf);
	key.flags = DB_DBT_USERMEM;
	data.flags = DB_DBT_REALLOC;
	for (rc = c->get(c, &key, &data, DB_SET_RANGE | (rmw ? DB_RMW : 0));
	    rc == 0; rc = c->get(c, &key, &data, DB_NEXT | (rmw ? DB_RMW : 0))) {
		if (!our_key(ob, &key, &seq))
			break;
		if ((rc = fn(ob, c, &key, &data, seq, arg)) != 0)
			break;
	}
	free(data.data);
	if (rc == DB_NOTFOUND || rc == -1)
		rc = 0;
	if ((rc2 = c->close(c)) != 0 && rc == 0)
		rc = rc2;
	return rc;
}

static int
list_one(struct outbox *ob, DBC *c, DBT *key, DBT *data, int64_t seq,
    void *arg)
{
	struct held_args *a = arg;

	(void)ob, (void)c, (void)key, (void)seq;
	ms_buf_add(&a->out, data->data, data->size);
	ms_buf_add(&a->out, "\n", 1);
	return a->out.failed ? ENOMEM : 0;
}

static int
list_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct held_args *a = arg;

	a->out.len = 0;
	return held_walk(ob, txn, 0, list_one, a);
}

int
outbox_held_list(struct outbox *ob, void (*fn)(const char *, size_t, void *),
    void *arg)
{
	struct held_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = with_txn(ob, 0, list_fn, &a)) == 0)
		for (size_t o = 0; o < a.out.len; ) {
			char *nl = memchr(a.out.p + o, '\n', a.out.len - o);

			fn(a.out.p + o, (size_t)(nl - (a.out.p + o)), arg);
			o = (size_t)(nl - a.out.p) + 1;
		}
	free(a.out.p);
	return rc;
}

static int
retry_one(struct outbox *ob, DBC *c, DBT *key, DBT *data, int64_t seq,
    void *arg)
{
	struct held_args *a = arg;
	json_t *r;
	char *s;
	DBT d;
	int rc;

	(void)ob, (void)key;
	if (a->seq != 0 && seq != a->seq)
		return 0;
	if ((r = json_loadb(data->data, data->size, 0, NULL)) == NULL)
		return 0;
	json_object_set_new(r, "retry", json_true());
	s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	if (s == NULL)
		return ENOMEM;
	memset(&d, 0, sizeof(d));
	d.data = s;
	d.size = (u_int32_t)strlen(s);
	rc = c->put(c, key, &d, DB_CURRENT);
	free(s);
	if (rc == 0)
		a->n++;
	return rc;
}

static int
retry_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct held_args *a = arg;

	a->n = 0;
	return held_walk(ob, txn, 1, retry_one, a);
}

int
outbox_held_retry(struct outbox *ob, int64_t seq, size_t *n)
{
	struct held_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.seq = seq;
	rc = with_txn(ob, 0, retry_fn, &a);
	*n = a.n;
	return rc;
}

static int
due_one(struct outbox *ob, DBC *c, DBT *key, DBT *data, int64_t seq,
    void *arg)
{
	struct held_args *a = arg;
	json_t *r, *ev;
	char *line;

	(void)ob, (void)c, (void)key;
	if (a->n >= a->max)
		return -1;	/* enough: ends the walk */
	if ((r = json_loadb(data->data, data->size, 0, NULL)) == NULL)
		return 0;
	ev = json_object_get(r, "event");
	line = !json_is_true(json_object_get(r, "retry")) ? NULL :
	    json_is_string(ev) ? strdup(json_string_value(ev)) :
	    json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	if (line != NULL) {
		a->ev[a->n].seq = seq;
		a->ev[a->n].line = line;
		a->ev[a->n].len = strlen(line);
		a->n++;
	}
	return 0;
}

static int
due_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct held_args *a = arg;

	free_events(a->ev, a->n);
	a->n = 0;
	return held_walk(ob, txn, 0, due_one, a);
}

int
outbox_held_due(struct outbox *ob, struct outbox_event *ev, size_t max,
    size_t *n)
{
	struct held_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.ev = ev;
	a.max = max;
	if ((rc = with_txn(ob, 0, due_fn, &a)) != 0) {
		free_events(ev, a.n);
		a.n = 0;
	}
	*n = a.n;
	return rc;
}

static int
settle_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct held_args *a = arg;
	unsigned char kbuf[MS_ID_MAX + 16];
	json_t *r, *ev;
	char *line, *rec;
	DBT key;
	int rc;

	if ((rc = held_get(ob, txn, a->seq, &r)) != 0)
		return rc == DB_NOTFOUND ? 0 : rc;
	if (a->code == NULL) {
		json_decref(r);
		memset(&key, 0, sizeof(key));
		key.data = kbuf;
		key.size = (u_int32_t)event_key(ob, a->seq, kbuf);
		rc = ob->held->del(ob->held, txn, &key, 0);
		return rc == DB_NOTFOUND ? 0 : rc;
	}
	ev = json_object_get(r, "event");
	line = json_is_string(ev) ? strdup(json_string_value(ev)) :
	    json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	if (line == NULL)
		return ENOMEM;
	rec = held_record(ob, a->seq, line, strlen(line), a->code, a->message, 0);
	free(line);
	if (rec == NULL)
		return ENOMEM;
	rc = held_put(ob, txn, a->seq, rec);
	free(rec);
	return rc;
}

int
outbox_held_settle(struct outbox *ob, int64_t seq, const char *code,
    const char *message)
{
	struct held_args a;

	memset(&a, 0, sizeof(a));
	a.seq = seq;
	a.code = code;
	a.message = message;
	return with_txn(ob, 0, settle_fn, &a);
}

struct pos_args {
	int64_t	last, acked;
};

static int
pos_fn(struct outbox *ob, DB_TXN *txn, void *arg)
{
	struct pos_args *p = arg;
	int64_t next;
	int rc;

	if ((rc = outbox_counter_get(ob, txn, "next", &next, 0)) != 0)
		return rc;
	p->last = next > 0 ? next - 1 : 0;
	return outbox_counter_get(ob, txn, "acked", &p->acked, 0);
}

int
outbox_positions(struct outbox *ob, int64_t *last, int64_t *acked)
{
	struct pos_args p = { 0, 0 };
	int rc;

	rc = with_txn(ob, 0, pos_fn, &p);
	*last = p.last;
	*acked = p.acked;
	return rc;
}
