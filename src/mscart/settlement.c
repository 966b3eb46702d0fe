/*
 * settlement.c: the settlement state machine: pay (or due) opens a
 * settlement over a user's unpaid lines and freezes what it will charge;
 * charged (mscart settle) ends it paid, declined, failed or held for
 * review, or leaves it open when the answer is unknown.
 *
 *	open --succeeded--> paid		lines paid
 *	open --declined---> declined		lines unpaid, user attention
 *	open --failed-----> failed		lines unpaid, user attention
 *	open --failed-----> review		(something may have been
 *						charged) lines settling,
 *						user attention, until an
 *						admin settles it by hand
 *	open --unknown----> open		due prints it again (so does a
 *						failure of mspay's own set-up)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"

json_t *
settlement_message(const json_t *s)
{
	static const char *const keys[] = {
		"settlement", "user", "amount", "currency", "key", "state",
		"lines", "attempts", "gateway_id", "code", "message",
		"created", "updated", NULL
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
 * Freeze what the settlement charges, once, when it opens (or, for one
 * opened before mscart froze anything, when due first prints it): the
 * customer and stored payment method the user has now, and the
 * description.  Every attempt then sends the same body under the same
 * key, whatever the user record says later; a new payment reference
 * reaches the next settlement.
 */
void
settlement_freeze(json_t *s, const json_t *u)
{
	char desc[128];

	if (json_object_get(s, "customer") != NULL)
		return;
	json_object_set_new(s, "customer", u && str(u, "payment") ?
	    json_string(str(u, "payment")) : json_null());
	if (u && str(u, "payment_method"))
		json_object_set_new(s, "payment_method",
		    json_string(str(u, "payment_method")));
	snprintf(desc, sizeof(desc), "ms %s: %lld item%s", str(s, "settlement"),
	    (long long)num(s, "lines"), num(s, "lines") == 1 ? "" : "s");
	json_object_set_new(s, "description", json_string(desc));
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
	json_t *claimed, *credits, *s, *l, *u = NULL;
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
	/* unpaid lines and credits are open: open.db has them all */
	snprintf(owner, sizeof(owner), OWNER_USER "%s", user);
	if ((rc = owner_open_lines(st, txn, owner, &ids, &n)) != 0)
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
	if ((rc = db_get_json(st->users, txn, user, &u, 0)) != 0 &&
	    rc != DB_NOTFOUND)
		goto out;
	rc = 0;
	/* deterministic for this settlement, distinct across databases */
	snprintf(key, sizeof(key), "mscart-%s-%" PRId64, sid, now);
	ms_time_format(now, ts);
	s = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:i,s:n,s:s,s:s,s:O}",
	    "settlement", sid, "user", user, "amount", (json_int_t)total,
	    "currency", currency, "key", key,
	    "state", total == 0 ? "closed" : "open",
	    "lines", (json_int_t)json_array_size(claimed), "attempts", 0,
	    "gateway_id", "created", ts, "updated", ts, "line_ids", claimed);
	settlement_freeze(s, u);
	json_decref(u);
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



/*
 * What a failed charge means for its settlement (mspay(1) codes).  A key
 * the gateway refused or a TLS or set-up error is mspay's configuration,
 * not the settlement: it stays open and goes again once that is mended.
 * An answer that does not match what was asked, or a key the gateway
 * already holds with other parameters, means something may have been
 * charged: an admin must look (review).  Any other failure charged
 * nothing and ends the settlement.
 */
static const char *
failed_state(const char *code)
{
	static const char *const config[] = {
		"authentication", "permission", "tls", "config", NULL
	};
	static const char *const review[] = {
		"gateway_mismatch", "idempotency_error", "duplicate", NULL
	};

	for (const char *const *p = config; code != NULL && *p; p++)
		if (strcmp(code, *p) == 0)
			return "open";
	for (const char *const *p = review; code != NULL && *p; p++)
		if (strcmp(code, *p) == 0)
			return "review";
	return "failed";
}

/*
 * A user's payment record after a settlement of theirs ended: a decline,
 * a failure or a review needs a person (attention); a decline also counts
 * towards the retry schedule, against the payment reference it was
 * charged to; a payment clears both.
 */
static int
user_after(struct store *st, DB_TXN *txn, const json_t *s, const char *state,
    const char *ts)
{
	json_t *u;
	int rc;

	rc = db_get_json(st->users, txn, str(s, "user"), &u, 1);
	if (rc == DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (strcmp(state, "paid") == 0) {
		if (strcmp(str(u, "status"), "attention") == 0)
			json_object_set_new(u, "status", json_string("active"));
		json_object_del(u, "declines");
		json_object_del(u, "declined_at");
		json_object_del(u, "declined_payment");
	} else {
		if (strcmp(str(u, "status"), "blocked") != 0)
			json_object_set_new(u, "status", json_string("attention"));
		if (strcmp(state, "declined") == 0) {
			json_object_set_new(u, "declines",
			    json_integer(num(u, "declines") + 1));
			json_object_set_new(u, "declined_at", json_string(ts));
			json_object_set(u, "declined_payment",
			    json_object_get(s, "customer") ?
			    json_object_get(s, "customer") : json_null());
		}
	}
	rc = db_put_json(st->users, txn, str(s, "user"), u);
	json_decref(u);
	return rc;
}

/*
 * End an open settlement: paid (its lines paid), declined or failed (its
 * lines unpaid again, to be voided or charged by a later settlement), or
 * review (its lines stay settling until an admin settles it by hand).
 * It leaves the open index either way, so due prints it no more.
 */
int
settlement_end(struct store *st, DB_TXN *txn, const char *who, json_t *s,
    const char *state, const char *code, const char *message)
{
	const char *sid = str(s, "settlement"), *linestate = NULL;
	char okey[MS_ID_MAX + 8], ts[MS_TIME_LEN];
	json_t *v;
	size_t i;
	int rc = 0;

	ms_time_format(ms_now_ms(), ts);
	if (strcmp(state, "paid") == 0)
		linestate = "paid";
	else if (strcmp(state, "declined") == 0 || strcmp(state, "failed") == 0)
		linestate = "unpaid";
	json_object_set_new(s, "state", json_string(state));
	json_object_set_new(s, "updated", json_string(ts));
	json_object_set_new(s, "code", code ? json_string(code) : json_null());
	json_object_set_new(s, "message", message ? json_string(message) :
	    json_null());
	if (linestate != NULL)
		json_array_foreach(json_object_get(s, "line_ids"), i, v)
			if ((rc = line_set_state(st, txn, json_integer_value(v),
			    linestate, strcmp(linestate, "paid") == 0 ? sid :
			    NULL)) != 0)
				return rc;
	snprintf(okey, sizeof(okey), "%s %s", str(s, "user"), str(s, "currency"));
	if ((rc = db_del_str(st->opens, txn, okey)) != 0 && rc != DB_NOTFOUND)
		return rc;
	if ((rc = user_after(st, txn, s, state, ts)) != 0)
		return rc;
	if ((rc = db_put_json(st->settlements, txn, sid, s)) != 0)
		return rc;
	return audit_add(st, txn, who, "settlement-end", json_pack(
	    "{s:s,s:s,s:O,s:O}", "settlement", sid, "state", state,
	    "code", json_object_get(s, "code"), "gateway_id",
	    json_object_get(s, "gateway_id") ? json_object_get(s, "gateway_id") :
	    json_null()));
}

/*
 * Should due leave a user's unpaid lines alone for now?  1 and why when
 * the user has no payment reference (nothing can be charged), or when
 * the retry schedule after a decline says not yet: a declined user is
 * charged again no sooner than retry_ms (due -w, SETTLE_RETRY_MS by
 * default) after the decline, and after SETTLE_DECLINES_MAX declines in a
 * row not until their payment reference changes.
 */
int
settlement_hold(const json_t *u, int64_t now, int64_t retry_ms, char *why,
    size_t len)
{
	const char *pay = u ? str(u, "payment") : NULL;
	const char *was = u ? str(u, "declined_payment") : NULL;
	int64_t at, n = u ? num(u, "declines") : 0;
	char next[MS_TIME_LEN];

	if (pay == NULL) {
		snprintf(why, len, "no payment reference: nothing can be "
		    "charged");
		return 1;
	}
	if (n <= 0 || was == NULL || strcmp(pay, was) != 0)
		return 0;	/* never declined, or a new payment reference */
	if (n >= SETTLE_DECLINES_MAX) {
		snprintf(why, len, "declined %lld times in a row: not charged "
		    "again until the payment reference changes", (long long)n);
		return 1;
	}
	if (ms_time_parse(str(u, "declined_at"), &at) == 0 &&
	    now - at < retry_ms) {
		ms_time_format(at + retry_ms, next);
		snprintf(why, len, "declined %lld time%s: next attempt after %s",
		    (long long)n, n == 1 ? "" : "s", next);
		return 1;
	}
	return 0;
}

int
apply_charged(struct ctx *c)
{
	struct store *st = c->st;
	const char *sid = str(c->msg, "settlement"), *status, *state;
	const char *newstate;
	json_t *s = NULL;
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
		newstate = "paid";
	else if (strcmp(status, "declined") == 0)
		newstate = "declined";
	else if (strcmp(status, "failed") == 0)
		newstate = failed_state(str(c->msg, "code"));
	else
		newstate = "open";
	/*
	 * Only an open settlement changes, or one under review, which an
	 * admin ends with a charged line of their own.  The same result again
	 * changes nothing; another one conflicts.
	 */
	if (strcmp(state, "open") != 0 && !(strcmp(state, "review") == 0 &&
	    strcmp(newstate, "open") != 0 && strcmp(newstate, "review") != 0)) {
		if (strcmp(state, newstate) == 0) {
			c->reply = settlement_message(s);
			c->unchanged = 1;
			json_decref(s);
			return 0;
		}
		rc = refuse(c, "conflict", "charged: settlement %s is already "
		    "%s", sid, state);
		json_decref(s);
		return rc;
	}
	if (json_object_get(c->msg, "gateway_id") != NULL &&
	    !json_is_null(json_object_get(c->msg, "gateway_id")))
		json_object_set(s, "gateway_id",
		    json_object_get(c->msg, "gateway_id"));
	if (strcmp(newstate, "open") == 0) {
		char ts[MS_TIME_LEN];

		/* no end yet: when mspay last heard of it bounds its attempts */
		ms_time_format(ms_now_ms(), ts);
		json_object_set_new(s, "heard", json_string(ts));
		json_object_set_new(s, "updated", json_string(ts));
		rc = db_put_json(st->settlements, c->txn, sid, s);
	} else
		rc = settlement_end(st, c->txn, c->role->who, s, newstate,
		    str(c->msg, "code"), str(c->msg, "message"));
	if (rc == 0)
		rc = audit_add(st, c->txn, c->role->who, "charged", json_pack(
		    "{s:s,s:s,s:O,s:O}", "settlement", sid, "status", status,
		    "code", json_object_get(c->msg, "code") ?
		    json_object_get(c->msg, "code") : json_null(),
		    "gateway_id", json_object_get(s, "gateway_id")));
	if (rc == 0)
		c->reply = settlement_message(s);
	json_decref(s);
	return rc;
}

/* ----- the outcome ----- */

/*
 * What a person at the device can do about an end that was not paid, by
 * the gateway's code (mspay(1) CODES); the gateway's own message goes
 * along in "message".
 */
static const char *
outcome_reason(const char *state, const char *code)
{
	static const struct { const char *code, *reason; } reasons[] = {
		{ "expired_card", "card expired, see the office" },
		{ "insufficient_funds", "not enough money on the card, see the office" },
		{ "incorrect_cvc", "card details wrong, see the office" },
		{ "processing_error", "the bank could not take it, try again later" },
		{ "no-payment", "no card on file, see the office" },
		{ "authentication_required", "the bank wants a check, see the office" },
		{ NULL, NULL }
	};

	for (size_t i = 0; code != NULL && reasons[i].code; i++)
		if (strcmp(code, reasons[i].code) == 0)
			return reasons[i].reason;
	if (strcmp(state, "declined") == 0)
		return "card declined, see the office";
	if (strcmp(state, "review") == 0)
		return "payment being checked, see the office";
	return "payment failed, see the office";
}

json_t *
settlement_outcome(const json_t *s, const json_t *id)
{
	const char *state = str(s, "state");
	json_t *m;

	if (strcmp(state, "closed") == 0)
		state = "paid";		/* nothing to charge */
	else if (strcmp(state, "open") == 0)
		state = "pending";
	m = json_pack("{s:s,s:O,s:O,s:s,s:O,s:O}", "type", "outcome",
	    "settlement", json_object_get(s, "settlement"),
	    "user", json_object_get(s, "user"), "state", state,
	    "amount", json_object_get(s, "amount"),
	    "currency", json_object_get(s, "currency"));
	if (id != NULL)
		json_object_set(m, "id", (json_t *)id);
	if (strcmp(state, "paid") != 0 && strcmp(state, "pending") != 0) {
		json_object_set(m, "code", json_object_get(s, "code") ?
		    json_object_get(s, "code") : json_null());
		json_object_set(m, "message", json_object_get(s, "message") ?
		    json_object_get(s, "message") : json_null());
		json_object_set_new(m, "reason", json_string(outcome_reason(
		    state, str(s, "code"))));
	}
	return m;
}
