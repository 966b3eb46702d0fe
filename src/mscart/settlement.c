/*
 * settlement.c: the settlement state machine: pay opens a settlement over
 * a user's unpaid lines; charged (mscart settle) closes it as paid, or
 * records it failed, declined or unknown.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

json_t *
settlement_message(const json_t *s)
{
	static const char *const keys[] = {
		"settlement", "user", "amount", "currency", "key", "state",
		"lines", "attempts", "gateway_id", "created", "updated", NULL
	};
	json_t *m = json_object();

	json_object_set_new(m, "type", json_string("settlement"));
	for (const char *const *k = keys; *k; k++)
		if (json_object_get(s, *k) != NULL)
			json_object_set(m, *k, json_object_get(s, *k));
	return m;
}

static int
line_set_state(struct store *st, DB_TXN *txn, int64_t id, const char *state,
    const char *sett)
{
	json_t *l;
	int rc;

	if ((rc = line_get(st, txn, id, &l, 1)) != 0)
		return rc;
	if (strcmp(state, "unpaid") == 0 && num(l, "price") < 0)
		state = "credit";
	json_object_set_new(l, "state", json_string(state));
	json_object_set_new(l, "settlement", sett ? json_string(sett) : json_null());
	rc = line_put(st, txn, id, l);
	json_decref(l);
	return rc;
}

/*
 * The open settlement of user in currency, or a new one claiming their
 * unpaid lines (and the credits that fit).  DB_NOTFOUND: nothing to pay.
 * A zero total is closed at once, its lines paid, without a charge.
 */
int
settlement_open(struct store *st, DB_TXN *txn, const char *who,
    const char *user, const char *currency, json_t **settp)
{
	char okey[MS_ID_MAX + 8], owner[MS_ID_MAX + 4], sid[32], key[80];
	char ts[MS_TIME_LEN];
	int64_t *ids = NULL, total = 0, now = ms_now_ms();
	json_t *claimed, *credits, *s, *l;
	size_t n, i, idx;
	json_t *v;
	int rc;

	*settp = NULL;
	snprintf(okey, sizeof(okey), "%s %s", user, currency);
	rc = db_get_str(st->opens, txn, okey, sid, sizeof(sid));
	if (rc == 0)
		return db_get_json(st->settlements, txn, sid, settp, 0);
	if (rc != DB_NOTFOUND)
		return rc;
	snprintf(owner, sizeof(owner), OWNER_USER "%s", user);
	if ((rc = owner_lines(st, txn, owner, &ids, &n)) != 0)
		return rc;
	claimed = json_array();
	credits = json_array();
	for (i = 0; i < n; i++) {
		const char *state;

		if ((rc = line_get(st, txn, ids[i], &l, 0)) != 0)
			goto out;
		state = str(l, "state");
		if (strcmp(str(l, "currency"), currency) == 0) {
			if (strcmp(state, "unpaid") == 0) {
				if (ms_money_add(total, num(l, "price"), &total) == -1) {
					json_decref(l);
					rc = EOVERFLOW;
					goto out;
				}
				json_array_append_new(claimed, json_integer(ids[i]));
			} else if (strcmp(state, "credit") == 0)
				json_array_append_new(credits, json_integer(ids[i]));
			(void)0;
		}
		(void)num;
		json_decref(l);
	}
	if (json_array_size(claimed) == 0) {
		rc = DB_NOTFOUND;
		goto out;
	}
	/* credits (negative) that keep the total at or above zero */
	json_array_foreach(credits, idx, v) {
		if ((rc = line_get(st, txn, json_integer_value(v), &l, 0)) != 0)
			goto out;
		if (total + num(l, "price") >= 0) {
			total += num(l, "price");
			json_array_append(claimed, v);
		}
		json_decref(l);
	}
	snprintf(sid, sizeof(sid), "S%" PRId64, st->next_sett++);
	/* deterministic for this settlement, distinct across databases */
	snprintf(key, sizeof(key), "mscart-%s-%" PRId64, sid, now);
	ms_time_format(now, ts);
	s = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:i,s:n,s:s,s:s,s:O}",
	    "settlement", sid, "user", user, "amount", (json_int_t)total,
	    "currency", currency, "key", key,
	    "state", total == 0 ? "closed" : "open",
	    "lines", (json_int_t)json_array_size(claimed), "attempts", 0,
	    "gateway_id", "created", ts, "updated", ts, "line_ids", claimed);
	json_array_foreach(claimed, idx, v) {
		if ((rc = line_set_state(st, txn, json_integer_value(v),
		    total == 0 ? "paid" : "settling", sid)) != 0)
			break;
	}
	if (rc == 0)
		rc = db_put_json(st->settlements, txn, sid, s);
	if (rc == 0 && total != 0)
		rc = db_put_str(st->opens, txn, okey, sid);
	if (rc == 0)
		rc = audit_add(st, txn, who, "settlement-open", json_pack(
		    "{s:s,s:s,s:I,s:s,s:I}", "settlement", sid, "user", user,
		    "amount", (json_int_t)total, "currency", currency, "lines",
		    (json_int_t)json_array_size(claimed)));
	if (rc == 0)
		*settp = s;
	else
		json_decref(s);
out:
	json_decref(claimed);
	json_decref(credits);
	free(ids);
	return rc;
}

int
apply_pay(struct ctx *c)
{
	char user[MS_ID_MAX + 1], cur[4];
	json_t *s;
	int rc;

	if ((rc = resolve_user(c, "pay", user, sizeof(user), NULL)) != 0 ||
	    c->refused)
		return rc;
	if (user[0] == '\0')
		return refuse(c, "unknown-card", "pay: card %s is not enrolled",
		    str(c->msg, "card"));
	if (str(c->msg, "currency") != NULL)
		snprintf(cur, sizeof(cur), "%s", str(c->msg, "currency"));
	else if ((rc = user_default_currency(c->st, c->txn, user, cur)) != 0)
		return rc;
	rc = settlement_open(c->st, c->txn, c->role->who, user, cur, &s);
	if (rc == DB_NOTFOUND)
		return refuse(c, "conflict", "pay: user %s has nothing unpaid "
		    "in %s", user, cur);
	if (rc == EOVERFLOW)
		return refuse(c, "overflow", "pay: total of user %s overflows",
		    user);
	if (rc != 0)
		return rc;
	c->reply = settlement_message(s);
	if (str(c->msg, "id") != NULL)
		json_object_set(c->reply, "id", json_object_get(c->msg, "id"));
	json_decref(s);
	return 0;
}



int
apply_charged(struct ctx *c)
{
	struct store *st = c->st;
	const char *sid = str(c->msg, "settlement"), *status;
	const char *state, *newstate, *linestate;
	char okey[MS_ID_MAX + 8], ts[MS_TIME_LEN];
	json_t *s = NULL, *v, *u;
	size_t i;
	int rc;

	rc = db_get_json(st->settlements, c->txn, sid, &s, 1);
	if (rc == DB_NOTFOUND)
		return refuse(c, "invalid", "charged: unknown settlement %s", sid);
	if (rc != 0)
		return rc;
	status = str(c->msg, "status");
	state = str(s, "state");
	if (strcmp(str(s, "key"), str(c->msg, "key")) != 0 ||
	    num(s, "amount") != num(c->msg, "amount") ||
	    strcmp(str(s, "currency"), str(c->msg, "currency")) != 0) {
		json_decref(s);
		return refuse(c, "conflict", "charged: key, amount or currency "
		    "do not match settlement %s", sid);
	}
	if (strcmp(status, "succeeded") == 0)
		newstate = "paid", linestate = "paid";
	else if (strcmp(status, "declined") == 0)
		newstate = "declined", linestate = "unpaid";
	else
		newstate = "open", linestate = NULL;
	if (strcmp(state, "open") != 0) {
		/* the same result again changes nothing; another one conflicts */
		if (strcmp(state, newstate) == 0) {
			c->reply = settlement_message(s);
			json_decref(s);
			return 0;
		}
		rc = refuse(c, "conflict", "charged: settlement %s is already "
		    "%s", sid, state);
		json_decref(s);
		return rc;
	}
	ms_time_format(ms_now_ms(), ts);
	json_object_set_new(s, "state", json_string(newstate));
	json_object_set_new(s, "updated", json_string(ts));
	if (json_object_get(c->msg, "gateway_id") != NULL)
		json_object_set(s, "gateway_id",
		    json_object_get(c->msg, "gateway_id"));
	if (linestate != NULL) {
		json_array_foreach(json_object_get(s, "line_ids"), i, v)
			if ((rc = line_set_state(st, c->txn, json_integer_value(v),
			    linestate, strcmp(linestate, "paid") == 0 ? sid :
			    NULL)) != 0)
				goto out;
		snprintf(okey, sizeof(okey), "%s %s", str(s, "user"),
		    str(s, "currency"));
		if ((rc = db_del_str(st->opens, c->txn, okey)) != 0 &&
		    rc != DB_NOTFOUND)
			goto out;
	}
	if (strcmp(newstate, "open") != 0) {
		/* a decline needs a person; a later success clears that */
		rc = db_get_json(st->users, c->txn, str(s, "user"), &u, 1);
		if (rc == 0) {
			if (strcmp(newstate, "declined") == 0 &&
			    strcmp(str(u, "status"), "blocked") != 0)
				json_object_set_new(u, "status",
				    json_string("attention"));
			else if (strcmp(newstate, "paid") == 0 &&
			    strcmp(str(u, "status"), "attention") == 0)
				json_object_set_new(u, "status",
				    json_string("active"));
			rc = db_put_json(st->users, c->txn, str(s, "user"), u);
			json_decref(u);
		}
		if (rc != 0 && rc != DB_NOTFOUND)
			goto out;
	}
	if ((rc = db_put_json(st->settlements, c->txn, sid, s)) == 0)
		rc = audit_add(st, c->txn, c->role->who, "charged", json_pack(
		    "{s:s,s:s,s:O,s:O}", "settlement", sid, "status", status,
		    "code", json_object_get(c->msg, "code") ?
		    json_object_get(c->msg, "code") : json_null(),
		    "gateway_id", json_object_get(s, "gateway_id")));
	if (rc == 0)
		c->reply = settlement_message(s);
out:
	json_decref(s);
	return rc;
}
