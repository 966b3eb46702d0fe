/*
 * cart.c: a user's or card's cart as the cart message query and identify
 * acks carry, rendered as text straight from the stored lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"

/*
 * A cart message as text: the stored items are copied as they are, so a
 * query costs no JSON parsing of its lines.  reqid may be NULL.
 *
 * The totals count every open line, but the items are a page: from the
 * offset-th, at most max of them and at most CART_ITEMS_BYTES of text,
 * so that a reply stays within the line limit of ms-events(5) however
 * long the tab.  "count" says how many items the cart has in all, and
 * "more" whether some follow the page (ask again from offset + items).
 */
#define CART_ITEMS_BYTES	(48 * 1024)
#define CART_CURRENCIES		16

/* What a cart adds up while its lines go by. */
struct cart_acc {
	int	 all;
	size_t	 offset, max;
	char	 curs[CART_CURRENCIES][4];
	int64_t	 sums[CART_CURRENCIES];
	int	 overflow[CART_CURRENCIES];	/* the sum passed the limit */
	size_t	 ncur, nitems, count;
	int	 more;
	struct ms_buf items;
};

static int
cart_add_line(const struct line_head *h, const char *item, size_t len,
    void *arg)
{
	struct cart_acc *a = arg;
	size_t k;

	if (state_is_open(h->state) && h->state != 'h') {
		for (k = 0; k < a->ncur && strcmp(a->curs[k], h->currency) != 0; k++)
			;
		if (k == a->ncur && a->ncur < CART_CURRENCIES)
			memcpy(a->curs[a->ncur++], h->currency, 4);
		/* a sum past the money limit is said, never cut short */
		if (k < CART_CURRENCIES &&
		    ms_money_add(a->sums[k], h->price, &a->sums[k]) == -1)
			a->overflow[k] = 1;
	}
	if (!a->all && !state_is_open(h->state))
		return 0;
	if (a->count++ < a->offset)
		return 0;
	/* max SIZE_MAX: every item (show), no page */
	if (a->nitems < a->max && (a->max == SIZE_MAX ||
	    a->items.len + len + 1 <= CART_ITEMS_BYTES)) {
		if (a->nitems++ > 0)
			ms_buf_add(&a->items, ",", 1);
		ms_buf_add(&a->items, item, len);
	} else
		a->more = 1;
	return 0;
}

/*
 * The owner's lines through cart_add_line: the open ones from open.db
 * (the cost grows with the open lines, not the history), or with all
 * every line from owners.db.
 */
static int
cart_lines(struct store *st, DB_TXN *txn, const char *owner,
    struct cart_acc *a)
{
	int64_t *ids = NULL;
	struct line_head h;
	const char *item;
	DBC *lc = NULL;
	size_t n, len;
	int rc;

	if (!a->all)
		return open_lines_walk(st, txn, owner, cart_add_line, a);
	if ((rc = owner_lines(st, txn, owner, &ids, &n)) != 0)
		return rc;
	if (n > 0 && (rc = st->lines->cursor(st->lines, txn, &lc, 0)) != 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = line_get_item(st, txn, lc, ids[i], &h, &item,
		    &len)) == 0)
			rc = cart_add_line(&h, item, len, a);
out:
	if (lc != NULL)
		lc->close(lc);
	free(ids);
	return rc;
}

int
cart_text(struct store *st, DB_TXN *txn, const char *user, json_t *urec,
    const char *card, int all, const char *reqid, size_t offset, size_t max,
    struct ms_buf *out)
{
	json_t *u = NULL;
	char owner[MS_CARD_MAX + 4], cur[4];
	char hbuf[8 * MS_TEXT_MAX + 1024];
	struct tbuf t;
	struct cart_acc acc;
	int64_t total = 0;
	int overflow = 0;
	const char *status = "unknown", *limit = "ok";
	int rc;

	memset(&acc, 0, sizeof(acc));
	acc.all = all;
	acc.offset = offset;
	acc.max = max;
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
	if ((rc = cart_lines(st, txn, owner, &acc)) != 0)
		goto out;
	if (cur[0] == '\0' && acc.ncur > 0)
		snprintf(cur, sizeof(cur), "%s", acc.curs[0]);
	else if (cur[0] == '\0')
		catalog_currency(st, txn, cur);
	for (size_t k = 0; k < acc.ncur; k++)
		if (strcmp(acc.curs[k], cur) == 0) {
			total = acc.sums[k];
			overflow = acc.overflow[k];
		}
	if (u != NULL && strcmp(status, "blocked") == 0)
		limit = "blocked";
	else if (u != NULL && json_is_integer(json_object_get(u, "limit")) &&
	    str(u, "currency") && strcmp(str(u, "currency"), cur) == 0 &&
	    (overflow || total > num(u, "limit")))
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
	if (acc.items.len > 0)
		ms_buf_add(out, acc.items.p, acc.items.len);
	tb_init(&t, hbuf, sizeof(hbuf));
	tb_str(&t, "],\"count\":");
	tb_i64(&t, (int64_t)acc.count);
	if (offset > 0) {
		tb_str(&t, ",\"offset\":");
		tb_i64(&t, (int64_t)offset);
	}
	tb_str(&t, acc.more ? ",\"more\":true" : ",\"more\":false");
	tb_str(&t, ",\"total\":");
	if (overflow)
		tb_str(&t, "null,\"overflow\":true");
	else
		tb_i64(&t, total);
	tb_str(&t, ",\"currency\":\"");
	tb_str(&t, cur);
	tb_str(&t, "\",\"totals\":[");
	for (size_t k = 0; k < acc.ncur; k++) {
		tb_str(&t, k > 0 ? ",{\"currency\":\"" : "{\"currency\":\"");
		tb_str(&t, acc.curs[k]);
		tb_str(&t, "\",\"amount\":");
		if (acc.overflow[k])
			tb_str(&t, "null");
		else
			tb_i64(&t, acc.sums[k]);
		tb_mem(&t, "}", 1);
	}
	tb_str(&t, "]}");
	ms_buf_add(out, hbuf, t.n);
	if (t.over || acc.items.failed || out->failed)
		rc = ENOMEM;
out:
	free(acc.items.p);
	json_decref(u);
	return rc;
}

int
cart_build_page(struct store *st, DB_TXN *txn, const char *user,
    const char *card, size_t max, json_t **cartp)
{
	struct ms_buf b = { 0 };
	int rc;

	*cartp = NULL;
	if ((rc = cart_text(st, txn, user, NULL, card, 0, NULL, 0, max,
	    &b)) == 0 && (*cartp = json_loadb(b.p, b.len, 0, NULL)) == NULL)
		rc = ENOMEM;
	free(b.p);
	return rc;
}

int
cart_build(struct store *st, DB_TXN *txn, const char *user, const char *card,
    int all, json_t **cartp)
{
	struct ms_buf b = { 0 };
	int rc;

	*cartp = NULL;
	if ((rc = cart_text(st, txn, user, NULL, card, all, NULL, 0, SIZE_MAX,
	    &b)) == 0 &&
	    (*cartp = json_loadb(b.p, b.len, 0, NULL)) == NULL)
		rc = ENOMEM;
	free(b.p);
	return rc;
}
