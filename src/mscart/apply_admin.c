/*
 * apply_admin.c: the admin's records: products and users (with their
 * cards), and the takes of a card that becomes a user's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

/*
 * The takes held because the catalogue did not have their sku (see
 * apply_take) get the product's price now and become unpaid.
 */
static int
price_held_lines(struct ctx *c, const json_t *product)
{
	const char *sku = str(product, "sku");
	char by[MS_ID_MAX + 4];
	int64_t *ids;
	size_t n;
	json_t *l;
	int rc;

	snprintf(by, sizeof(by), OWNER_HELD "%s", sku);
	if ((rc = owner_lines(c->st, c->txn, by, &ids, &n)) != 0 || n == 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = line_get(c->st, c->txn, ids[i], &l, 1)) != 0)
			break;
		if (strcmp(str(l, "state"), "held") == 0) {
			json_object_set(l, "name", json_object_get(product, "name"));
			json_object_set(l, "price", json_object_get(product, "price"));
			json_object_set(l, "currency",
			    json_object_get(product, "currency"));
			json_object_set_new(l, "state", json_string("unpaid"));
			rc = line_put(c->st, c->txn, ids[i], l);
		}
		json_decref(l);
		if (rc == 0)
			rc = owner_del(c->st, c->txn, by, ids[i]);
	}
	if (rc == 0)
		rc = audit_add(c->st, c->txn, c->role->who, "held-priced",
		    json_pack("{s:s,s:I,s:O,s:O}", "sku", sku, "lines",
		    (json_int_t)n, "price", json_object_get(product, "price"),
		    "currency", json_object_get(product, "currency")));
	free(ids);
	return rc;
}

int
apply_product(struct ctx *c)
{
	const char *sku = str(c->msg, "sku");
	json_t *p = NULL, *rec;
	int rc;

	rc = db_get_json(c->st->products, c->txn, sku, &p, 1);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	/* what processes kept of the catalogue is out of date */
	if ((rc = lookups_changed(c->st, c->txn)) != 0) {
		json_decref(p);
		return rc;
	}
	rec = json_deep_copy(c->msg);
	json_object_del(rec, "type");
	if (json_object_get(rec, "active") == NULL)
		json_object_set_new(rec, "active", p && json_is_false(
		    json_object_get(p, "active")) ? json_false() : json_true());
	if ((rc = db_put_json(c->st->products, c->txn, sku, rec)) == 0)
		rc = audit_add(c->st, c->txn, c->role->who, p ? "product-update" :
		    "product-add", json_pack("{s:O}", "record", rec));
	if (rc == 0)
		rc = price_held_lines(c, rec);
	json_decref(rec);
	json_decref(p);
	if (rc == 0)
		c->reply = json_pack("{s:s,s:s,s:s}", "type", "ack", "status",
		    "applied", "of", "product");
	return rc;
}

/*
 * Move the takes an unknown card made onto the user it now belongs to
 * (a user record naming the card, or mscart card add), audited as who.
 */
int
card_claim_lines(struct store *st, DB_TXN *txn, const char *who,
    const char *card, const char *user)
{
	char from[MS_CARD_MAX + 4], to[MS_ID_MAX + 4];
	int64_t *ids;
	size_t n;
	json_t *l;
	int rc;

	snprintf(from, sizeof(from), OWNER_CARD "%s", card);
	snprintf(to, sizeof(to), OWNER_USER "%s", user);
	if ((rc = owner_lines(st, txn, from, &ids, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = line_get(st, txn, ids[i], &l, 1)) != 0)
			break;
		json_object_set_new(l, "owner", json_string(to));
		if ((rc = line_put(st, txn, ids[i], l)) == 0 &&
		    (rc = owner_del(st, txn, from, ids[i])) == 0)
			rc = owner_add(st, txn, to, ids[i]);
		json_decref(l);
	}
	if (rc == 0 && n > 0)
		rc = audit_add(st, txn, who, "card-claim",
		    json_pack("{s:s,s:s,s:I}", "card", card, "user", user,
		    "lines", (json_int_t)n));
	free(ids);
	return rc;
}

int
apply_user(struct ctx *c)
{
	const char *user = str(c->msg, "user");
	json_t *old = NULL, *rec, *cards, *v;
	char owner[MS_ID_MAX + 1];
	size_t i;
	int rc;

	rc = db_get_json(c->st->users, c->txn, user, &old, 1);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	/* upsert: fields given replace, the others are kept */
	rec = old ? json_deep_copy(old) : json_object();
	json_object_update(rec, c->msg);
	json_object_del(rec, "type");
	if (json_object_get(rec, "status") == NULL)
		json_object_set_new(rec, "status", json_string("active"));
	if (json_object_get(rec, "cards") == NULL)
		json_object_set_new(rec, "cards", json_array());
	cards = json_object_get(rec, "cards");
	/* a card belongs to one user */
	json_array_foreach(cards, i, v) {
		rc = card_user(c->st, c->txn, json_string_value(v), owner,
		    sizeof(owner));
		if (rc == 0 && strcmp(owner, user) != 0) {
			rc = refuse(c, "conflict", "user: card %s already "
			    "belongs to user %s", json_string_value(v), owner);
			goto out;
		}
		if (rc != 0 && rc != DB_NOTFOUND)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(cards, j), v)) {
				rc = refuse(c, "conflict", "user: card %s is "
				    "listed twice", json_string_value(v));
				goto out;
			}
	}
	/* cards.db changes: what processes kept of it is out of date */
	if ((rc = lookups_changed(c->st, c->txn)) != 0)
		goto out;
	if (old != NULL)
		json_array_foreach(json_object_get(old, "cards"), i, v) {
			size_t j;
			json_t *w;

			json_array_foreach(cards, j, w)
				if (json_equal(v, w))
					break;
			if (j == json_array_size(cards) && (rc = db_del_str(
			    c->st->cards, c->txn, json_string_value(v))) != 0 &&
			    rc != DB_NOTFOUND)
				goto out;
			rc = 0;
		}
	json_array_foreach(cards, i, v) {
		const char *card = json_string_value(v);

		if ((rc = db_put_str(c->st->cards, c->txn, card, user)) != 0 ||
		    (rc = card_claim_lines(c->st, c->txn, c->role->who, card,
		    user)) != 0)
			goto out;
	}
	if ((rc = db_put_json(c->st->users, c->txn, user, rec)) == 0)
		rc = audit_add(c->st, c->txn, c->role->who, old ? "user-update" :
		    "user-add", json_pack("{s:O}", "record", rec));
	if (rc == 0)
		c->reply = json_pack("{s:s,s:s,s:s}", "type", "ack", "status",
		    "applied", "of", "user");
out:
	json_decref(rec);
	json_decref(old);
	return rc;
}
