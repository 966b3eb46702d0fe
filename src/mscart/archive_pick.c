/*
 * archive_pick.c: what mscart archive moves before a time: paid and void
 * lines with the ended settlements that name them, and the oldest audit
 * records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

static struct cand *
cand_find(struct pick *p, int64_t id)
{
	size_t lo = 0, hi = p->nl;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->l[mid].id == id)
			return &p->l[mid];
		if (p->l[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct sett *
sett_find(struct pick *p, const char *sid)
{
	size_t lo = 0, hi = p->ns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->s[mid].sid, sid);

		if (c == 0)
			return &p->s[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
older(const char *ts, int64_t before)
{
	int64_t t;

	/* a line from before lines had a time is older than any */
	return ts == NULL || ms_time_parse(ts, &t) != 0 || t < before;
}

static void
pick_line(json_t *l, void *arg)
{
	struct pick *p = arg;
	const char *state = str(l, "state");
	struct cand *c;
	int64_t id;

	if (state == NULL || (strcmp(state, "paid") != 0 &&
	    strcmp(state, "void") != 0) || !older(str(l, "ts"), p->before) ||
	    str(l, "id") == NULL || line_id_parse(str(l, "id"), &id) == -1)
		return;
	if (archive_grow((void **)&p->l, &p->capl, p->nl, sizeof(*p->l)) == -1) {
		p->failed = 1;
		return;
	}
	c = &p->l[p->nl++];
	c->id = id;
	c->sid = str(l, "settlement") ? strdup(str(l, "settlement")) : NULL;
	c->ok = 1;
}

/*
 * Every settlement, with those of its lines that are candidates: one
 * that has not ended (or ended after before) keeps them in the ledger.
 */
static void
pick_settlement(const DBT *k, const DBT *d, void *arg)
{
	static const char *const final[] = { "paid", "closed", "declined",
	    "failed", NULL };
	struct pick *p = arg;
	struct sett *s;
	json_t *j, *v;
	const char *state;
	size_t i;
	int fin = 0;

	(void)k;
	if ((j = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return;
	state = str(j, "state");
	for (const char *const *f = final; state && *f; f++)
		if (strcmp(state, *f) == 0)
			fin = 1;
	if (archive_grow((void **)&p->s, &p->caps, p->ns, sizeof(*p->s)) == -1 ||
	    str(j, "settlement") == NULL) {
		p->failed = 1;
		json_decref(j);
		return;
	}
	s = &p->s[p->ns++];
	memset(s, 0, sizeof(*s));
	s->sid = strdup(str(j, "settlement"));
	s->ok = fin && older(str(j, "updated"), p->before) &&
	    str(j, "updated") != NULL;
	s->lines = calloc(json_array_size(json_object_get(j, "line_ids")) + 1,
	    sizeof(*s->lines));
	if (s->sid == NULL || s->lines == NULL) {
		p->failed = 1;
		json_decref(j);
		return;
	}
	json_array_foreach(json_object_get(j, "line_ids"), i, v) {
		if (cand_find(p, json_integer_value(v)) != NULL)
			s->lines[s->n++] = json_integer_value(v);
		else
			s->ok = 0;	/* a line of it stays */
	}
	json_decref(j);
}

static int
sett_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sett *)a)->sid,
	    ((const struct sett *)b)->sid);
}

/*
 * A line moves when every settlement naming it moves (and the one that
 * paid it); a settlement moves when it ended before and all its lines
 * move.  Repeat until nothing changes.
 */
static void
pick_settle(struct pick *p)
{
	struct cand *c;
	struct sett *s;
	int changed;

	qsort(p->s, p->ns, sizeof(*p->s), sett_cmp);
	do {
		changed = 0;
		for (size_t i = 0; i < p->ns; i++) {
			for (size_t j = 0; j < p->s[i].n; j++) {
				c = cand_find(p, p->s[i].lines[j]);
				if (p->s[i].ok && !c->ok) {
					p->s[i].ok = 0;
					changed = 1;
				}
				if (!p->s[i].ok && c->ok) {
					c->ok = 0;
					changed = 1;
				}
			}
		}
		for (size_t i = 0; i < p->nl; i++) {
			c = &p->l[i];
			if (!c->ok || c->sid == NULL)
				continue;
			if ((s = sett_find(p, c->sid)) == NULL || !s->ok) {
				c->ok = 0;
				changed = 1;
			}
		}
	} while (changed);
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
 * The audit records older than before, from the oldest in the ledger
 * to the first that is not: one run of numbers, less the records of
 * earlier archives, which stay (they are what checks their files).
 */
static int
pick_audit(struct store *st, struct pick *p)
{
	DB_TXN *txn;
	DBC *c;
	DBT k, d;
	json_t *r;
	int rc;

	p->afirst = p->alast = 0;
	if ((rc = store_scan_begin(st, st->audit, &txn, &c)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0) {
		int64_t n;
		int old, arch;

		if (k.size != 8 || (r = json_loadb(d.data, d.size, 0, NULL)) ==
		    NULL) {
			rc = EINVAL;
			break;
		}
		n = ms_be64_get(k.data);
		old = older(str(r, "ts"), p->before) && str(r, "ts") != NULL;
		arch = str(r, "what") && strcmp(str(r, "what"), "archive") == 0;
		json_decref(r);
		if (!old)
			break;
		if (arch) {
			if (p->na > 0)
				json_array_append_new(p->left, json_integer(n));
			continue;
		}
		if (archive_grow((void **)&p->audit, &p->capa, p->na,
		    sizeof(*p->audit)) == -1) {
			rc = ENOMEM;
			break;
		}
		if (p->na == 0)
			p->afirst = n;
		p->audit[p->na++] = n;
		p->alast = n + audit_count(d.data, d.size) - 1;
	}
	free(k.data);
	free(d.data);
	c->close(c);
	txn->commit(txn, 0);
	/* archive records after the last that moves are not in the range */
	while (json_array_size(p->left) > 0 && json_integer_value(
	    json_array_get(p->left, json_array_size(p->left) - 1)) > p->alast)
		json_array_remove(p->left, json_array_size(p->left) - 1);
	return rc == DB_NOTFOUND ? 0 : rc;
}

void
archive_pick_free(struct pick *p)
{
	for (size_t i = 0; i < p->nl; i++)
		free(p->l[i].sid);
	for (size_t i = 0; i < p->ns; i++) {
		free(p->s[i].sid);
		free(p->s[i].lines);
	}
	free(p->l);
	free(p->s);
	free(p->audit);
	json_decref(p->left);
	memset(p, 0, sizeof(*p));
}

int
archive_pick(struct store *st, struct pick *p, long *nl, long *ns)
{
	int rc;

	p->left = json_array();
	if ((rc = store_lines_scan(st, pick_line, p)) != 0 || p->failed)
		return rc ? rc : ENOMEM;
	if ((rc = store_each(st, st->settlements, NULL, pick_settlement,
	    p)) != 0 || p->failed)
		return rc ? rc : ENOMEM;
	pick_settle(p);
	if ((rc = pick_audit(st, p)) != 0)
		return rc;
	*nl = *ns = 0;
	for (size_t i = 0; i < p->nl; i++)
		*nl += p->l[i].ok;
	for (size_t i = 0; i < p->ns; i++)
		*ns += p->s[i].ok;
	return 0;
}
