/*
 * cmd_edit.c: the admin's small edits, each doing what it says and
 * nothing else, each in one transaction with its audit record:
 * card add|remove USER CARD, price SKU AMOUNT [CURRENCY], block|unblock
 * USER.  (An imported record replaces what it states: a user record with
 * one card replaces the cards; these change one thing.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "mscart.h"
#include "replica.h"

struct edit {
	const char	*what;		/* card-add, card-remove, price, block, unblock */
	const char	*id;		/* user or sku */
	const char	*card;
	const char	*currency;	/* price: NULL keeps the product's */
	const char	*amount;	/* price: as typed */
	struct role	 role;
	char		 why[300];	/* refused: why; empty when done */
	int		 unchanged;	/* already so: nothing written */
};

/*
 * "1.50", "2", "300" in major units of a currency with exponent exp into
 * minor units; -1 if not a plain decimal with at most exp decimals.
 */
static int
parse_amount(const char *s, int exp, int64_t *out)
{
	int64_t v = 0;
	int decimals = -1;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s == '.' && decimals == -1 && exp > 0) {
			decimals = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || (decimals >= 0 && ++decimals > exp) ||
		    v > (MS_AMOUNT_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (decimals == 0)
		return -1;	/* "1." */
	for (int i = decimals < 0 ? 0 : decimals; i < exp; i++) {
		if (v > MS_AMOUNT_MAX / 10)
			return -1;
		v *= 10;
	}
	*out = v;
	return 0;
}

static int
edit_card(struct store *st, DB_TXN *txn, struct edit *e, json_t *user)
{
	json_t *cards = json_object_get(user, "cards"), *v;
	char owner[MS_ID_MAX + 1];
	size_t i, at = (size_t)-1;
	int rc, add = strcmp(e->what, "card-add") == 0;

	if (!json_is_array(cards)) {
		cards = json_array();
		json_object_set_new(user, "cards", cards);
	}
	json_array_foreach(cards, i, v)
		if (strcmp(json_string_value(v), e->card) == 0)
			at = i;
	rc = db_get_str(st->cards, txn, e->card, owner, sizeof(owner));
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	/* a card added or removed: what processes kept is out of date */
	if ((rc == 0) == !add) {
		int rc2;

		if ((rc2 = lookups_changed(st, txn)) != 0)
			return rc2;
	}
	if (add) {
		if (rc == 0 && strcmp(owner, e->id) != 0) {
			snprintf(e->why, sizeof(e->why), "card %s belongs to "
			    "user %s: remove it there first", e->card, owner);
			return 0;
		}
		if (at != (size_t)-1) {
			e->unchanged = 1;
			return 0;
		}
		if (json_array_size(cards) >= MS_CARDS_MAX) {
			snprintf(e->why, sizeof(e->why), "%s has %d cards, the "
			    "most a user may have", e->id, MS_CARDS_MAX);
			return 0;
		}
		json_array_append_new(cards, json_string(e->card));
		if ((rc = db_put_str(st->cards, txn, e->card, e->id)) != 0 ||
		    (rc = card_claim_lines(st, txn, e->role.who, e->card,
		    e->id)) != 0)
			return rc;
	} else {
		if (at == (size_t)-1) {
			snprintf(e->why, sizeof(e->why), "card %s is not %s's",
			    e->card, e->id);
			return 0;
		}
		json_array_remove(cards, at);
		if ((rc = db_del_str(st->cards, txn, e->card)) != 0 &&
		    rc != DB_NOTFOUND)
			return rc;
	}
	if ((rc = db_put_json(st->users, txn, e->id, user)) != 0)
		return rc;
	return audit_add(st, txn, e->role.who, e->what, json_pack("{s:s,s:s}",
	    "user", e->id, "card", e->card));
}

static int
edit_status(struct store *st, DB_TXN *txn, struct edit *e, json_t *user)
{
	const char *to = strcmp(e->what, "block") == 0 ? "blocked" : "active";
	char was[32];
	int rc;

	/* the stored string goes with the old value: keep a copy */
	snprintf(was, sizeof(was), "%s", str(user, "status") ?
	    str(user, "status") : "active");

	if (strcmp(was, to) == 0) {
		e->unchanged = 1;
		return 0;
	}
	json_object_set_new(user, "status", json_string(to));
	if ((rc = db_put_json(st->users, txn, e->id, user)) != 0)
		return rc;
	return audit_add(st, txn, e->role.who, e->what, json_pack(
	    "{s:s,s:s,s:s}", "user", e->id, "from", was, "to", to));
}

static int
edit_price(struct store *st, DB_TXN *txn, struct edit *e)
{
	json_t *p = NULL;
	const char *cur;
	int64_t price, old;
	int rc, exp;

	if ((rc = db_get_json(st->products, txn, e->id, &p, 1)) == DB_NOTFOUND) {
		snprintf(e->why, sizeof(e->why), "%s: no such product (import "
		    "it first)", e->id);
		return 0;
	}
	if (rc != 0)
		return rc;
	cur = e->currency ? e->currency : str(p, "currency");
	if (cur == NULL || (exp = ms_currency_exponent(cur)) < 0) {
		snprintf(e->why, sizeof(e->why), "%s: not a currency", cur ?
		    cur : "(none)");
		json_decref(p);
		return 0;
	}
	if (parse_amount(e->amount, exp, &price) == -1) {
		snprintf(e->why, sizeof(e->why), "%s: not an amount in %s "
		    "(at most %d decimals)", e->amount, cur, exp);
		json_decref(p);
		return 0;
	}
	old = num(p, "price");
	if (old == price && strcmp(str(p, "currency"), cur) == 0) {
		e->unchanged = 1;
		json_decref(p);
		return 0;
	}
	rc = audit_add(st, txn, e->role.who, "price", json_pack(
	    "{s:s,s:I,s:s,s:I,s:O}", "sku", e->id, "price", (json_int_t)price,
	    "currency", cur, "was", (json_int_t)old, "was_currency",
	    json_object_get(p, "currency")));
	json_object_set_new(p, "price", json_integer(price));
	json_object_set_new(p, "currency", json_string(cur));
	if (rc == 0)
		rc = lookups_changed(st, txn);
	if (rc == 0)
		rc = db_put_json(st->products, txn, e->id, p);
	json_decref(p);
	return rc;
}

static int
edit_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct edit *e = arg;
	json_t *user = NULL;
	int rc;

	e->why[0] = '\0';
	e->unchanged = 0;
	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	if (strcmp(e->what, "price") == 0)
		return edit_price(st, txn, e);
	if ((rc = db_get_json(st->users, txn, e->id, &user, 1)) == DB_NOTFOUND) {
		snprintf(e->why, sizeof(e->why), "%s: no such user", e->id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (strncmp(e->what, "card-", 5) == 0)
		rc = edit_card(st, txn, e, user);
	else
		rc = edit_status(st, txn, e, user);
	json_decref(user);
	return rc;
}

static int
run_edit(const char *home, struct edit *e)
{
	struct store st;
	int rc;

	role_admin(&e->role, e->what);
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	if (replica_refuse_write(&st, e->what)) {
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	rc = run_txn(&st, edit_txn, e);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("%s: %s", e->what, db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	if (e->why[0] != '\0') {
		ms_warnx("%s", e->why);
		return MS_EX_FAIL;
	}
	return MS_EX_OK;
}

/* -d dir and -h, the only options of an edit; returns -1 on a usage error. */
static int
edit_opts(int argc, char **argv, const char *syn, const char **home)
{
	int ch;

	while ((ch = getopt(argc, argv, "d:h")) != -1) {
		switch (ch) {
		case 'd': *home = optarg; break;
		case 'h': cmd_usage(syn); return 1;
		default: cmd_usage(syn); return -1;
		}
	}
	return 0;
}

int
cmd_card(int argc, char **argv)
{
	const char *syn = "card [-h] [-d dir] add | remove user card";
	const char *home = NULL;
	struct edit e = { 0 };
	char err[200];
	int r;

	if ((r = edit_opts(argc, argv, syn, &home)) != 0)
		return r > 0 ? MS_EX_OK : MS_EX_USAGE;
	argc -= optind;
	argv += optind;
	if (argc != 3 || (strcmp(argv[0], "add") != 0 &&
	    strcmp(argv[0], "remove") != 0))
		return cmd_usage(syn);
	e.what = strcmp(argv[0], "add") == 0 ? "card-add" : "card-remove";
	e.id = argv[1];
	e.card = argv[2];
	if (!ms_id_valid(e.id)) {
		ms_warnx("%s: not a user id", e.id);
		return MS_EX_USAGE;
	}
	if (ms_card_valid(e.card, err, sizeof(err)) == -1) {
		ms_warnx("%s: %s", e.card, err);
		return MS_EX_USAGE;
	}
	return run_edit(home, &e);
}

int
cmd_price(int argc, char **argv)
{
	const char *syn = "price [-h] [-d dir] sku amount [currency]";
	const char *home = NULL;
	struct edit e = { 0 };
	int r;

	if ((r = edit_opts(argc, argv, syn, &home)) != 0)
		return r > 0 ? MS_EX_OK : MS_EX_USAGE;
	argc -= optind;
	argv += optind;
	if (argc != 2 && argc != 3)
		return cmd_usage(syn);
	e.what = "price";
	e.id = argv[0];
	e.amount = argv[1];
	e.currency = argc == 3 ? argv[2] : NULL;
	if (!ms_id_valid(e.id)) {
		ms_warnx("%s: not a sku", e.id);
		return MS_EX_USAGE;
	}
	if (e.currency != NULL && !ms_currency_valid(e.currency)) {
		ms_warnx("%s: not an ISO 4217 currency code", e.currency);
		return MS_EX_USAGE;
	}
	return run_edit(home, &e);
}

static int
status_cmd(int argc, char **argv, const char *what)
{
	char syn[64];
	const char *home = NULL;
	struct edit e = { 0 };
	int r;

	snprintf(syn, sizeof(syn), "%s [-h] [-d dir] user", what);
	if ((r = edit_opts(argc, argv, syn, &home)) != 0)
		return r > 0 ? MS_EX_OK : MS_EX_USAGE;
	if (optind + 1 != argc)
		return cmd_usage(syn);
	e.what = what;
	e.id = argv[optind];
	if (!ms_id_valid(e.id)) {
		ms_warnx("%s: not a user id", e.id);
		return MS_EX_USAGE;
	}
	return run_edit(home, &e);
}

int cmd_block(int argc, char **argv) { return status_cmd(argc, argv, "block"); }
int cmd_unblock(int argc, char **argv) { return status_cmd(argc, argv, "unblock"); }
