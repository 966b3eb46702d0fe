/*
 * archive_pick.c: what mscart archive moves before a time: paid and void
 * lines with the ended settlements that name them, and the oldest audit
 * records.
 *
 * It is decided in passes over the databases with cursors, holding a bit
 * a line and a bit a settlement, never the records: lines.db once for
 * the paid and void lines old enough, then settlements.db until nothing
 * changes (usually once), and audit.db up to the first record that is
 * not old.  A line also moves only with the settlement that paid it:
 * archive_write() checks that as it reads the lines again, and in the
 * rare case it does not hold (a settlement that does not name a line
 * that names it) the line stays and the settlements are gone over again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

/* Numbers beyond this are no line's nor settlement's (a bitmap of 128 GB). */
#define BITS_MAX	((int64_t)1 << 40)

int
bits_add(struct bits *s, int64_t i)
{
	size_t byte, n;
	unsigned char *b;

	if (i < 0 || i >= BITS_MAX)
		return -1;
	byte = (size_t)(i / 8);
	if (byte >= s->n) {
		for (n = s->n ? s->n : 4096; n <= byte; n *= 2)
			;
		if ((b = realloc(s->b, n)) == NULL)
			return -1;
		memset(b + s->n, 0, n - s->n);
		s->b = b;
		s->n = n;
	}
	s->b[byte] |= (unsigned char)(1u << (i % 8));
	return 0;
}

void
bits_del(struct bits *s, int64_t i)
{
	if (i >= 0 && (uint64_t)i / 8 < s->n)
		s->b[i / 8] &= (unsigned char)~(1u << (i % 8));
}

int
bits_has(const struct bits *s, int64_t i)
{
	return i >= 0 && (uint64_t)i / 8 < s->n &&
	    (s->b[i / 8] & (1u << (i % 8))) != 0;
}

long
bits_count(const struct bits *s)
{
	long n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += __builtin_popcount(s->b[i]);
	return n;
}

static void
bits_clear(struct bits *s)
{
	if (s->n > 0)
		memset(s->b, 0, s->n);
}

int
archive_walk(struct store *st, DB *db, const char *what,
    int (*fn)(const DBT *, const DBT *, void *), void *arg)
{
	DB_TXN *txn = NULL;
	DBC *c = NULL;
	DBT k, d;
	long n = 0;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	for (;;) {
		if (c != NULL)
			rc = c->get(c, &k, &d, DB_NEXT);
		else if ((rc = store_scan_begin(st, db, &txn, &c)) != 0)
			break;
		else if (n == 0)
			rc = c->get(c, &k, &d, DB_FIRST);
		else {
			/* on from the key k still holds, the last one seen */
			void *last = malloc(k.size);
			u_int32_t len = k.size;

			if (last == NULL) {
				rc = ENOMEM;
				break;
			}
			memcpy(last, k.data, len);
			rc = c->get(c, &k, &d, DB_SET_RANGE);
			if (rc == 0 && k.size == len && memcmp(k.data, last,
			    len) == 0)
				rc = c->get(c, &k, &d, DB_NEXT);
			free(last);
		}
		if (rc != 0 || (rc = fn(&k, &d, arg)) != 0)
			break;
		if (++n % ARCHIVE_TXN == 0) {
			c->close(c);
			c = NULL;
			txn->commit(txn, 0);
			txn = NULL;
			if (what != NULL && archive_say_now())
				ms_warnx("archive: reading %s: %ld records", what,
				    n);
		}
	}
	if (c != NULL)
		c->close(c);
	if (txn != NULL)
		txn->commit(txn, 0);
	free(k.data);
	free(d.data);
	return rc == DB_NOTFOUND || rc == ARCHIVE_STOP ? 0 : rc;
}

int
archive_sett_num(const char *sid, int64_t *n)
{
	char buf[32];
	char *end;
	long long v;

	if (sid == NULL || sid[0] != 'S' || sid[1] < '0' || sid[1] > '9')
		return -1;
	errno = 0;
	v = strtoll(sid + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return -1;
	/* S01 is not S1 */
	snprintf(buf, sizeof(buf), "S%lld", v);
	if (strcmp(buf, sid) != 0)
		return -1;
	*n = v;
	return 0;
}

static int
older(const char *ts, int64_t before)
{
	int64_t t;

	/* a line from before lines had a time is older than any */
	return ts == NULL || ms_time_parse(ts, &t) != 0 || t < before;
}

/* A paid or void line old enough may move. */
static int
pick_line(const DBT *k, const DBT *d, void *arg)
{
	struct pick *p = arg;
	const char *state;
	json_t *l;
	int64_t id;
	int rc = 0;

	(void)k;
	if ((l = line_decode(d->data, d->size)) == NULL)
		return 0;
	state = str(l, "state");
	if (state != NULL && (strcmp(state, "paid") == 0 ||
	    strcmp(state, "void") == 0) && older(str(l, "ts"), p->before) &&
	    str(l, "id") != NULL && line_id_parse(str(l, "id"), &id) == 0 &&
	    bits_add(&p->lines, id) == -1)
		rc = ENOMEM;
	json_decref(l);
	return rc;
}

struct settle {
	struct pick	*p;
	int		 again;		/* a line of a moving one now stays */
};

/*
 * A settlement moves when it ended before p->before and every line it
 * names moves; when it does not, none of them does.  A line taken out
 * that a settlement earlier in this pass named means that one stays
 * too: another pass.
 */
static int
settle_one(const DBT *k, const DBT *d, void *arg)
{
	static const char *const final[] = { "paid", "closed", "declined",
	    "failed", NULL };
	struct settle *s = arg;
	struct pick *p = s->p;
	json_t *j, *ids, *v;
	const char *state;
	int64_t n;
	size_t i;
	int ok = 0, rc = 0;

	(void)k;
	if ((j = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return 0;
	if (str(j, "settlement") == NULL) {
		json_decref(j);
		return EINVAL;
	}
	state = str(j, "state");
	for (const char *const *f = final; state && *f; f++)
		if (strcmp(state, *f) == 0)
			ok = 1;
	ok = ok && str(j, "updated") != NULL && older(str(j, "updated"),
	    p->before) && archive_sett_num(str(j, "settlement"), &n) == 0;
	ids = json_object_get(j, "line_ids");
	json_array_foreach(ids, i, v)
		if (!bits_has(&p->lines, json_integer_value(v)))
			ok = 0;		/* a line of it stays */
	json_array_foreach(ids, i, v) {
		int64_t id = json_integer_value(v);

		if (ok && bits_add(&p->named, id) == -1)
			rc = ENOMEM;
		if (!ok && bits_has(&p->lines, id)) {
			bits_del(&p->lines, id);
			if (bits_has(&p->named, id))
				s->again = 1;
		}
	}
	if (ok && rc == 0 && bits_add(&p->setts, n) == -1)
		rc = ENOMEM;
	json_decref(j);
	return rc;
}

int
archive_pick_settle(struct store *st, struct pick *p)
{
	struct settle s = { p, 0 };
	int rc;

	do {
		bits_clear(&p->setts);
		bits_clear(&p->named);
		s.again = 0;
		if ((rc = archive_walk(st, st->settlements, "settlements.db",
		    settle_one, &s)) != 0)
			return rc;
	} while (s.again);
	p->nl = bits_count(&p->lines);
	p->ns = bits_count(&p->setts);
	return 0;
}

/* How many entries an audit record stands for (a take record: count). */
static int64_t
audit_count(const char *data, size_t size)
{
	const char *t;
	size_t n = sizeof(AUDIT_TAKES_TAG) - 1;

	for (t = data; t + n < data + size && t < data + 1024; t++)
		if (memcmp(t, AUDIT_TAKES_TAG, n) == 0)
			return strtoll(t + n, NULL, 10);
	return 1;
}

/*
 * Whether an audit record was made before before (*old) and whether it
 * is an archive's (*arch).  A record of takes, which may hold thousands
 * of them (a megabyte), is read from the head audit_flush() gives it,
 * {"n":N,"ts":"T","who":...,"what":"take","count":K,"takes":[...]},
 * without parsing the rest; any other record is parsed.  0, or -1 when
 * it is not JSON.
 */
int
archive_audit_head(const DBT *d, int64_t before, int *old, int *arch)
{
	static const char tag[] = AUDIT_TAKES_TAG;
	const char *p = d->data, *t, *q;
	size_t len = d->size < 256 ? d->size : 256, tl = sizeof(tag) - 1;
	char ts[64];
	json_t *r;

	for (size_t i = 0; i + tl < len; i++) {
		if (p[i] != '"' || memcmp(p + i, tag, tl) != 0)
			continue;
		if (len < 6 || memcmp(p, "{\"n\":", 5) != 0)
			break;
		for (t = p + 5; t < p + len && *t >= '0' && *t <= '9'; t++)
			;
		if (p + len - t < 7 || memcmp(t, ",\"ts\":\"", 7) != 0)
			break;
		t += 7;
		if ((q = memchr(t, '"', (size_t)(p + len - t))) == NULL ||
		    (size_t)(q - t) >= sizeof(ts) || memchr(t, '\\',
		    (size_t)(q - t)) != NULL)
			break;
		memcpy(ts, t, (size_t)(q - t));
		ts[q - t] = '\0';
		*old = older(ts, before);
		*arch = 0;
		return 0;
	}
	if ((r = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return -1;
	*old = str(r, "ts") != NULL && older(str(r, "ts"), before);
	*arch = str(r, "what") && strcmp(str(r, "what"), "archive") == 0;
	json_decref(r);
	return 0;
}

/*
 * The audit records older than before, from the oldest in the ledger
 * to the first that is not: one run of numbers, less the records of
 * earlier archives, which stay (they are what checks their files).
 */
static int
pick_audit(const DBT *k, const DBT *d, void *arg)
{
	struct pick *p = arg;
	int64_t n;
	int old, arch;

	if (k->size != 8 || archive_audit_head(d, p->before, &old, &arch) ==
	    -1)
		return EINVAL;
	n = ms_be64_get(k->data);
	if (!old)
		return ARCHIVE_STOP;
	if (arch) {
		if (p->na > 0)
			json_array_append_new(p->left, json_integer(n));
		return 0;
	}
	if (p->na == 0)
		p->afirst = n;
	p->na++;
	p->akey = n;
	p->alast = n + audit_count(d->data, d->size) - 1;
	return 0;
}

void
archive_pick_free(struct pick *p)
{
	free(p->lines.b);
	free(p->setts.b);
	free(p->named.b);
	json_decref(p->left);
	memset(p, 0, sizeof(*p));
}

int
archive_pick(struct store *st, struct pick *p)
{
	int rc;

	p->left = json_array();
	p->na = 0;
	p->afirst = p->alast = p->akey = 0;
	if ((rc = archive_walk(st, st->lines, "lines.db", pick_line, p)) != 0 ||
	    (rc = archive_pick_settle(st, p)) != 0 ||
	    (rc = archive_walk(st, st->audit, "audit.db", pick_audit, p)) != 0)
		return rc;
	/* archive records after the last that moves are not in the range */
	while (json_array_size(p->left) > 0 && json_integer_value(
	    json_array_get(p->left, json_array_size(p->left) - 1)) > p->alast)
		json_array_remove(p->left, json_array_size(p->left) - 1);
	return 0;
}
