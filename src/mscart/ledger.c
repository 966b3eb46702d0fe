/*
 * ledger.c: what each message does to the ledger.  The messages of a
 * batch share one transaction (group commit).  So that nothing from a
 * refused line is applied, every handler makes all its checks before its
 * first write: a refusal (refuse()) never follows a put or a delete
 * (the one exception, an event's id, is taken back on refusal).
 * (Child transactions would give the same guarantee at twice the cost.)
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"

struct ctx {
	struct store	*st;
	DB_TXN		*txn;
	const struct role *role;
	const char	*source;
	unsigned long	 line;
	json_t		*msg;
	json_t		*reply;
	char		*raw;		/* or the reply already encoded */
	size_t		 rawlen;
	int		 refused;
	int		 forbidden;
	char		 event[MS_ID_MAX + 24];	/* "robot:seq" or "" */
};

static json_t *
error_reply(const json_t *msg, const char *code, const char *source,
    unsigned long line, const char *event, const char *text)
{
	json_t *e = json_object();
	const char *id = msg ? str(msg, "id") : NULL;
	char buf[MS_TEXT_MAX + 1];

	snprintf(buf, sizeof(buf), "%s", text);
	json_object_set_new(e, "type", json_string("error"));
	if (id != NULL && ms_id_valid(id))
		json_object_set_new(e, "id", json_string(id));
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "message", json_string(buf));
	json_object_set_new(e, "source", json_string(source));
	json_object_set_new(e, "line", json_integer((json_int_t)line));
	if (event != NULL && *event != '\0')
		json_object_set_new(e, "event", json_string(event));
	return e;
}

static int
refuse(struct ctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(struct ctx *c, const char *code, const char *fmt, ...)
{
	char text[MS_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_decref(c->reply);
	c->reply = error_reply(c->msg, code, c->source, c->line, c->event, text);
	c->refused = 1;
	if (strcmp(code, "forbidden") == 0)
		c->forbidden = 1;
	return 0;
}

/* ----- roles ----- */

int
role_parse(const char *s, struct role *r)
{
	memset(r, 0, sizeof(*r));
	if (strcmp(s, "admin") == 0) {
		r->kind = ROLE_ADMIN;
		snprintf(r->who, sizeof(r->who), "admin");
		return 0;
	}
	if (strncmp(s, "robot:", 6) == 0 && ms_id_valid(s + 6)) {
		r->kind = ROLE_ROBOT;
		snprintf(r->id, sizeof(r->id), "%s", s + 6);
	} else if (strncmp(s, "terminal:", 9) == 0 && ms_id_valid(s + 9)) {
		r->kind = ROLE_TERMINAL;
		snprintf(r->id, sizeof(r->id), "%s", s + 9);
	} else
		return -1;
	snprintf(r->who, sizeof(r->who), "%s", s);
	return 0;
}

void
role_admin(struct role *r, const char *how)
{
	const char *u = getenv("USER");

	memset(r, 0, sizeof(*r));
	r->kind = ROLE_ADMIN;
	snprintf(r->who, sizeof(r->who), "admin:%s%s%s", how,
	    u && ms_id_valid(u) ? "@" : "", u && ms_id_valid(u) ? u : "");
}

/* ----- lookups ----- */

/* User of a card: 0 and user in buf, DB_NOTFOUND, or an error. */
static int
card_user(struct store *st, DB_TXN *txn, const char *card, char *user,
    size_t len)
{
	return db_get_str(st->cards, txn, card, user, len);
}

/*
 * The shop's currency, for a cart with nothing to go by: that of the first
 * product in the catalogue (EUR for an empty catalogue).
 */
static void
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
static int
currency_of(struct store *st, DB_TXN *txn, const json_t *u, const char *user,
    char cur[4])
{
	struct line_head h;
	char owner[MS_ID_MAX + 4];
	int64_t *ids = NULL;
	const char *item;
	size_t n, len;
	int rc = 0;

	if (u != NULL && str(u, "currency") != NULL) {
		snprintf(cur, 4, "%s", str(u, "currency"));
		return 0;
	}
	catalog_currency(st, txn, cur);
	snprintf(owner, sizeof(owner), OWNER_USER "%s", user);
	if ((rc = owner_lines(st, txn, owner, &ids, &n)) != 0)
		return rc;
	if (n > 0 && (rc = line_get_item(st, txn, NULL, ids[0], &h, &item,
	    &len)) == 0)
		snprintf(cur, 4, "%s", h.currency);
	free(ids);
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

static int
state_is_open(char s)
{
	return s == 'u' || s == 's' || s == 'c';
}

/*
 * A cart message as text: the stored items are copied as they are, so a
 * query costs no JSON parsing of its lines.  reqid may be NULL.
 */
static int
cart_text(struct store *st, DB_TXN *txn, const char *user, json_t *urec,
    const char *card, int all, const char *reqid, struct ms_buf *out)
{
	json_t *u = NULL;
	char owner[MS_CARD_MAX + 4], cur[4], curs[16][4];
	char hbuf[8 * MS_TEXT_MAX + 1024];
	struct tbuf t;
	int64_t *ids = NULL, sums[16] = { 0 }, total = 0;
	size_t n, ncur = 0, first = 0, nitems = 0;
	const char *status = "unknown", *limit = "ok";
	struct ms_buf items = { 0 };
	DBC *lc = NULL;
	int rc;

	if (user != NULL) {
		if (urec != NULL)
			u = json_incref(urec);
		else if ((rc = db_get_json(st->users, txn, user, &u, 0)) != 0)
			return rc;
		status = str(u, "status") ? str(u, "status") : "active";
		snprintf(owner, sizeof(owner), OWNER_USER "%s", user);
		if ((rc = currency_of(st, txn, u, user, cur)) != 0)
			goto out;
	} else {
		snprintf(owner, sizeof(owner), OWNER_CARD "%s", card);
		cur[0] = '\0';
	}
	if ((rc = owner_lines(st, txn, owner, &ids, &n)) != 0)
		goto out;
	/* the newest MS_ITEMS_MAX lines at most */
	if (n > MS_ITEMS_MAX)
		first = n - MS_ITEMS_MAX;
	if (n > first && (rc = st->lines->cursor(st->lines, txn, &lc, 0)) != 0)
		goto out;
	for (size_t i = first; i < n; i++) {
		struct line_head h;
		const char *item;
		size_t len, k;

		if ((rc = line_get_item(st, txn, lc, ids[i], &h, &item,
		    &len)) != 0)
			goto out;
		if (state_is_open(h.state)) {
			for (k = 0; k < ncur && strcmp(curs[k], h.currency) != 0; k++)
				;
			if (k == ncur && ncur < 16)
				memcpy(curs[ncur++], h.currency, 4);
			if (k < 16)
				ms_money_add(sums[k], h.price, &sums[k]);
		}
		if (all || state_is_open(h.state)) {
			if (nitems++ > 0)
				ms_buf_add(&items, ",", 1);
			ms_buf_add(&items, item, len);
		}
	}
	if (cur[0] == '\0' && ncur > 0)
		snprintf(cur, sizeof(cur), "%s", curs[0]);
	else if (cur[0] == '\0')
		catalog_currency(st, txn, cur);
	for (size_t k = 0; k < ncur; k++)
		if (strcmp(curs[k], cur) == 0)
			total = sums[k];
	if (u != NULL && strcmp(status, "blocked") == 0)
		limit = "blocked";
	else if (u != NULL && json_is_integer(json_object_get(u, "limit")) &&
	    str(u, "currency") && strcmp(str(u, "currency"), cur) == 0 &&
	    total > num(u, "limit"))
		limit = "over";
	/* built by hand: a query is the hot path of a terminal */
	tb_init(&t, hbuf, sizeof(hbuf));
	tb_str(&t, "{\"type\":\"cart\"");
	if (reqid != NULL) {
		tb_str(&t, ",\"id\":");
		tb_quote(&t, reqid);
	}
	tb_str(&t, ",\"user\":");
	if (user != NULL)
		tb_quote(&t, user);
	else
		tb_str(&t, "null");
	if (card != NULL) {
		tb_str(&t, ",\"card\":");
		tb_quote(&t, card);
	}
	if (u != NULL && str(u, "name") != NULL) {
		tb_str(&t, ",\"name\":");
		tb_quote(&t, str(u, "name"));
	}
	tb_str(&t, ",\"status\":");
	tb_quote(&t, status);
	tb_str(&t, ",\"limit\":\"");
	tb_str(&t, limit);
	tb_str(&t, "\"");
	if (u != NULL && json_is_integer(json_object_get(u, "limit"))) {
		tb_str(&t, ",\"credit_limit\":");
		tb_i64(&t, num(u, "limit"));
	}
	tb_str(&t, ",\"items\":[");
	if (t.over) {
		rc = ENOMEM;
		goto out;
	}
	ms_buf_add(out, hbuf, t.n);
	if (items.len > 0)
		ms_buf_add(out, items.p, items.len);
	tb_init(&t, hbuf, sizeof(hbuf));
	tb_str(&t, "],\"total\":");
	tb_i64(&t, total);
	tb_str(&t, ",\"currency\":\"");
	tb_str(&t, cur);
	tb_str(&t, "\",\"totals\":[");
	for (size_t k = 0; k < ncur; k++) {
		tb_str(&t, k > 0 ? ",{\"currency\":\"" : "{\"currency\":\"");
		tb_str(&t, curs[k]);
		tb_str(&t, "\",\"amount\":");
		tb_i64(&t, sums[k]);
		tb_mem(&t, "}", 1);
	}
	tb_str(&t, "]}");
	ms_buf_add(out, hbuf, t.n);
	if (t.over || items.failed || out->failed)
		rc = ENOMEM;
out:
	if (lc != NULL)
		lc->close(lc);
	free(items.p);
	free(ids);
	json_decref(u);
	return rc;
}

int
cart_build(struct store *st, DB_TXN *txn, const char *user, const char *card,
    int all, json_t **cartp)
{
	struct ms_buf b = { 0 };
	int rc;

	*cartp = NULL;
	if ((rc = cart_text(st, txn, user, NULL, card, all, NULL, &b)) == 0 &&
	    (*cartp = json_loadb(b.p, b.len, 0, NULL)) == NULL)
		rc = ENOMEM;
	free(b.p);
	return rc;
}

/* ----- events ----- */

/* Owner of a card's takes: u:USER when enrolled, else c:CARD. */
static int
card_owner(struct store *st, DB_TXN *txn, const char *card, char *owner,
    size_t len, char *user, size_t ulen)
{
	int rc;

	user[0] = '\0';
	if (card == NULL) {
		snprintf(owner, len, OWNER_REVIEW);
		return 0;
	}
	rc = card_user(st, txn, card, user, ulen);
	if (rc == DB_NOTFOUND) {
		user[0] = '\0';
		snprintf(owner, len, OWNER_CARD "%s", card);
		return 0;
	}
	if (rc == 0)
		snprintf(owner, len, OWNER_USER "%s", user);
	return rc;
}

static int
apply_take(struct ctx *c)
{
	struct store *st = c->st;
	json_t *p = NULL;
	char owner[MS_CARD_MAX + 4], user[MS_ID_MAX + 1], id[32];
	char rec[16384], f[6 * MS_CARD_MAX + 256];
	const char *card = str(c->msg, "card"), *sku = str(c->msg, "sku");
	const char *cur;
	struct line_head h;
	struct tbuf t, a;
	int64_t lid, price;
	int rc;

	/* a batch of takes reads the same few products again and again */
	if ((p = json_object_get(product_cache(st), sku)) != NULL)
		json_incref(p);
	else {
		rc = db_get_json(st->products, c->txn, sku, &p, 0);
		if (rc == DB_NOTFOUND)
			return refuse(c, "unknown-sku", "take: unknown sku \"%s\"",
			    sku);
		if (rc != 0)
			return rc;
		json_object_set(product_cache(st), sku, p);
	}
	if ((rc = card_owner(st, c->txn, card, owner, sizeof(owner), user,
	    sizeof(user))) != 0)
		goto out;
	price = num(p, "price");
	cur = str(p, "currency");
	lid = st->next_line++;
	line_id_format(lid, id, sizeof(id));
	/*
	 * The record as line_put_rec() wants it, built by hand: this is the
	 * hot path.  sku, ts, robot, slot and event are plain identifiers or
	 * times; name, owner and card are quoted.
	 */
	tb_init(&t, rec, sizeof(rec));
	tb_mem(&t, rec, LINE_HEAD_LEN);		/* room for the head */
	tb_str(&t, "{\"id\":\"");
	tb_str(&t, id);
	tb_str(&t, "\",\"sku\":\"");
	tb_str(&t, sku);
	tb_str(&t, "\",\"name\":");
	tb_quote(&t, str(p, "name"));
	tb_str(&t, ",\"price\":");
	tb_i64(&t, price);
	tb_str(&t, ",\"currency\":\"");
	tb_str(&t, cur);
	tb_str(&t, "\",\"ts\":\"");
	tb_str(&t, str(c->msg, "ts"));
	tb_str(&t, "\",\"robot\":\"");
	tb_str(&t, str(c->msg, "robot"));
	tb_str(&t, "\",\"slot\":\"");
	tb_str(&t, str(c->msg, "slot"));
	tb_str(&t, "\",\"event\":\"");
	tb_str(&t, c->event);
	tb_str(&t, "\",\"state\":\"unpaid\",\"settlement\":null}\n"
	    "{\"owner\":");
	tb_quote(&t, owner);
	if (card != NULL) {
		tb_str(&t, ",\"card\":");
		tb_quote(&t, card);
	}
	tb_mem(&t, "}", 1);
	/* the audit record's fields */
	tb_init(&a, f, sizeof(f));
	tb_str(&a, "\"event\":\"");
	tb_str(&a, c->event);
	tb_str(&a, "\",\"line\":\"");
	tb_str(&a, id);
	tb_str(&a, "\",\"owner\":");
	tb_quote(&a, owner);
	tb_str(&a, ",\"price\":");
	tb_i64(&a, price);
	tb_str(&a, ",\"currency\":\"");
	tb_str(&a, cur);
	tb_mem(&a, "\"", 1);
	if (t.over || a.over) {
		rc = EINVAL;
		goto out;
	}
	h.state = 'u';
	snprintf(h.currency, sizeof(h.currency), "%s", cur);
	h.price = price;
	if ((rc = line_put_rec(st, c->txn, lid, &h, rec, t.n)) == 0 &&
	    (rc = owner_add(st, c->txn, owner, lid)) == 0)
		rc = audit_take(st, c->role->who, f);
out:
	json_decref(p);
	return rc;
}

static int
apply_return(struct ctx *c)
{
	struct store *st = c->st;
	char owner[MS_CARD_MAX + 4], user[MS_ID_MAX + 1], id[32];
	const char *card = str(c->msg, "card"), *sku = str(c->msg, "sku");
	int64_t *ids = NULL, cid;
	json_t *l = NULL, *paid = NULL, *cl;
	int64_t paid_id = 0;
	size_t n, i;
	int rc;

	if ((rc = card_owner(st, c->txn, card, owner, sizeof(owner), user,
	    sizeof(user))) != 0)
		return rc;
	if ((rc = owner_lines(st, c->txn, owner, &ids, &n)) != 0)
		return rc;
	/* newest first: an unpaid take is voided, else a paid one credited */
	for (i = n; i-- > 0; ) {
		if ((rc = line_get(st, c->txn, ids[i], &l, 0)) != 0)
			goto out;
		if (strcmp(str(l, "sku"), sku) == 0 && num(l, "price") >= 0) {
			const char *s = str(l, "state");

			if (strcmp(s, "unpaid") == 0)
				break;
			if (paid == NULL && (strcmp(s, "paid") == 0 ||
			    strcmp(s, "settling") == 0) &&
			    !json_is_true(json_object_get(l, "credited"))) {
				paid = l;
				paid_id = ids[i];
				l = NULL;
				continue;
			}
		}
		json_decref(l);
		l = NULL;
	}
	if (l != NULL) {
		json_object_set_new(l, "state", json_string("void"));
		json_object_set_new(l, "voided_by", json_string(c->event));
		if ((rc = line_put(st, c->txn, ids[i], l)) == 0)
			rc = audit_add(st, c->txn, c->role->who, "return-void",
			    json_pack("{s:s,s:O}", "event", c->event, "line",
			    json_object_get(l, "id")));
	} else if (paid != NULL) {
		json_object_set_new(paid, "credited", json_true());
		if ((rc = line_put(st, c->txn, paid_id, paid)) != 0)
			goto out;
		cid = st->next_line++;
		line_id_format(cid, id, sizeof(id));
		cl = json_deep_copy(paid);
		json_object_del(cl, "credited");
		json_object_set_new(cl, "id", json_string(id));
		json_object_set_new(cl, "price",
		    json_integer(-num(paid, "price")));
		json_object_set_new(cl, "state", json_string("credit"));
		json_object_set_new(cl, "settlement", json_null());
		json_object_set(cl, "ts", json_object_get(c->msg, "ts"));
		json_object_set_new(cl, "event", json_string(c->event));
		json_object_set(cl, "robot", json_object_get(c->msg, "robot"));
		json_object_set(cl, "slot", json_object_get(c->msg, "slot"));
		json_object_set_new(cl, "credit_for", json_object_get(paid, "id") ?
		    json_copy(json_object_get(paid, "id")) : json_null());
		if ((rc = line_put(st, c->txn, cid, cl)) == 0 &&
		    (rc = owner_add(st, c->txn, owner, cid)) == 0)
			rc = audit_add(st, c->txn, c->role->who, "return-credit",
			    json_pack("{s:s,s:s,s:O}", "event", c->event, "line",
			    id, "credit_for", json_object_get(paid, "id")));
		json_decref(cl);
	} else
		rc = audit_add(st, c->txn, c->role->who, "return-unmatched",
		    json_pack("{s:s,s:s,s:s}", "event", c->event, "owner",
		    owner, "sku", sku));
out:
	json_decref(l);
	json_decref(paid);
	free(ids);
	return rc;
}

static int
apply_event(struct ctx *c, enum ms_msg_type type)
{
	struct store *st = c->st;
	const char *tname = ms_msg_type_name(type), *robot;
	char user[MS_ID_MAX + 1];
	int64_t seq;
	int rc, dup = 0;
	json_t *ack;

	robot = str(c->msg, "robot");
	if (robot == NULL || ms_event_id(c->msg, c->event, sizeof(c->event)) == -1)
		return refuse(c, "invalid", "%s: mscart needs \"robot\" and "
		    "\"seq\" on every event (exactly once)", tname);
	if (c->role->kind == ROLE_TERMINAL || (c->role->kind == ROLE_ROBOT &&
	    strcmp(c->role->id, robot) != 0))
		return refuse(c, "forbidden", "%s: role %s may not send events "
		    "of robot %s", tname, c->role->who, robot);
	/* a refused event is not claimed, so it leaves nothing behind */
	seq = (int64_t)json_integer_value(json_object_get(c->msg, "seq"));
	if ((rc = event_seen(st, c->txn, robot, seq, &dup)) != 0)
		return rc;
	if (!dup) {
		switch (type) {
		case MS_MSG_TAKE:
			rc = apply_take(c);
			break;
		case MS_MSG_RETURN:
			rc = apply_return(c);
			break;
		default:
			rc = audit_add(st, c->txn, c->role->who, tname,
			    json_pack("{s:s,s:O}", "event", c->event,
			    "message", c->msg));
			break;
		}
		if (rc != 0 || c->refused)
			return rc;
		if ((rc = event_claim(st, c->txn, robot, seq)) != 0)
			return rc;
	}
	if (type != MS_MSG_IDENTIFY) {
		/* the common case, encoded directly: ids need no escaping */
		char buf[MS_ID_MAX + 128];
		struct tbuf t;

		tb_init(&t, buf, sizeof(buf));
		tb_str(&t, "{\"type\":\"ack\",\"status\":\"");
		tb_str(&t, dup ? "duplicate" : "applied");
		tb_str(&t, "\",\"of\":\"");
		tb_str(&t, tname);
		tb_str(&t, "\",\"event\":\"");
		tb_str(&t, c->event);
		tb_str(&t, "\"}");
		if (t.over || (c->raw = strdup(buf)) == NULL)
			return ENOMEM;
		c->rawlen = t.n;
		return 0;
	}
	ack = json_pack("{s:s,s:s,s:s,s:s}", "type", "ack", "status",
	    dup ? "duplicate" : "applied", "of", tname, "event", c->event);
	{
		const char *card = str(c->msg, "card");
		json_t *cart;

		rc = card_user(st, c->txn, card, user, sizeof(user));
		if (rc != 0 && rc != DB_NOTFOUND) {
			json_decref(ack);
			return rc;
		}
		if ((rc = cart_build(st, c->txn, rc == 0 ? user : NULL,
		    rc == 0 ? NULL : card, 0, &cart)) != 0) {
			json_decref(ack);
			return rc;
		}
		json_object_set(ack, "user", json_object_get(cart, "user"));
		json_object_set_new(ack, "cart", cart);
	}
	c->reply = ack;
	return 0;
}

/* ----- query and pay ----- */

/*
 * The user a query or pay names (by user or card), with the role check.
 * Returns 0 with user set (or user "" and an unknown card), or 0 with
 * the line refused, or an error.
 */
static int
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

static int
apply_query(struct ctx *c)
{
	char user[MS_ID_MAX + 1];
	struct ms_buf b = { 0 };
	json_t *u = NULL;
	int rc;

	if ((rc = resolve_user(c, "query", user, sizeof(user), &u)) != 0 ||
	    c->refused)
		return rc;
	rc = cart_text(c->st, c->txn, user[0] ? user : NULL, u,
	    str(c->msg, "card"), json_is_true(json_object_get(c->msg, "all")),
	    str(c->msg, "id"), &b);
	json_decref(u);
	if (rc != 0) {
		free(b.p);
		return rc;
	}
	c->raw = b.p;
	c->rawlen = b.len;
	return 0;
}

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

static int
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

/* ----- admin records ----- */

static int
apply_product(struct ctx *c)
{
	const char *sku = str(c->msg, "sku");
	json_t *p = NULL, *rec;
	int rc;

	rc = db_get_json(c->st->products, c->txn, sku, &p, 1);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	json_object_del(product_cache(c->st), sku);
	rec = json_deep_copy(c->msg);
	json_object_del(rec, "type");
	if (json_object_get(rec, "active") == NULL)
		json_object_set_new(rec, "active", p && json_is_false(
		    json_object_get(p, "active")) ? json_false() : json_true());
	if ((rc = db_put_json(c->st->products, c->txn, sku, rec)) == 0)
		rc = audit_add(c->st, c->txn, c->role->who, p ? "product-update" :
		    "product-add", json_pack("{s:O}", "record", rec));
	json_decref(rec);
	json_decref(p);
	if (rc == 0)
		c->reply = json_pack("{s:s,s:s,s:s}", "type", "ack", "status",
		    "applied", "of", "product");
	return rc;
}

/* Move the takes an unknown card made onto the user it now belongs to. */
static int
claim_card_lines(struct ctx *c, const char *card, const char *user)
{
	char from[MS_CARD_MAX + 4], to[MS_ID_MAX + 4];
	int64_t *ids;
	size_t n;
	json_t *l;
	int rc;

	snprintf(from, sizeof(from), OWNER_CARD "%s", card);
	snprintf(to, sizeof(to), OWNER_USER "%s", user);
	if ((rc = owner_lines(c->st, c->txn, from, &ids, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = line_get(c->st, c->txn, ids[i], &l, 1)) != 0)
			break;
		json_object_set_new(l, "owner", json_string(to));
		if ((rc = line_put(c->st, c->txn, ids[i], l)) == 0 &&
		    (rc = owner_del(c->st, c->txn, from, ids[i])) == 0)
			rc = owner_add(c->st, c->txn, to, ids[i]);
		json_decref(l);
	}
	if (rc == 0 && n > 0)
		rc = audit_add(c->st, c->txn, c->role->who, "card-claim",
		    json_pack("{s:s,s:s,s:I}", "card", card, "user", user,
		    "lines", (json_int_t)n));
	free(ids);
	return rc;
}

static int
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
	rc = 0;
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
		if ((rc = db_put_str(c->st->cards, c->txn, json_string_value(v),
		    user)) != 0 || (rc = claim_card_lines(c, json_string_value(v),
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

/* ----- charged (mscart settle) ----- */

static int
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

/* ----- dispatch ----- */

static int
dispatch(struct ctx *c, enum ms_msg_type type)
{
	if (ms_msg_is_event(type))
		return apply_event(c, type);
	switch (type) {
	case MS_MSG_QUERY:
		return apply_query(c);
	case MS_MSG_PAY:
		return apply_pay(c);
	case MS_MSG_PRODUCT:
	case MS_MSG_USER:
	case MS_MSG_CHARGED:
		if (c->role->kind != ROLE_ADMIN)
			return refuse(c, "forbidden", "%s: role %s may not send "
			    "%s records", ms_msg_type_name(type), c->role->who,
			    ms_msg_type_name(type));
		return type == MS_MSG_PRODUCT ? apply_product(c) :
		    type == MS_MSG_USER ? apply_user(c) : apply_charged(c);
	default:
		return refuse(c, "invalid", "%s: a reply, not a request",
		    ms_msg_type_name(type));
	}
}

/*
 * The watchdog of the loop's transactions.  A process SIGKILLed while
 * it holds one of Berkeley DB's region mutexes (not a lock: those time
 * out) leaves everyone else blocked in that mutex for good.  A
 * transaction that runs this long (MSCART_WATCHDOG seconds, 60 by
 * default, 0 for none) is taken for one: the process says so and exits
 * 75.  Nothing is lost: replies are written only after a commit, so a
 * client sends again what was not answered (and exactly-once makes that
 * safe); the next process to open the environment recovers it.
 */
static unsigned int
watchdog_secs(void)
{
	static long secs = -1;
	const char *e;

	if (secs < 0) {
		secs = 60;
		if ((e = getenv("MSCART_WATCHDOG")) != NULL && *e != '\0' &&
		    ms_parse_long(e, 0, 86400, &secs) == -1) {
			ms_warnx("MSCART_WATCHDOG=%s: not 0 to 86400 seconds; "
			    "using 60", e);
			secs = 60;
		}
	}
	return (unsigned int)secs;
}

static void
on_stuck(int sig)
{
	static const char msg[] = "mscart: a transaction is stuck behind a "
	    "killed process; exiting (what was not answered was not applied "
	    "or is answered as a duplicate when sent again)\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(MS_EX_TEMPFAIL);
}

static void
watchdog_arm(void)
{
	static int installed;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stuck;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		installed = 1;
	}
	alarm(watchdog_secs());
}

static void
watchdog_disarm(void)
{
	alarm(0);
}

int
run_txn(struct store *st, int (*fn)(struct store *, DB_TXN *, void *),
    void *arg)
{
	DB_TXN *txn;
	int rc;

	for (int tries = 0;; tries++) {
		if ((rc = store_begin(st, NULL, &txn, 0)) == 0) {
			rc = fn(st, txn, arg);
			if (rc == 0)
				rc = store_counters_save(st, txn);
			if (rc == 0)
				rc = txn->commit(txn, 0);
			else
				txn->abort(txn);
		}
		store_counters_forget(st);
		if (rc == 0)
			return 0;
		if (ms_dbenv_stuck(rc, tries) && tries < 1000) {
			if (store_reopen(st) != 0)
				return rc;
			continue;
		}
		if (store_retryable(rc) && tries < 1000) {
			if (tries > 10)
				usleep(1000 * (tries % 50));
			continue;
		}
		if (ms_dbenv_needs_reopen(rc) && tries < 1000) {
			if (store_reopen(st) != 0)
				return rc;
			continue;
		}
		return rc;
	}
}

/* ----- the loop ----- */

struct item {
	json_t		*msg;		/* NULL for a line refused on reading */
	json_t		*reply;
	char		*raw;		/* or the reply already encoded */
	size_t		 rawlen;
	enum ms_msg_type type;
	unsigned long	 line;
	int		 refused;
};

struct batch {
	struct item	*items;
	size_t		 n;
	const struct loop_opts *o;
	const char	*source;
};

/* Everything but an admin's or robot's query may write (a refusal of a
 * terminal's query is audited). */
static int
needs_counters(enum ms_msg_type t, const struct role *role)
{
	return t != MS_MSG_QUERY || role->kind == ROLE_TERMINAL;
}

static int
batch_run(struct store *st, DB_TXN *txn, void *arg)
{
	struct batch *b = arg;
	int rc, writes = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].msg != NULL && needs_counters(b->items[i].type, b->o->role))
			writes = 1;
	if (writes && (rc = store_counters_load(st, txn)) != 0)
		return rc;
	json_object_clear(product_cache(st));
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		struct ctx c;

		if (it->msg == NULL)
			continue;
		json_decref(it->reply);
		it->reply = NULL;
		free(it->raw);
		it->raw = NULL;
		memset(&c, 0, sizeof(c));
		c.st = st;
		c.role = b->o->role;
		c.source = b->source;
		c.line = it->line;
		c.msg = it->msg;
		c.txn = txn;
		if ((rc = dispatch(&c, it->type)) == 0 && c.forbidden)
			/* logged; nothing else changed */
			rc = audit_add(st, txn, b->o->role->who, "forbidden",
			    json_pack("{s:O,s:O}", "message", it->msg, "reason",
			    json_object_get(c.reply, "message")));
		if (rc != 0) {
			json_decref(c.reply);
			free(c.raw);
			return rc;
		}
		it->raw = c.raw;
		it->rawlen = c.rawlen;
		it->reply = c.reply;
		it->refused = c.refused;
	}
	return 0;
}

static void
item_bad(struct item *it, const struct ms_reader *r, int code_too_long,
    const char *why)
{
	it->msg = NULL;
	it->line = r->lineno;
	it->reply = error_reply(NULL, code_too_long ? "too-long" : "invalid",
	    r->source, r->lineno, NULL, why);
	it->refused = 1;
}

/* Parse and validate one line into an item. */
static void
item_parse(struct item *it, const struct ms_reader *r, const struct loop_opts *o)
{
	char err[512];
	json_t *m;
	enum ms_msg_type t;

	memset(it, 0, sizeof(*it));
	it->line = r->lineno;
	if ((m = ms_json_parse_line(r->line, r->len, err, sizeof(err))) == NULL) {
		item_bad(it, r, 0, err);
		return;
	}
	t = ms_msg_type(m);
	if (ms_msg_validate(m, err, sizeof(err)) == -1) {
		it->reply = error_reply(m, t == MS_MSG_UNKNOWN ? "unknown-type" :
		    "invalid", r->source, r->lineno, NULL, err);
		it->refused = 1;
		json_decref(m);
		return;
	}
	if (!(o->allowed & TYPE_BIT(t))) {
		snprintf(err, sizeof(err), "%s messages are not accepted here",
		    ms_msg_type_name(t));
		it->reply = error_reply(m, "invalid", r->source, r->lineno, NULL,
		    err);
		it->refused = 1;
		json_decref(m);
		return;
	}
	it->msg = m;
	it->type = t;
}

/*
 * The feeder: a thread that reads and parses lines while the main thread
 * applies the batch before, so that JSON parsing and validation (a
 * quarter of the work of a take) run on a second core.  It hands over
 * parsed items through a bounded ring.  The main thread commits a batch
 * when the ring is empty and the feeder is idle (no whole line waiting
 * on the input), exactly as it would reading the lines itself: the lines
 * already waiting go in one batch, and a lone line is never delayed.
 * Signals go to the main thread only; it waits in poll() on a pipe the
 * feeder writes to, so SIGTERM interrupts the wait.
 */
struct feed {
	pthread_mutex_t	 mu;
	pthread_cond_t	 space;		/* the feeder waits for room */
	struct item	*ring;
	size_t		 cap, head, count;
	int		 idle;		/* no whole line waiting on input */
	int		 done;		/* end of input, or a read error */
	int		 error;		/* ... a read error, err says which */
	int		 stop;		/* the main thread wants no more */
	int		 main_waits;	/* the main thread sleeps on wake[0] */
	int		 wake[2];	/* feeder -> main thread */
	int		 halt[2];	/* main thread -> feeder in poll() */
	/* messages applied, for the feeder to free: its core has time */
	json_t		**trash;
	size_t		 ntrash, trashcap;
	char		 err[512];
	struct ms_reader r;
	const struct loop_opts *o;
};

/* With f->mu held. */
static void
feed_wake(struct feed *f)
{
	if (f->main_waits) {
		f->main_waits = 0;
		while (write(f->wake[1], "", 1) == -1 && errno == EINTR)
			;
	}
}

static void
feed_set_idle(struct feed *f, int idle)
{
	pthread_mutex_lock(&f->mu);
	f->idle = idle;
	if (idle)
		feed_wake(f);
	pthread_mutex_unlock(&f->mu);
}

/* Block until input or a halt; -1 on a halt. */
static int
feed_wait_input(struct feed *f)
{
	struct pollfd p[2] = {
		{ .fd = f->r.fd, .events = POLLIN },
		{ .fd = f->halt[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return 0;	/* let read() say what is wrong */
		}
		if (p[1].revents)
			return -1;
		return 0;
	}
}

static void *
feeder(void *arg)
{
	struct feed *f = arg;
	struct item it;
	char err[512];
	int rc;

	for (;;) {
		json_t **trash;
		size_t ntrash;

		pthread_mutex_lock(&f->mu);
		while (f->count == f->cap && !f->stop && f->ntrash == 0)
			pthread_cond_wait(&f->space, &f->mu);
		rc = f->stop;
		trash = f->trash;
		ntrash = f->ntrash;
		f->trash = NULL;
		f->ntrash = f->trashcap = 0;
		pthread_mutex_unlock(&f->mu);
		for (size_t i = 0; i < ntrash; i++)
			json_decref(trash[i]);
		free(trash);
		if (rc)
			break;
		if (ntrash > 0)
			continue;	/* look at the room again */
		rc = ms_reader_line(&f->r, 1, err, sizeof(err));
		if (rc == MS_READ_AGAIN) {
			/* nothing whole is waiting: the batch may commit */
			feed_set_idle(f, 1);
			if (feed_wait_input(f) == -1)
				break;
			feed_set_idle(f, 0);
			continue;
		}
		if (rc == MS_READ_LINE)
			item_parse(&it, &f->r, f->o);
		else if (rc == MS_READ_BAD)
			item_bad(&it, &f->r, strstr(err, "longer") != NULL, err);
		pthread_mutex_lock(&f->mu);
		if (rc == MS_READ_LINE || rc == MS_READ_BAD) {
			f->ring[(f->head + f->count) % f->cap] = it;
			f->count++;
		} else {
			f->done = 1;
			if (rc != MS_READ_EOF) {
				f->error = 1;
				snprintf(f->err, sizeof(f->err), "%s", err);
			}
		}
		feed_wake(f);
		pthread_mutex_unlock(&f->mu);
		if (rc != MS_READ_LINE && rc != MS_READ_BAD)
			break;
	}
	return NULL;
}

static void
item_free(struct item *it)
{
	free(it->raw);
	json_decref(it->reply);
	json_decref(it->msg);
	memset(it, 0, sizeof(*it));
}

static int
feed_start(struct feed *f, pthread_t *tid, int fd, const char *source,
    const struct loop_opts *o, size_t cap)
{
	sigset_t all, old;
	int rc;

	memset(f, 0, sizeof(*f));
	f->wake[0] = f->wake[1] = f->halt[0] = f->halt[1] = -1;
	f->o = o;
	f->cap = cap;
	ms_reader_init(&f->r, fd, source);
	if ((f->ring = calloc(cap, sizeof(*f->ring))) == NULL ||
	    pipe(f->wake) == -1 || pipe(f->halt) == -1) {
		ms_warn("feeder");
		return -1;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->space, NULL);
	/* the feeder takes no signals: they interrupt the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(tid, NULL, feeder, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ms_warnx("pthread_create: %s", strerror(rc));
		return -1;
	}
	return 0;
}

static void
feed_stop(struct feed *f, pthread_t tid, int started)
{
	if (started) {
		pthread_mutex_lock(&f->mu);
		f->stop = 1;
		pthread_cond_signal(&f->space);
		pthread_mutex_unlock(&f->mu);
		while (write(f->halt[1], "", 1) == -1 && errno == EINTR)
			;
		pthread_join(tid, NULL);
		pthread_cond_destroy(&f->space);
		pthread_mutex_destroy(&f->mu);
	}
	for (; f->ring != NULL && f->count > 0; f->count--) {
		item_free(&f->ring[f->head]);
		f->head = (f->head + 1) % f->cap;
	}
	free(f->ring);
	for (size_t i = 0; i < f->ntrash; i++)
		json_decref(f->trash[i]);
	free(f->trash);
	for (int i = 0; i < 2; i++) {
		if (f->wake[i] != -1)
			close(f->wake[i]);
		if (f->halt[i] != -1)
			close(f->halt[i]);
	}
	ms_reader_free(&f->r);
}

/*
 * Give the batch's messages to the feeder to free (or free them here if
 * there is no room for the list).
 */
static void
feed_trash(struct feed *f, struct batch *b)
{
	size_t need;
	json_t **nt;

	pthread_mutex_lock(&f->mu);
	need = f->ntrash + b->n;
	if (need > f->trashcap) {
		size_t cap = f->trashcap ? f->trashcap : 1024;

		while (cap < need)
			cap *= 2;
		if ((nt = realloc(f->trash, cap * sizeof(*nt))) != NULL) {
			f->trash = nt;
			f->trashcap = cap;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->items[i].msg == NULL)
			continue;
		if (f->ntrash < f->trashcap)
			f->trash[f->ntrash++] = b->items[i].msg;
		else
			json_decref(b->items[i].msg);
		b->items[i].msg = NULL;
	}
	pthread_cond_signal(&f->space);
	pthread_mutex_unlock(&f->mu);
}

/*
 * The next batch: the first line blocks; the rest are what is already
 * waiting.  Returns 0, or -1 when no more lines will come.
 */
static int
feed_batch(struct feed *f, struct batch *b, size_t max)
{
	char c[64];
	int more;

	b->n = 0;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		if (f->count > 0) {
			if (f->count == f->cap)
				pthread_cond_signal(&f->space);
			while (f->count > 0 && b->n < max) {
				b->items[b->n++] = f->ring[f->head];
				f->head = (f->head + 1) % f->cap;
				f->count--;
			}
		}
		if (b->n == max || f->done || ms_sig_stop ||
		    (b->n > 0 && f->idle))
			break;
		f->main_waits = 1;
		pthread_mutex_unlock(&f->mu);
		poll(&(struct pollfd){ .fd = f->wake[0], .events = POLLIN }, 1, -1);
		pthread_mutex_lock(&f->mu);
		if (!f->main_waits)	/* woken: take the byte */
			while (read(f->wake[0], c, 1) == -1 && errno == EINTR)
				;
		f->main_waits = 0;
	}
	more = !(f->done && f->count == 0);
	pthread_mutex_unlock(&f->mu);
	return more ? 0 : -1;
}

long
ledger_loop(struct store *st, int fd, const char *source,
    const struct loop_opts *o)
{
	struct feed f;
	struct batch b;
	pthread_t tid;
	size_t max = o->batch_max > 0 ? (size_t)o->batch_max : 1000;
	long refused = 0;
	int rc, eof = 0, fatal = 0, started;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.source = source;
	started = feed_start(&f, &tid, fd, source, o, 2 * max) == 0;
	if (!started || (b.items = calloc(max, sizeof(*b.items))) == NULL) {
		if (started)
			ms_warn("calloc");
		feed_stop(&f, tid, started);
		return -1;
	}
	while (!eof && !fatal && !ms_sig_stop && !ms_write_failed()) {
		eof = feed_batch(&f, &b, max) == -1;
		if (b.n == 0)
			continue;
		watchdog_arm();
		rc = run_txn(st, batch_run, &b);
		watchdog_disarm();
		if (rc != 0) {
			ms_warnx("%s: lines %lu-%lu not applied: %s", source,
			    b.items[0].line, b.items[b.n - 1].line,
			    db_strerror(rc));
			for (size_t i = 0; i < b.n; i++) {
				if (b.items[i].msg == NULL)
					continue;
				json_decref(b.items[i].reply);
				free(b.items[i].raw);
				b.items[i].raw = NULL;
				b.items[i].reply = error_reply(b.items[i].msg,
				    "internal", source, b.items[i].line, NULL,
				    db_strerror(rc));
				b.items[i].refused = 1;
			}
			fatal = 1;
		}
		/* keep the log bounded: a checkpoint once 8 MiB of log or a
		 * minute has passed (a no-op otherwise), so old logs can go */
		watchdog_arm();
		st->env->txn_checkpoint(st->env, 8192, 1, 0);
		watchdog_disarm();
		for (size_t i = 0; i < b.n; i++) {
			struct item *it = &b.items[i];

			if (it->refused)
				refused++;
			if ((o->quiet || o->warn) && it->refused)
				ms_warn_at(source, it->line, "%s",
				    str(it->reply, "message"));
			if (!o->quiet && it->raw != NULL)
				ms_write_raw(stdout, it->raw, it->rawlen, i + 1 == b.n);
			else if (!o->quiet)
				ms_write_json(stdout, it->reply, i + 1 == b.n);
			free(it->raw);
			it->raw = NULL;
			json_decref(it->reply);
			it->reply = NULL;
		}
		feed_trash(&f, &b);
	}
	if (eof && f.error) {
		ms_warnx("%s: %s", source, f.err);
		fatal = 1;
	}
	feed_stop(&f, tid, 1);
	free(b.items);
	return fatal ? -1 : refused;
}
