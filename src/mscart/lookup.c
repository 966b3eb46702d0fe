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

/* User of a card: 0 and user in buf, DB_NOTFOUND, or an error. */
int
card_user(struct store *st, DB_TXN *txn, const char *card, char *user,
    size_t len)
{
	return db_get_str(st->cards, txn, card, user, len);
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
