/*
 * events.c: which events have been applied, for exactly-once.
 *
 * events.db holds runs of applied sequence numbers per robot: the key
 * is the robot id, a NUL and the run's first seq (8 bytes big-endian),
 * the data its last seq.  A robot sends its events in seq order, so a
 * run grows by one with each event and the whole history of a robot is
 * usually one record; gaps and events sent out of order make more runs,
 * which merge when the gaps fill.
 *
 * Within a batch the run an event extends is held in memory (struct
 * evrun) and written once, when the batch commits: a take then costs no
 * B-tree write for its id.  Every read of events.db here takes write
 * locks (DB_RMW), so a run held in memory cannot change under us: any
 * other process deciding about the same robot's seq must read the same
 * pages and waits for our commit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "store.h"

#define SEQ_NONE	INT64_MAX

/* Key robot\0seq into buf; its length. */
static size_t
run_key(unsigned char *buf, const char *robot, int64_t seq)
{
	size_t n = strlen(robot);

	memcpy(buf, robot, n + 1);
	ms_be64_put(buf + n + 1, seq);
	return n + 9;
}

/* The start seq of a key of robot, or -1 for another robot's key. */
static int64_t
run_start(const DBT *k, const char *robot)
{
	size_t n = strlen(robot);

	if (k->size != n + 9 || memcmp(k->data, robot, n + 1) != 0)
		return -1;
	return ms_be64_get((const unsigned char *)k->data + n + 1);
}

static int
run_write(struct store *st, DB_TXN *txn, struct evrun *r)
{
	unsigned char kb[MS_ID_MAX + 16], db[8];
	DBT k, d;

	if (!r->dirty || r->end < r->start)
		return 0;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = kb;
	k.size = (u_int32_t)run_key(kb, r->robot, r->start);
	ms_be64_put(db, r->end);
	d.data = db;
	d.size = 8;
	r->dirty = 0;
	return st->events->put(st->events, txn, &k, &d, 0);
}

/*
 * Find the runs of robot around seq in events.db: the last one starting
 * at or before seq (*pstart, *pend; *pstart = -1 if none) and the start
 * of the first one after it (*next, SEQ_NONE if none).
 */
static int
runs_around(struct store *st, DB_TXN *txn, const char *robot, int64_t seq,
    int64_t *pstart, int64_t *pend, int64_t *next)
{
	DBC *c;
	DBT k, d;
	int rc, rc2;

	*pstart = *pend = -1;
	*next = SEQ_NONE;
	if ((rc = st->events->cursor(st->events, txn, &c, 0)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_REALLOC;
	/* the first key after (robot, seq), then the one before it */
	if ((k.data = malloc(MS_ID_MAX + 16)) == NULL) {
		c->close(c);
		return ENOMEM;
	}
	k.size = (u_int32_t)run_key(k.data, robot, seq + 1);
	rc = c->get(c, &k, &d, DB_SET_RANGE | DB_RMW);
	if (rc == 0) {
		int64_t s = run_start(&k, robot);

		if (s > seq)
			*next = s;
		rc = c->get(c, &k, &d, DB_PREV | DB_RMW);
	} else if (rc == DB_NOTFOUND)
		rc = c->get(c, &k, &d, DB_LAST | DB_RMW);
	if (rc == 0 && d.size == 8 && (*pstart = run_start(&k, robot)) >= 0)
		*pend = ms_be64_get(d.data);
	else
		*pstart = -1;
	if (rc == DB_NOTFOUND)
		rc = 0;
	free(k.data);
	free(d.data);
	rc2 = c->close(c);
	return rc ? rc : rc2;
}

/* The run of robot held for this batch, or NULL. */
static struct evrun *
run_held(struct store *st, const char *robot)
{
	for (int i = 0; i < STORE_RUNS; i++)
		if (st->runs[i].used && strcmp(st->runs[i].robot, robot) == 0)
			return &st->runs[i];
	return NULL;
}

/* The held run of robot, or a free slot (written out first if need be). */
static int
run_slot(struct store *st, DB_TXN *txn, const char *robot, struct evrun **rp)
{
	struct evrun *victim = &st->runs[0];
	int rc;

	if ((*rp = run_held(st, robot)) != NULL)
		return 0;
	for (int i = 0; i < STORE_RUNS; i++) {
		if (!st->runs[i].used) {
			victim = &st->runs[i];
			break;
		}
		if (st->runs[i].used < victim->used)
			victim = &st->runs[i];	/* the least recently used */
	}
	if (victim->used && (rc = run_write(st, txn, victim)) != 0)
		return rc;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->robot, sizeof(victim->robot), "%s", robot);
	*rp = victim;
	return 0;
}

int
event_seen(struct store *st, DB_TXN *txn, const char *robot, int64_t seq,
    int *dup)
{
	struct evrun *r;
	int64_t ps, pe, next;
	int rc;

	*dup = 0;
	if (strlen(robot) > MS_ID_MAX || seq < 1 || seq == SEQ_NONE)
		return EINVAL;
	if ((rc = run_slot(st, txn, robot, &r)) != 0)
		return rc;
	r->used = ++st->runs_clock;
	if (r->loaded) {
		if (seq >= r->start && seq <= r->end) {
			*dup = 1;
			return 0;
		}
		if (seq == r->end + 1 && seq < r->next)
			return 0;
		if (seq == r->next) {
			*dup = 1;
			return 0;
		}
		/* elsewhere: write this run out and look again */
		if ((rc = run_write(st, txn, r)) != 0)
			return rc;
	}
	if ((rc = runs_around(st, txn, robot, seq, &ps, &pe, &next)) != 0)
		return rc;
	r->loaded = 1;
	r->dirty = 0;
	r->next = next;
	if (ps >= 0 && pe >= seq) {		/* inside a run */
		r->start = ps;
		r->end = pe;
		*dup = 1;
	} else if (ps >= 0 && pe == seq - 1) {	/* just after one */
		r->start = ps;
		r->end = pe;
	} else {				/* a new run starts here */
		r->start = seq;
		r->end = seq - 1;
	}
	return 0;
}

int
event_claim(struct store *st, DB_TXN *txn, const char *robot, int64_t seq)
{
	unsigned char kb[MS_ID_MAX + 16];
	struct evrun *r = run_held(st, robot);
	int64_t ps, pe, next;
	DBT k, d;
	int rc;

	/* event_seen() has just said seq is new and where it goes */
	if (r == NULL || !r->loaded || seq != r->end + 1 || seq >= r->next)
		return EINVAL;
	r->end = seq;
	r->dirty = 1;
	if (seq + 1 != r->next)
		return 0;
	/* the gap is filled: take the next run into this one */
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = kb;
	k.size = (u_int32_t)run_key(kb, robot, r->next);
	d.flags = DB_DBT_MALLOC;
	if ((rc = st->events->get(st->events, txn, &k, &d, DB_RMW)) != 0)
		return rc == DB_NOTFOUND ? EINVAL : rc;
	if (d.size == 8)
		r->end = ms_be64_get(d.data);
	free(d.data);
	if ((rc = st->events->del(st->events, txn, &k, 0)) != 0)
		return rc;
	if ((rc = runs_around(st, txn, robot, r->end, &ps, &pe, &next)) != 0)
		return rc;
	r->next = next;
	return 0;
}

int
events_flush(struct store *st, DB_TXN *txn)
{
	int rc;

	for (int i = 0; i < STORE_RUNS; i++)
		if (st->runs[i].used &&
		    (rc = run_write(st, txn, &st->runs[i])) != 0)
			return rc;
	return 0;
}

void
events_forget(struct store *st)
{
	memset(st->runs, 0, sizeof(st->runs));
	st->runs_clock = 0;
}

/*
 * A record of events.db, in a scan in key order, into the array arg: one
 * object a robot, with how many events were applied, the last seq and
 * the runs (more than one: gaps the robot has still to send).  For
 * mscart list robots and status.
 */
void
events_robot_add(const DBT *k, const DBT *d, void *arg)
{
	json_t *out = arg;
	const char *robot = k->data;
	size_t n = strnlen(robot, k->size);
	json_t *last = json_array_get(out, json_array_size(out) - 1);
	int64_t first, end;

	if (n + 9 != k->size || d->size != 8)
		return;
	first = ms_be64_get((const unsigned char *)k->data + n + 1);
	end = ms_be64_get(d->data);
	if (last != NULL && strlen(str(last, "robot")) == n &&
	    memcmp(str(last, "robot"), robot, n) == 0) {
		json_object_set_new(last, "events", json_integer(num(last,
		    "events") + (end - first + 1)));
		json_object_set_new(last, "last_seq", json_integer(end));
		json_object_set_new(last, "runs", json_integer(num(last,
		    "runs") + 1));
		return;
	}
	json_array_append_new(out, json_pack("{s:s%,s:I,s:I,s:i}", "robot",
	    robot, n, "events", (json_int_t)(end - first + 1), "last_seq",
	    (json_int_t)end, "runs", 1));
}
