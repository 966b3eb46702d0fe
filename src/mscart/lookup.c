/*
 * lookup.c: small reads the handlers share: a card's user, the currency of
 * a user's carts, whether a line is still open.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

/*
 * The lookups a take makes (a card's user, its product, is the slot
 * counted?) are
 * kept in the process from one transaction to the next, as of meta.db's
 * lookup generation.  A transaction that changes cards.db or counts a
 * new slot moves the generation on (lookups_changed), in the same
 * transaction.  A transaction that answers from what is kept has read
 * the generation first and holds its lock to the end, so a change either
 * committed before (and the generation read is new: everything kept is
 * dropped) or commits after it (serialised after this transaction, as if
 * it had read cards.db itself).
 */
#define LOOKUP_GEN	"gen:lookups"
#define LOOKUPS_MAX	200000		/* entries kept, each kind */

/*
 * The tables: open addressing on a 64-bit FNV-1a hash, one allocation
 * per entry.  A table that reaches LOOKUPS_MAX entries starts again
 * empty (what a take needs comes back at the next look).
 */
static uint64_t
lk_hash(const char *k)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *k != '\0'; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

static void
lk_free(struct lk_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
	free(t);
}

static struct lk_table *
lk_new(void)
{
	struct lk_table *t = calloc(1, sizeof(*t));

	if (t != NULL && (t->slot = calloc(1024, sizeof(*t->slot))) == NULL) {
		free(t);
		t = NULL;
	}
	if (t != NULL)
		t->cap = 1024;
	return t;
}

/* The entry of key, or the empty slot where it would go. */
static char **
lk_find(const struct lk_table *t, const char *key)
{
	size_t i = (size_t)lk_hash(key) & (t->cap - 1);

	while (t->slot[i] != NULL && strcmp(t->slot[i], key) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

/* The value kept for key: 1 and *val (NULL for none), or 0. */
static int
lk_get(const struct lk_table *t, const char *key, const char **val)
{
	char **e = lk_find(t, key);
	size_t kl;

	if (*e == NULL)
		return 0;
	kl = strlen(*e);
	*val = (*e)[kl + 1] == '\001' ? NULL : *e + kl + 1;
	return 1;
}

/* Keep key -> val (NULL: none); nothing is kept when memory is short. */
static void
lk_put(struct lk_table *t, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = val != NULL ? strlen(val) : 1;
	char **e, *ent;

	if (t->n + 1 > LOOKUPS_MAX) {
		for (size_t i = 0; i < t->cap; i++) {
			free(t->slot[i]);
			t->slot[i] = NULL;
		}
		t->n = 0;
	}
	if (2 * (t->n + 1) > t->cap) {
		struct lk_table g = { NULL, 2 * t->cap, 0 };

		if ((g.slot = calloc(g.cap, sizeof(*g.slot))) == NULL)
			return;
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i] != NULL)
				*lk_find(&g, t->slot[i]) = t->slot[i];
		free(t->slot);
		t->slot = g.slot;
		t->cap = g.cap;
	}
	if (*(e = lk_find(t, key)) != NULL)
		return;
	if ((ent = malloc(kl + vl + 2)) == NULL)
		return;
	memcpy(ent, key, kl + 1);
	/* a value of \001 alone stands for none: ids have no controls */
	memcpy(ent + kl + 1, val != NULL ? val : "\001", vl + 1);
	*e = ent;
	t->n++;
}

void
lookups_forget(struct store *st)
{
	lk_free(st->lk_cards);
	lk_free(st->lk_uncounted);
	st->lk_cards = st->lk_uncounted = NULL;
	if (st->products_seen != NULL)
		json_object_clear(st->products_seen);
	st->lk_txn = NULL;
	st->lk_state = 0;
}

static int
is_txn(const struct store *st, DB_TXN *txn)
{
	return st->lk_txn == txn && st->lk_txnid == txn->id(txn);
}

/* May txn answer from what is kept?  Reads the generation once per txn. */
static int
lookups_usable(struct store *st, DB_TXN *txn)
{
	int64_t gen;

	if (txn == NULL)
		return 0;
	if (is_txn(st, txn))
		return st->lk_state == 1;
	if (meta_int_get(st, txn, LOOKUP_GEN, 0, 0, &gen) != 0)
		return 0;
	if (gen != st->lk_gen || st->lk_cards == NULL ||
	    st->lk_uncounted == NULL) {
		lk_free(st->lk_cards);
		lk_free(st->lk_uncounted);
		st->lk_cards = lk_new();
		st->lk_uncounted = lk_new();
		if (st->products_seen != NULL)
			json_object_clear(st->products_seen);
		st->lk_gen = gen;
	}
	st->lk_txn = txn;
	st->lk_txnid = txn->id(txn);
	st->lk_state = st->lk_cards != NULL && st->lk_uncounted != NULL;
	return st->lk_state == 1;
}

int
lookups_changed(struct store *st, DB_TXN *txn)
{
	int64_t gen;
	int rc;

	if (is_txn(st, txn) && st->lk_state == 2)
		return 0;	/* moved on already */
	if ((rc = meta_int_get(st, txn, LOOKUP_GEN, 0, DB_RMW, &gen)) != 0)
		return rc;
	if ((rc = meta_int_put(st, txn, LOOKUP_GEN, gen + 1)) != 0)
		return rc;
	/* nothing kept is used again before a generation is read anew */
	lookups_forget(st);
	st->lk_txn = txn;
	st->lk_txnid = txn->id(txn);
	st->lk_state = 2;
	return 0;
}

/* User of a card: 0 and user in buf, DB_NOTFOUND, or an error. */
int
card_user(struct store *st, DB_TXN *txn, const char *card, char *user,
    size_t len)
{
	const char *v;
	int use = lookups_usable(st, txn), rc;
	size_t vl;

	if (use && lk_get(st->lk_cards, card, &v)) {
		if (v == NULL)
			return DB_NOTFOUND;
		if ((vl = strlen(v)) >= len)
			return DB_BUFFER_SMALL;
		memcpy(user, v, vl + 1);
		return 0;
	}
	rc = db_get_str(st->cards, txn, card, user, len);
	if (use && (rc == 0 || rc == DB_NOTFOUND))
		lk_put(st->lk_cards, card, rc == 0 ? user : NULL);
	return rc;
}

/* The products kept (sku -> record), or NULL: read products.db. */
json_t *
products_kept(struct store *st, DB_TXN *txn)
{
	return lookups_usable(st, txn) ? product_cache(st) : NULL;
}

int
slot_uncounted(struct store *st, DB_TXN *txn, const char *key)
{
	const char *v;

	return lookups_usable(st, txn) && lk_get(st->lk_uncounted, key, &v);
}

void
slot_uncounted_add(struct store *st, DB_TXN *txn, const char *key)
{
	if (lookups_usable(st, txn))
		lk_put(st->lk_uncounted, key, "");
}

/*
 * The shop's currency, for a cart with nothing to go by: that of the first
 * product in the catalogue (EUR for an empty catalogue).
 */
void
catalog_currency(struct store *st, DB_TXN *txn, char cur[4])
{
	DBC *c;
	DBT k, d;
	json_t *p;
	const char *pc;

	snprintf(cur, 4, "EUR");
	if (st->products->cursor(st->products, txn, &c, 0) != 0)
		return;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_MALLOC;
	if (c->get(c, &k, &d, DB_FIRST) == 0) {
		if ((p = json_loadb(d.data, d.size, 0, NULL)) != NULL &&
		    (pc = json_string_value(json_object_get(p, "currency"))) != NULL)
			snprintf(cur, 4, "%s", pc);
		json_decref(p);
		free(k.data);
		free(d.data);
	}
	c->close(c);
}

/* Currency of a user's carts: theirs, else of their first line, else the shop's. */
int
currency_of(struct store *st, DB_TXN *txn, const json_t *u, const char *user,
    char cur[4])
{
	struct line_head h;
	char owner[MS_ID_MAX + 4];
	const char *item;
	int64_t first;
	size_t len;
	int rc = 0;

	if (u != NULL && str(u, "currency") != NULL) {
		snprintf(cur, 4, "%s", str(u, "currency"));
		return 0;
	}
	catalog_currency(st, txn, cur);
	snprintf(owner, sizeof(owner), OWNER_USER "%s", user);
	/* the first line only: a long history costs nothing here */
	if ((rc = owner_first(st, txn, owner, &first)) == 0 &&
	    (rc = line_get_item(st, txn, NULL, first, &h, &item, &len)) == 0)
		snprintf(cur, 4, "%s", h.currency);
	return rc == DB_NOTFOUND ? 0 : rc;
}

int
user_default_currency(struct store *st, DB_TXN *txn, const char *user,
    char cur[4])
{
	json_t *u = NULL;
	int rc;

	rc = db_get_json(st->users, txn, user, &u, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	rc = currency_of(st, txn, u, user, cur);
	json_decref(u);
	return rc;
}

int
state_is_open(char s)
{
	return s == 'u' || s == 's' || s == 'c' || s == 'h';
}
