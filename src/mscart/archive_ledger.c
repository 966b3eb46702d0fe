/*
 * archive_ledger.c: an archive's records taken out of the ledger in
 * bounded transactions, with what the lines counted in mscart report
 * kept beside; the databases compacted after; and what report adds for
 * the archived lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

const char *const report_bys[] = {
	"product", "robot", "user", "day", "month", NULL
};

/*
 * Report groups as meta.db keeps them: under "key\tcurrency", the sums
 * and the group's oldest line as an array, [count, amount, paid,
 * unpaid, first, name or null], a third the size of report's objects
 * for the thousands of users an archive counts.  groups: by -> groups;
 * min and max (the lines' times) go along.
 */
static json_t *
groups_pack(const json_t *groups)
{
	json_t *out = json_object(), *o, *g;
	const char *key;

	for (const char *const *by = report_bys; *by; by++) {
		o = json_object();
		json_object_foreach((json_t *)json_object_get(groups, *by), key, g)
			json_object_set_new(o, key, json_pack("[I,I,I,I,I,O]",
			    (json_int_t)num(g, "count"),
			    (json_int_t)num(g, "amount"),
			    (json_int_t)num(g, "paid"),
			    (json_int_t)num(g, "unpaid"),
			    (json_int_t)num(g, "first"),
			    json_object_get(g, "name") ? json_object_get(g,
			    "name") : json_null()));
		json_object_set_new(out, *by, o);
	}
	if (json_object_get(groups, "min") != NULL)
		json_object_set(out, "min", json_object_get(groups, "min"));
	if (json_object_get(groups, "max") != NULL)
		json_object_set(out, "max", json_object_get(groups, "max"));
	return out;
}

/* The groups of one by, as report makes them (fields in its order). */
static json_t *
groups_unpack(const char *by, const json_t *packed)
{
	json_t *out = json_object(), *a, *g;
	const char *key, *tab;

	json_object_foreach((json_t *)packed, key, a) {
		char g1[512];

		if ((tab = strrchr(key, '\t')) == NULL ||
		    (size_t)(tab - key) >= sizeof(g1))
			continue;
		snprintf(g1, sizeof(g1), "%.*s", (int)(tab - key), key);
		g = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O,s:O}", "by", by,
		    "key", g1, "currency", tab + 1,
		    "count", json_array_get(a, 0), "amount", json_array_get(a, 1),
		    "paid", json_array_get(a, 2), "unpaid", json_array_get(a, 3),
		    "first", json_array_get(a, 4));
		if (g == NULL)
			continue;
		if (json_is_string(json_array_get(a, 5)))
			json_object_set(g, "name", json_array_get(a, 5));
		json_object_set_new(out, key, g);
	}
	return out;
}

/* A packed group as groups_pack() makes it, or NULL: unpack skips it. */
static json_t *
packed_group(const json_t *a)
{
	json_t *name = json_array_get(a, 5);

	if (json_array_size(a) < 5)
		return NULL;
	return json_pack("[I,I,I,I,I,O]",
	    (json_int_t)json_integer_value(json_array_get(a, 0)),
	    (json_int_t)json_integer_value(json_array_get(a, 1)),
	    (json_int_t)json_integer_value(json_array_get(a, 2)),
	    (json_int_t)json_integer_value(json_array_get(a, 3)),
	    (json_int_t)json_integer_value(json_array_get(a, 4)),
	    json_is_string(name) ? name : json_null());
}

/*
 * Add packed's groups and times to all, both as meta.db keeps them: what
 * report_merge() does to report's groups, done to the arrays, which take
 * a third of the memory for the hundred thousand users an archive may
 * count.  The sums add up; the oldest line's number and name win.
 */
static void
packed_add(json_t *all, const json_t *packed)
{
	const char *key, *tab, *a, *b;
	json_t *src, *dst, *g, *d;
	int64_t v;

	for (const char *const *by = report_bys; *by; by++) {
		src = json_object_get(packed, *by);
		dst = json_object_get(all, *by);
		json_object_foreach(src, key, g) {
			/* what groups_unpack() would skip */
			if ((tab = strrchr(key, '\t')) == NULL || tab - key >= 512)
				continue;
			if ((d = json_object_get(dst, key)) == NULL) {
				if ((d = packed_group(g)) != NULL)
					json_object_set_new(dst, key, d);
				continue;
			}
			if (json_array_size(g) < 5)
				continue;
			for (size_t i = 0; i < 4; i++)
				if (ms_money_add(json_integer_value(
				    json_array_get(d, i)), json_integer_value(
				    json_array_get(g, i)), &v) == 0)
					json_array_set_new(d, i, json_integer(v));
			if (json_integer_value(json_array_get(g, 4)) <
			    json_integer_value(json_array_get(d, 4))) {
				json_array_set_new(d, 4, json_integer(
				    json_integer_value(json_array_get(g, 4))));
				json_array_set(d, 5, json_is_string(json_array_get(g,
				    5)) ? json_array_get(g, 5) : json_null());
			}
		}
	}
	if ((b = str(packed, "min")) != NULL && ((a = str(all, "min")) ==
	    NULL || strcmp(b, a) < 0))
		json_object_set_new(all, "min", json_string(b));
	if ((b = str(packed, "max")) != NULL && ((a = str(all, "max")) ==
	    NULL || strcmp(b, a) > 0))
		json_object_set_new(all, "max", json_string(b));
}

static int
kept_has(const json_t *kept, int64_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(kept, i, v)
		if (json_integer_value(v) == id)
			return 1;
	return 0;
}

static int
del_line(struct store *st, DB_TXN *txn, struct archive_del *a, json_t *rec,
    json_t *groups, json_t *span)
{
	int64_t n = num(rec, "n");
	json_t *was = json_object_get(rec, "line"), *cur;
	unsigned char b[8];
	const char *state;
	DBT k, d;
	int rc;

	ms_be64_put(b, n);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = b;
	k.size = 8;
	d.flags = DB_DBT_MALLOC;
	if ((rc = st->lines->get(st->lines, txn, &k, &d, DB_RMW)) ==
	    DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	cur = line_decode(d.data, d.size);
	free(d.data);
	if (cur == NULL)
		return EINVAL;
	state = str(cur, "state");
	/* changed since it was written (a refund, say): it stays */
	if (!json_equal(cur, was) || state == NULL ||
	    (strcmp(state, "paid") != 0 && strcmp(state, "void") != 0)) {
		json_array_append_new(json_object_get(a->next, "kept"),
		    json_integer(n));
		json_decref(cur);
		return 0;
	}
	if ((rc = st->lines->del(st->lines, txn, &k, 0)) == 0 &&
	    str(cur, "owner") != NULL)
		rc = owner_del(st, txn, str(cur, "owner"), n);
	if (rc == 0) {
		const char *ts = str(cur, "ts");

		for (const char *const *by = report_bys; *by; by++)
			report_group_line(*by, json_object_get(groups, *by), cur);
		if (ts != NULL) {
			if (str(span, "min") == NULL || strcmp(ts,
			    str(span, "min")) < 0)
				json_object_set_new(span, "min", json_string(ts));
			if (str(span, "max") == NULL || strcmp(ts,
			    str(span, "max")) > 0)
				json_object_set_new(span, "max", json_string(ts));
		}
		a->lines++;
	}
	json_decref(cur);
	return rc;
}

static int
del_settlement(struct store *st, DB_TXN *txn, struct archive_del *a, json_t *rec)
{
	json_t *was = json_object_get(rec, "settlement"), *cur, *v;
	const char *sid = str(was, "settlement");
	int keep = 0;
	size_t i;
	int rc;

	if (sid == NULL)
		return EINVAL;
	if ((rc = db_get_json(st->settlements, txn, sid, &cur, 1)) ==
	    DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	keep = !json_equal(cur, was);
	json_array_foreach(json_object_get(cur, "line_ids"), i, v)
		if (kept_has(json_object_get(a->next, "kept"),
		    json_integer_value(v)))
			keep = 1;
	json_decref(cur);
	if (keep) {
		json_array_append_new(json_object_get(a->next,
		    "kept_settlements"), json_string(sid));
		return 0;
	}
	return db_del_str(st->settlements, txn, sid);
}

static int
del_audit(struct store *st, DB_TXN *txn, int64_t n)
{
	unsigned char b[8];
	DBT k;
	int rc;

	ms_be64_put(b, n);
	memset(&k, 0, sizeof(k));
	k.data = b;
	k.size = 8;
	rc = st->audit->del(st->audit, txn, &k, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/* One batch of the file's records out of the ledger. */
int
archive_del_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct archive_del *a = arg;
	json_t *groups, *span, *rec, *packed;
	char key[128];
	size_t i;
	int rc = 0;

	json_decref(a->next);
	a->next = json_deep_copy(a->pending);
	a->lines = 0;
	groups = json_object();
	for (const char *const *by = report_bys; *by; by++)
		json_object_set_new(groups, *by, json_object());
	span = json_object();
	json_array_foreach(a->recs, i, rec) {
		const char *type = str(rec, "type");

		if (strcmp(type, "line") == 0)
			rc = del_line(st, txn, a, rec, groups, span);
		else if (strcmp(type, "settlement") == 0)
			rc = del_settlement(st, txn, a, rec);
		else if (strcmp(type, "audit") == 0)
			rc = del_audit(st, txn, num(rec, "n"));
		if (rc != 0)
			break;
	}
	if (rc == 0 && a->lines > 0) {
		json_object_set_new(groups, "min", json_object_get(span, "min") ?
		    json_incref(json_object_get(span, "min")) : json_null());
		json_object_set_new(groups, "max", json_object_get(span, "max") ?
		    json_incref(json_object_get(span, "max")) : json_null());
		/* after every other "archive:report..." key of this archive */
		snprintf(key, sizeof(key), ARCHIVE_REPORT ":%s:%012" PRId64,
		    str(a->pending, "id"), (int64_t)num(a->pending, "done"));
		packed = groups_pack(groups);
		rc = db_put_json(st->meta, txn, key, packed);
		json_decref(packed);
	}
	json_object_set_new(a->next, "done", json_integer(num(a->pending,
	    "done") + (json_int_t)json_array_size(a->recs)));
	if (rc == 0)
		rc = db_put_json(st->meta, txn, ARCHIVE_PENDING, a->next);
	json_decref(groups);
	json_decref(span);
	return rc;
}

/* The archive's audit record: these fields of the unfinished archive
 * ("id" as "archive"). */
static const char *const archive_record_fields[] = {
	"id", "file", "sha256", "before", "lines", "settlements",
	"audit_records", "audit_first", "audit_last", "audit_left", "kept",
	"kept_settlements", NULL
};

/*
 * fn with each record of meta.db whose key starts with prefix, parsed,
 * through cursor c (flags: 0 or DB_RMW); a non-zero return from fn ends
 * the walk and is returned.  The end of the prefix is 0, not NOTFOUND.
 */
static int
meta_prefix_walk(DBC *c, const char *prefix, u_int32_t flags,
    int (*fn)(json_t *part, DBC *c, void *arg), void *arg)
{
	size_t plen = strlen(prefix);
	json_t *part;
	DBT k, d;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)prefix;
	k.size = (u_int32_t)plen;
	k.flags = DB_DBT_MALLOC;
	d.flags = DB_DBT_MALLOC;
	for (rc = c->get(c, &k, &d, DB_SET_RANGE | flags); rc == 0;
	    rc = c->get(c, &k, &d, DB_NEXT | flags)) {
		int ours = k.size >= plen && memcmp(k.data, prefix, plen) == 0;

		part = ours ? json_loadb(d.data, d.size, 0, NULL) : NULL;
		free(k.data);
		free(d.data);
		if (!ours)
			return 0;
		if (part == NULL)
			return EINVAL;
		rc = fn(part, c, arg);
		json_decref(part);
		if (rc != 0)
			return rc;
	}
	return rc == DB_NOTFOUND ? 0 : rc;
}

/* meta_prefix_walk(): a batch's groups added to the archive's, and gone */
static int
fin_group(json_t *part, DBC *c, void *arg)
{
	packed_add(arg, part);
	return c->del(c, 0);
}

/*
 * The last transaction: the batches' report groups into the archives'
 * own, the unfinished archive gone and its audit record written.
 */
int
archive_fin_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct archive_del *a = arg;
	json_t *p = a->pending, *all, *part, *det;
	char prefix[128], nbuf[32];
	DBC *c;
	int64_t n;
	int rc;

	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	all = json_object();
	for (const char *const *by = report_bys; *by; by++)
		json_object_set_new(all, *by, json_object());
	rc = db_get_json(st->meta, txn, ARCHIVE_REPORT, &part, 1);
	if (rc == 0) {
		packed_add(all, part);
		json_decref(part);
	} else if (rc != DB_NOTFOUND) {
		json_decref(all);
		return rc;
	}
	snprintf(prefix, sizeof(prefix), ARCHIVE_REPORT ":%s:", str(p, "id"));
	if ((rc = st->meta->cursor(st->meta, txn, &c, 0)) != 0) {
		json_decref(all);
		return rc;
	}
	rc = meta_prefix_walk(c, prefix, DB_RMW, fin_group, all);
	c->close(c);
	if (rc != 0) {
		json_decref(all);
		return rc;
	}
	rc = db_put_json(st->meta, txn, ARCHIVE_REPORT, all);
	json_decref(all);
	if (rc != 0)
		return rc;
	n = st->next_audit;
	det = json_object();
	for (const char *const *f = archive_record_fields; *f; f++) {
		json_t *v = json_object_get(p, *f);

		json_object_set(det, strcmp(*f, "id") == 0 ? "archive" : *f,
		    v != NULL ? v : json_null());
	}
	if ((rc = audit_add(st, txn, a->role.who, "archive", det)) != 0)
		return rc;
	snprintf(nbuf, sizeof(nbuf), "%" PRId64, n);
	snprintf(prefix, sizeof(prefix), "archive:%s", str(p, "id"));
	if ((rc = db_put_str(st->meta, txn, prefix, nbuf)) != 0)
		return rc;
	return db_del_str(st->meta, txn, ARCHIVE_PENDING);
}

/*
 * Give the pages the archive freed back to the file system: every
 * database, those that lost records and those whose pages other changes
 * left part empty (users rewritten, open settlements ended).
 */
void
archive_compact(struct store *st)
{
	DB *dbs[] = { st->lines, st->open_lines, st->owners, st->settlements,
	    st->audit, st->meta, st->opens, st->users, st->cards,
	    st->products, st->events, st->stock };
	DB_COMPACT cd;
	unsigned long pages = 0;
	const char *name;
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if (dbs[i]->get_dbname(dbs[i], &name, NULL) != 0)
			name = "?";
		if (archive_say_now())
			ms_warnx("archive: compacting %s", name);
		/*
		 * No transaction: Berkeley DB uses short ones of its own.  The
		 * pages a pass empties stay where they are, on the free list;
		 * the next pass moves them to the end and truncates them.
		 */
		for (int pass = 0; pass < 4; pass++) {
			memset(&cd, 0, sizeof(cd));
			if ((rc = dbs[i]->compact(dbs[i], NULL, NULL, NULL, &cd,
			    DB_FREE_SPACE, NULL)) != 0) {
				ms_warnx("archive: compacting %s: %s", name,
				    db_strerror(rc));
				break;
			}
			pages += cd.compact_pages_truncated;
			if (cd.compact_pages_free == 0)
				break;
		}
	}
	st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE);
	ms_warnx("archive: %lu pages back to the file system", pages);
}

/* ----- what mscart report adds for the archived lines ----- */

static int
in_range(const char *ts, int64_t from, int64_t to)
{
	int64_t t;

	if (ts == NULL || ms_time_parse(ts, &t) != 0)
		return 0;
	return (from == INT64_MIN || t >= from) && (to == INT64_MAX || t < to);
}

/* meta_prefix_walk(): an archive's groups added to a report's */
struct report_add {
	const char *by;
	int64_t	 from, to;
	json_t	*groups;
	int	 cut;
};

static int
report_group(json_t *part, DBC *c, void *arg)
{
	struct report_add *r = arg;
	int lo, hi;

	(void)c;
	/* counted whole, or not at all */
	lo = in_range(str(part, "min"), r->from, r->to);
	hi = in_range(str(part, "max"), r->from, r->to);
	if ((r->from == INT64_MIN && r->to == INT64_MAX) || (lo && hi)) {
		json_t *u = groups_unpack(r->by, json_object_get(part, r->by));

		report_merge(r->groups, u);
		json_decref(u);
	} else if (str(part, "min") != NULL && (lo || hi ||
	    (r->from != INT64_MIN && r->to != INT64_MAX &&
	    in_range(str(part, "min"), INT64_MIN, r->from) &&
	    !in_range(str(part, "max"), INT64_MIN, r->to))))
		r->cut = 1;
	return 0;
}

int
archive_report_add(struct store *st, const char *by, int64_t from,
    int64_t to, json_t *groups)
{
	struct report_add r = { by, from, to, groups, 0 };
	DB_TXN *txn;
	DBC *c;
	int rc;

	if ((rc = store_scan_begin(st, st->meta, &txn, &c)) != 0)
		return rc;
	/* the archives' groups, then those of an unfinished one's batches */
	rc = meta_prefix_walk(c, ARCHIVE_REPORT, 0, report_group, &r);
	c->close(c);
	txn->commit(txn, 0);
	if (r.cut)
		ms_warnx("report: the period cuts into archived lines: those "
		    "are left out (mscart archive)");
	return rc;
}
