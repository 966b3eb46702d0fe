/*
 * apply_query.c: a query from a robot, terminal or admin: whose cart, who
 * may ask for it, and the cart reply.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "replica.h"

/*
 * The user a query or pay names (by user or card), with the role check.
 * Returns 0 with user set (or user "" and an unknown card), or 0 with
 * the line refused, or an error.
 */
int
resolve_user(struct ctx *c, const char *what, char *user, size_t len,
    json_t **urec)
{
	const char *u = str(c->msg, "user"), *card = str(c->msg, "card");
	json_t *rec;
	int rc;

	if (u != NULL) {
		snprintf(user, len, "%s", u);
	} else {
		rc = card_user(c->st, c->txn, card, user, len);
		if (rc == DB_NOTFOUND)
			user[0] = '\0';
		else if (rc != 0)
			return rc;
	}
	if (c->role->kind == ROLE_TERMINAL && strcmp(user, c->role->id) != 0)
		return refuse(c, "forbidden", "%s: role %s may only %s for "
		    "user %s", what, c->role->who, what, c->role->id);
	if (user[0] == '\0')
		return 0;
	rc = db_get_json(c->st->users, c->txn, user, &rec, 0);
	if (rc == DB_NOTFOUND)
		return refuse(c, "unknown-user", "%s: unknown user \"%s\"", what,
		    user);
	if (urec != NULL)
		*urec = rec;
	else
		json_decref(rec);
	return rc;
}

/*
 * A settlement's outcome, for a device that went away before it came: a
 * terminal may ask for its own user's settlements only, and hears of one
 * it may not see as of one that does not exist.
 */
static int
query_settlement(struct ctx *c)
{
	const char *sid = str(c->msg, "settlement");
	json_t *s;
	int rc;

	rc = db_get_json(c->st->settlements, c->txn, sid, &s, 0);
	if (rc == DB_NOTFOUND || (rc == 0 && c->role->kind == ROLE_TERMINAL &&
	    strcmp(str(s, "user"), c->role->id) != 0)) {
		if (rc == 0)
			json_decref(s);
		return refuse(c, "invalid", "query: no settlement %s", sid);
	}
	if (rc != 0)
		return rc;
	c->reply = settlement_outcome(s, json_object_get(c->msg, "id"));
	json_decref(s);
	return 0;
}

int
apply_query(struct ctx *c)
{
	char user[MS_ID_MAX + 1];
	struct ms_buf b = { 0 };
	json_t *u = NULL;
	int rc;

	static int noted;

	/* a client's answers may be behind: say so once a process */
	if (!noted++)
		replica_read_note(c->st, "query");
	if (str(c->msg, "settlement") != NULL)
		return query_settlement(c);
	if ((rc = resolve_user(c, "query", user, sizeof(user), &u)) != 0 ||
	    c->refused)
		return rc;
	rc = cart_text(c->st, c->txn, user[0] ? user : NULL, u,
	    str(c->msg, "card"), json_is_true(json_object_get(c->msg, "all")),
	    str(c->msg, "id"), (size_t)num(c->msg, "offset"), MS_CART_PAGE, &b);
	json_decref(u);
	if (rc != 0) {
		free(b.p);
		return rc;
	}
	c->raw = b.p;
	c->rawlen = b.len;
	return 0;
}
