/*
 * stock.c: the counted stock of each robot's slot (stock.db), kept in
 * the transaction of the event that changes it.  A restock sets a slot's
 * level (count) or adds to it (added, what a robot saw its operator put
 * in and take out); a take counts one out, a matched return one back in.  A slot
 * nobody has restocked is not counted: its takes change nothing here.
 * A take from a counted slot at 0 leaves it at 0 and says so (*beyond),
 * so that the take goes to review instead of the count going negative.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"

/* "robot slot": ids have no space, so a robot's slots sort together. */
static void
stock_key(const char *robot, const char *slot, char *key, size_t len)
{
	size_t rl = strlen(robot), sl = strlen(slot);

	/* by hand: a take comes here; ids fit (MS_ID_MAX each) */
	if (rl + 1 + sl >= len) {
		snprintf(key, len, "%s %s", robot, slot);
		return;
	}
	memcpy(key, robot, rl);
	key[rl] = ' ';
	memcpy(key + rl + 1, slot, sl + 1);
}

int
stock_get(struct store *st, DB_TXN *txn, const char *robot, const char *slot,
    json_t **rec, int rmw)
{
	char key[2 * MS_ID_MAX + 2];

	stock_key(robot, slot, key, sizeof(key));
	return db_get_json(st->stock, txn, key, rec, rmw);
}

static int
stock_put(struct store *st, DB_TXN *txn, const json_t *rec)
{
	char key[2 * MS_ID_MAX + 2];

	stock_key(str(rec, "robot"), str(rec, "slot"), key, sizeof(key));
	return db_put_json(st->stock, txn, key, rec);
}

/*
 * One item out of (step -1) or back into (+1) a counted slot; a slot not
 * counted stays so.  The count stays within 0 and MS_STOCK_MAX (a count
 * past it would be refused in a restock): *beyond when a take found none.
 */
static int
stock_step(struct store *st, DB_TXN *txn, const char *robot, const char *slot,
    int step, int *beyond)
{
	char key[2 * MS_ID_MAX + 2];
	json_t *rec;
	int64_t n;
	int rc;

	*beyond = 0;
	/* most slots are never counted: known so, nothing to read */
	stock_key(robot, slot, key, sizeof(key));
	if (slot_uncounted(st, txn, key))
		return 0;
	if ((rc = stock_get(st, txn, robot, slot, &rec, 1)) == DB_NOTFOUND) {
		slot_uncounted_add(st, txn, key);
		return 0;
	}
	if (rc != 0)
		return rc;
	n = num(rec, "count") + step;
	if (n < 0)
		*beyond = 1;
	else if (n <= MS_STOCK_MAX) {
		json_object_set_new(rec, "count", json_integer(n));
		rc = stock_put(st, txn, rec);
	}
	json_decref(rec);
	return rc;
}

int
stock_take(struct store *st, DB_TXN *txn, const char *robot, const char *slot,
    int *beyond)
{
	return stock_step(st, txn, robot, slot, -1, beyond);
}

int
stock_return(struct store *st, DB_TXN *txn, const char *robot,
    const char *slot)
{
	int beyond;

	return stock_step(st, txn, robot, slot, 1, &beyond);
}

int
stock_set(struct store *st, DB_TXN *txn, const struct restock *r)
{
	json_t *old = NULL, *rec = NULL, *a;
	const char *sku = r->sku;
	int64_t level = r->count;
	int rc;

	rc = stock_get(st, txn, r->robot, r->slot, &old, 1);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	/* a slot counted from now on: no process may think it is not */
	if (rc == DB_NOTFOUND && (rc = lookups_changed(st, txn)) != 0)
		return rc;
	if (sku == NULL && old != NULL)
		sku = str(old, "sku");
	if (sku == NULL) {
		json_decref(old);
		return EINVAL;
	}
	if (r->delta && old != NULL) {
		level = num(old, "count") + r->added;
		level = level < 0 ? 0 : level > MS_STOCK_MAX ? MS_STOCK_MAX :
		    level;
	}
	a = json_pack("{s:s,s:s,s:s,s:O}", "robot", r->robot, "slot", r->slot,
	    "sku", sku, "was", old != NULL ? json_object_get(old, "count") :
	    json_null());
	if (a == NULL) {
		json_decref(old);
		return ENOMEM;
	}
	if (r->delta) {
		json_object_set_new(a, "added", json_integer(r->added));
		/* what was never counted is not known by a difference */
		json_object_set_new(a, "count", old != NULL ?
		    json_integer(level) : json_null());
	} else
		json_object_set_new(a, "count", json_integer(level));
	if (r->event != NULL)
		json_object_set_new(a, "event", json_string(r->event));
	if (r->card != NULL)
		json_object_set_new(a, "card", json_string(r->card));
	if (r->delta && old != NULL) {
		/* the level changes; the last count and what follows it stay */
		rec = json_deep_copy(old);
		json_object_set_new(rec, "sku", json_string(sku));
		json_object_set_new(rec, "count", json_integer(level));
	} else if (!r->delta)
		/*
		 * The lines numbered from next_line on come after this count:
		 * a take beyond stock before it stops being listed for review
		 * once someone has counted the slot again (cmd_list.c).
		 */
		rec = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:s}", "robot",
		    r->robot, "slot", r->slot, "sku", sku, "count",
		    (json_int_t)level, "restocked", r->ts, "after_line",
		    (json_int_t)st->next_line, "by", r->who);
	rc = 0;
	if (rec != NULL)
		rc = stock_put(st, txn, rec);
	else if (!r->delta)
		rc = ENOMEM;
	if (rc == 0)
		rc = audit_add(st, txn, r->who, "restock", a);
	else
		json_decref(a);
	json_decref(rec);
	json_decref(old);
	return rc;
}
