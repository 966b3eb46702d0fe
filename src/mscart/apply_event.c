/*
 * apply_event.c: what a robot's events (identify, take, return, restock,
 * door, alarm, session-end) do to the ledger: cart lines, credits, stock,
 * review.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

void
evfields_fill(struct evfields *f, const json_t *m)
{
	f->robot = str(m, "robot");
	f->slot = str(m, "slot");
	f->sku = str(m, "sku");
	f->card = str(m, "card");
	f->ts = str(m, "ts");
	f->seq = num(m, "seq");
	f->ok = f->robot != NULL &&
	    ms_event_id(m, f->event, sizeof(f->event)) == 0;
}

/* prefix and id into owner (a take's hot path: no snprintf). */
static int
owner_key(char *owner, size_t len, const char *prefix, const char *id)
{
	size_t pl = strlen(prefix), il = strlen(id);

	if (pl + il >= len)
		return EINVAL;
	memcpy(owner, prefix, pl);
	memcpy(owner + pl, id, il + 1);
	return 0;
}

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
		return owner_key(owner, len, OWNER_CARD, card);
	}
	if (rc == 0)
		rc = owner_key(owner, len, OWNER_USER, user);
	return rc;
}

static int
apply_take(struct ctx *c)
{
	struct store *st = c->st;
	json_t *p = NULL, *kept;
	char owner[MS_CARD_MAX + 4], user[MS_ID_MAX + 1], id[32];
	char rec[16384], f[6 * MS_CARD_MAX + 256];
	const char *card, *sku, *robot, *slot, *ts;
	const char *cur;
	char held_cur[4];
	struct line_head h;
	struct tbuf t, a;
	int64_t lid, price;
	int rc, beyond;

	card = c->f->card;
	sku = c->f->sku;
	robot = c->f->robot;
	slot = c->f->slot;
	ts = c->f->ts;
	/* takes read the same few products again and again: kept */
	if ((kept = products_kept(st, c->txn)) != NULL &&
	    (p = json_object_get(kept, sku)) != NULL)
		json_incref(p);
	else {
		rc = db_get_json(st->products, c->txn, sku, &p, 0);
		if (rc != 0 && rc != DB_NOTFOUND)
			return rc;
		if (rc == 0 && kept != NULL)
			json_object_set(kept, sku, p);
	}
	if ((rc = card_owner(st, c->txn, card, owner, sizeof(owner), user,
	    sizeof(user))) != 0)
		goto out;
	if ((rc = stock_take(st, c->txn, robot, slot, &beyond)) != 0)
		goto out;
	if (p != NULL) {
		price = num(p, "price");
		cur = str(p, "currency");
	} else {
		/*
		 * The item is gone whatever the catalogue says: the line is
		 * kept, held at no price, until a product record for the sku
		 * prices it (apply_product); HELD_BY indexes it by sku.
		 */
		price = 0;
		catalog_currency(st, c->txn, held_cur);
		cur = held_cur;
	}
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
	if (p != NULL)
		tb_quote(&t, str(p, "name"));
	else
		tb_str(&t, "null");
	tb_str(&t, ",\"price\":");
	tb_i64(&t, price);
	tb_str(&t, ",\"currency\":\"");
	tb_str(&t, cur);
	tb_str(&t, "\",\"ts\":\"");
	tb_str(&t, ts);
	tb_str(&t, "\",\"robot\":\"");
	tb_str(&t, robot);
	tb_str(&t, "\",\"slot\":\"");
	tb_str(&t, slot);
	tb_str(&t, "\",\"event\":\"");
	tb_str(&t, c->event);
	tb_str(&t, p != NULL ? "\",\"state\":\"unpaid\",\"settlement\":null}\n"
	    "{\"owner\":" : "\",\"state\":\"held\",\"settlement\":null}\n"
	    "{\"owner\":");
	tb_quote(&t, owner);
	if (card != NULL) {
		tb_str(&t, ",\"card\":");
		tb_quote(&t, card);
	}
	if (beyond)
		tb_str(&t, ",\"review\":\"beyond-stock\"");
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
	if (p == NULL)
		tb_str(&a, ",\"held\":\"unknown sku\"");
	if (beyond)
		tb_str(&a, ",\"review\":\"beyond-stock\"");
	if (t.over || a.over) {
		rc = EINVAL;
		goto out;
	}
	h.state = p != NULL ? 'u' : 'h';
	if (strlen(cur) == 3)		/* ISO 4217: always, but checked */
		memcpy(h.currency, cur, 4);
	else
		snprintf(h.currency, sizeof(h.currency), "%s", cur);
	h.price = price;
	/*
	 * open.db indexes the new line (at the batch's end, or before a
	 * message that reads it); owners.db waits until it closes.
	 */
	if ((rc = line_put_rec(st, c->txn, lid, &h, rec, t.n, owner)) == 0 &&
	    p == NULL) {
		char by[MS_ID_MAX + 4];

		snprintf(by, sizeof(by), OWNER_HELD "%s", sku);
		rc = owner_add(st, c->txn, by, lid);
	}
	if (rc == 0)
		rc = audit_take(st, c->role->who, f);
out:
	json_decref(p);
	return rc;
}

/*
 * Which lines a return may match (mscart(1), "return"): the owner's
 * takes of the same sku at the same robot and slot, taken at most
 * RETURN_WINDOW_MS before the return (by the robot's own clock) and not
 * after it.  The item goes back into the slot it came from, during or
 * soon after the visit; a return elsewhere or later is for a person to
 * look at (review), not for the ledger to guess.
 */
#define RETURN_WINDOW_MS	(3600 * 1000)

struct return_match {
	const char	*sku, *robot, *slot;
	int64_t		 ts;		/* the return's */
	int64_t		 found;		/* the newest matching line */
};

/* Does a take (item or whole line) match the return? */
static int
return_matches(const struct return_match *m, const json_t *l)
{
	const char *robot = str(l, "robot"), *slot = str(l, "slot");
	int64_t ts;

	if (num(l, "price") < 0 || strcmp(str(l, "sku"), m->sku) != 0 ||
	    robot == NULL || strcmp(robot, m->robot) != 0 || slot == NULL ||
	    strcmp(slot, m->slot) != 0 ||
	    ms_time_parse(str(l, "ts"), &ts) != 0)
		return 0;
	return ts <= m->ts && m->ts - ts <= RETURN_WINDOW_MS;
}

/* An open line: keep the newest unpaid or held take that matches. */
static int
void_candidate(const struct line_head *h, const char *item, size_t len,
    void *arg)
{
	struct return_match *m = arg;
	json_t *l;
	int64_t id;

	if (h->state != 'u' && h->state != 'h')
		return 0;
	if ((l = json_loadb(item, len, 0, NULL)) == NULL)
		return 0;
	if (return_matches(m, l) && line_id_parse(str(l, "id"), &id) == 0 &&
	    id > m->found)
		m->found = id;
	json_decref(l);
	return 0;
}

static int
apply_return(struct ctx *c)
{
	struct store *st = c->st;
	char owner[MS_CARD_MAX + 4], user[MS_ID_MAX + 1], id[32];
	const char *card = str(c->msg, "card"), *sku = str(c->msg, "sku");
	struct return_match m;
	int64_t *ids = NULL, cid;
	json_t *l = NULL, *paid = NULL, *cl;
	int64_t paid_id = 0;
	size_t n = 0, i;
	int rc;

	if ((rc = card_owner(st, c->txn, card, owner, sizeof(owner), user,
	    sizeof(user))) != 0)
		return rc;
	memset(&m, 0, sizeof(m));
	m.sku = sku;
	m.robot = str(c->msg, "robot");
	m.slot = str(c->msg, "slot");
	if (ms_time_parse(str(c->msg, "ts"), &m.ts) != 0)
		return refuse(c, "invalid", "return: bad ts");
	/* an unpaid (or held) take is voided: the open lines are enough */
	if ((rc = open_lines_walk(st, c->txn, owner, void_candidate, &m)) != 0)
		return rc;
	if (m.found > 0) {
		if ((rc = line_get(st, c->txn, m.found, &l, 1)) != 0)
			return rc;
		if (strcmp(str(l, "state"), "held") == 0) {
			char by[MS_ID_MAX + 4];

			snprintf(by, sizeof(by), OWNER_HELD "%s", sku);
			if ((rc = owner_del(st, c->txn, by, m.found)) != 0)
				goto out;
		}
		json_object_set_new(l, "state", json_string("void"));
		json_object_set_new(l, "voided_by", json_string(c->event));
		if ((rc = line_put(st, c->txn, m.found, l)) == 0 &&
		    (rc = stock_return(st, c->txn, m.robot, m.slot)) == 0)
			rc = audit_add(st, c->txn, c->role->who, "return-void",
			    json_pack("{s:s,s:O}", "event", c->event, "line",
			    json_object_get(l, "id")));
		goto out;
	}
	/*
	 * Else the newest paid or settling take not credited yet gets a
	 * credit.  A robot's clock may go back, so the whole history is
	 * looked at: a return that voids (the common case) never gets here.
	 */
	if ((rc = owner_lines(st, c->txn, owner, &ids, &n)) != 0)
		return rc;
	for (i = n; i-- > 0; ) {
		const char *s;

		if ((rc = line_get(st, c->txn, ids[i], &l, 0)) != 0)
			goto out;
		s = str(l, "state");
		if (return_matches(&m, l) && (strcmp(s, "paid") == 0 ||
		    strcmp(s, "settling") == 0) &&
		    !json_is_true(json_object_get(l, "credited"))) {
			paid = l;
			paid_id = ids[i];
			l = NULL;
			break;
		}
		json_decref(l);
		l = NULL;
	}
	if (paid != NULL) {
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
		    (rc = owner_add(st, c->txn, owner, cid)) == 0 &&
		    (rc = stock_return(st, c->txn, m.robot, m.slot)) == 0)
			rc = audit_add(st, c->txn, c->role->who, "return-credit",
			    json_pack("{s:s,s:s,s:O}", "event", c->event, "line",
			    id, "credit_for", json_object_get(paid, "id")));
		json_decref(cl);
	} else
		/* nothing to match: for a person to review */
		rc = audit_add(st, c->txn, c->role->who, "return-unmatched",
		    json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", c->event,
		    "owner", owner, "robot", m.robot, "slot", m.slot, "sku", sku));
out:
	json_decref(l);
	json_decref(paid);
	free(ids);
	return rc;
}

/* A robot's restock: the slot's counted level, by its operator. */
static int
apply_restock(struct ctx *c)
{
	struct restock r;

	memset(&r, 0, sizeof(r));
	r.robot = str(c->msg, "robot");
	r.slot = str(c->msg, "slot");
	r.sku = str(c->msg, "sku");
	r.count = num(c->msg, "count");
	r.delta = json_object_get(c->msg, "added") != NULL;
	r.added = num(c->msg, "added");
	r.ts = str(c->msg, "ts");
	r.who = c->role->who;
	r.event = c->event;
	r.card = str(c->msg, "card");
	return stock_set(c->st, c->txn, &r);
}

int
apply_event(struct ctx *c, enum ms_msg_type type)
{
	struct store *st = c->st;
	const char *tname = ms_msg_type_name(type), *robot;
	char user[MS_ID_MAX + 1];
	int64_t seq;
	int rc, dup = 0;
	json_t *ack;

	if (c->f == NULL) {
		evfields_fill(&c->own, c->msg);
		c->f = &c->own;
	}
	robot = c->f->robot;
	if (!c->f->ok)
		return refuse(c, "invalid", "%s: mscart needs \"robot\" and "
		    "\"seq\" on every event (exactly once)", tname);
	memcpy(c->event, c->f->event, sizeof(c->event));
	if (c->role->kind == ROLE_TERMINAL || (c->role->kind == ROLE_ROBOT &&
	    strcmp(c->role->id, robot) != 0))
		return refuse(c, "forbidden", "%s: role %s may not send events "
		    "of robot %s", tname, c->role->who, robot);
	/* a refused event is not claimed, so it leaves nothing behind */
	seq = (int64_t)c->f->seq;
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
		case MS_MSG_RESTOCK:
			rc = apply_restock(c);
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
		/* a page only: the ack stays small however long the tab */
		if ((rc = cart_build_page(st, c->txn, rc == 0 ? user : NULL,
		    rc == 0 ? NULL : card, MS_ACK_ITEMS, &cart)) != 0) {
			json_decref(ack);
			return rc;
		}
		json_object_set(ack, "user", json_object_get(cart, "user"));
		json_object_set_new(ack, "cart", cart);
	}
	c->reply = ack;
	return 0;
}
