/*
 * attribute.c: who is charged for what.  msdetect's two inputs, msid's
 * lines on stdin and the sensors' edges, are read in whatever order the
 * scheduler allows (a busy robot stops msdetect for a second and then it
 * finds both users' cards and both users' takes waiting).  So nothing is
 * decided on reading: every line and every settled sensor event is put
 * on one timeline at its own time, held until nothing earlier can still
 * come, and then written in time order.  A take or return is charged to
 * the session open at its own time, unless a card changed too close to
 * it to tell (the margin), and sessions end at the moment the evidence
 * says: another card, the card's depart, the door, or idle time.
 *
 * When is "nothing earlier can still come"?  A stdin line may come up to
 * the window (-w) after the time it carries (msid was stopped, or slow to
 * write); an edge is in the kernel's queue within edge_late of its time,
 * and the caller reads that queue to its end before saying "now", so
 * every edge up to now less edge_late is known; an edge the kernel
 * debounces comes its debounce later still; an edge msdetect debounces
 * itself is known while it settles (the caller says the oldest such
 * change).  A take or return also waits for the margin after it, so that
 * an identify just after it is seen before it is charged: until a stdin
 * line after that, or the window.  Stdin lines come in order and are
 * kept in order, so a line read says that every line before its time has
 * been read.  So a card is written a few milliseconds after it was read,
 * and a take the margin later, or the window when no line follows.  Something that comes later than all that ("late")
 * is placed at the earliest time still open, and what was written stays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msdetect.h"

/* A bound on what is held, whatever the rates: past it the oldest goes. */
#define HELD_MAX	65536

enum rec_kind { REC_LINE, REC_TAKE, REC_RETURN, REC_DOOR };

struct rec {
	int64_t		 t;		/* its place on the timeline */
	int64_t		 ts;		/* the time written (ours only) */
	int64_t		 read_ns;	/* when its cause was read (-v) */
	unsigned long	 seq;		/* ties keep the order of arrival */
	enum rec_kind	 kind;
	enum tl_line_kind lkind;	/* REC_LINE */
	int		 open;		/* REC_DOOR */
	char		*line;		/* REC_LINE: the bytes, passed on */
	size_t		 len;
	char		*card;		/* identify, depart: the card */
	char		 slot[MS_ID_MAX + 1], sku[MS_ID_MAX + 1];
};

/* What an operator's session put into a slot and took out of it. */
struct refill {
	char		 slot[MS_ID_MAX + 1], sku[MS_ID_MAX + 1];
	long		 in, out;
};

struct session {
	int		 open;
	char		 card[MS_CARD_MAX];
	char		 card_json[MS_CARD_MAX * 6 + 3];
	unsigned long	 takes, returns;
	int64_t		 last_ns;	/* last activity */
	int64_t		 change_ns;	/* opened by ending another card's */
	int		 operator;	/* a refill: no takes or returns */
	struct refill	 refills[GPIO_LINES_MAX];
	size_t		 nrefills;
};

struct tl_config tl_cfg = {
	.window_ns = TL_WINDOW_DEFAULT_NS,
	.edge_late_ns = TL_EDGE_LATE_DEFAULT_NS,
	.margin_ns = TL_MARGIN_DEFAULT_NS,
	.session_ns = TL_SESSION_DEFAULT_NS,
	.end_on_depart = 1
};

static struct rec *held;		/* a ring, sorted by (t, seq) */
static size_t hcap, hhead, hlen;
static size_t held_identifies;		/* how many held lines are identifies */
static unsigned long seq;
static struct session sess;
static int64_t released = INT64_MIN;	/* all before it is written */
static int64_t stdin_last = INT64_MIN;	/* the time of the last stdin line */

static struct rec *
at(size_t i)
{
	return &held[(hhead + i) % hcap];
}

static int
before(const struct rec *a, const struct rec *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void
hold(struct rec *r)
{
	struct rec *nh;
	size_t i;

	if (hlen == hcap) {
		size_t ncap = hcap ? hcap * 2 : 256;

		if ((nh = malloc(ncap * sizeof(*nh))) == NULL)
			ms_err(MS_EX_FAIL, "malloc");
		for (i = 0; i < hlen; i++)
			nh[i] = *at(i);
		free(held);
		held = nh;
		hcap = ncap;
		hhead = 0;
	}
	r->seq = ++seq;
	/* most come in time order: look for the place from the end */
	for (i = hlen; i > 0 && before(r, at(i - 1)); i--)
		*at(i) = *at(i - 1);
	*at(i) = *r;
	hlen++;
	if (r->kind == REC_LINE && r->lkind == TL_IDENTIFY)
		held_identifies++;
}

static void
session_end(const char *reason, int64_t t, int64_t read_ns)
{
	char ts[MS_TIME_LEN];

	if (!sess.open)
		return;
	ts_format(t, ts);
	/*
	 * An operator's session ends with what it changed in each slot, as
	 * a difference: the sensors see items go in and out, not how many
	 * the slot holds (a person's count says that; ms-events(5)).
	 */
	for (size_t i = 0; sess.operator && i < sess.nrefills; i++) {
		const struct refill *f = &sess.refills[i];

		if (f->in == f->out)
			continue;
		event_write(read_ns, "{\"type\":\"restock\",\"ts\":\"%s\","
		    "\"slot\":\"%s\",\"sku\":\"%s\",\"added\":%ld,"
		    "\"card\":%s}", ts, f->slot, f->sku, f->in - f->out,
		    sess.card_json);
	}
	event_write(read_ns, "{\"type\":\"session-end\",\"ts\":\"%s\","
	    "\"card\":%s,\"takes\":%lu,\"returns\":%lu,\"reason\":\"%s\"}", ts,
	    sess.card_json, sess.takes, sess.returns, reason);
	sess.open = 0;
}

/* The session's idle time is over by t: it ended then. */
static void
session_idle(int64_t t, int64_t read_ns)
{
	if (sess.open && t - sess.last_ns >= tl_cfg.session_ns)
		session_end("timeout", sess.last_ns + tl_cfg.session_ns,
		    read_ns);
}

static void
apply_line(const struct rec *r)
{
	int other;

	if (r->lkind == TL_IDENTIFY) {
		other = sess.open && strcmp(sess.card, r->card) != 0;
		if (other)
			session_end("identify", r->t, r->read_ns);
		if (!sess.open) {
			memset(&sess, 0, sizeof(sess));
			sess.open = 1;
			sess.change_ns = other ? r->t : INT64_MIN;
			snprintf(sess.card, sizeof(sess.card), "%s", r->card);
			/* card_json has room for any card (6 bytes a byte) */
			ms_json_quote(sess.card_json, sizeof(sess.card_json),
			    sess.card);
			sess.operator = tl_cfg.pg != NULL &&
			    planogram_is_operator(tl_cfg.pg, sess.card);
		}
		sess.last_ns = r->t;
	} else if (r->lkind == TL_DEPART && tl_cfg.end_on_depart &&
	    sess.open && strcmp(sess.card, r->card) == 0)
		session_end("depart", r->t, r->read_ns);
	ms_write_raw(stdout, r->line, r->len, 1);
}

/*
 * Is another card than the session's identified within the margin after
 * r, which was the oldest held?  (One before it is sess.change_ns.)
 */
static int
other_card_after(const struct rec *r)
{
	const struct rec *n;
	size_t k;

	if (held_identifies == 0)
		return 0;
	for (k = 0; k < hlen; k++) {
		n = at(k);
		if (n->t - r->t > tl_cfg.margin_ns)
			break;
		if (n->kind == REC_LINE && n->lkind == TL_IDENTIFY &&
		    strcmp(n->card, sess.card) != 0)
			return 1;
	}
	return 0;
}

/*
 * An item out of or into a slot while an operator's card is there: a
 * refill, counted for the session's restock events, charged to nobody.
 */
static void
refill_count(const struct rec *r, int take)
{
	struct refill *f = NULL;
	size_t i;

	for (i = 0; i < sess.nrefills; i++)
		if (strcmp(sess.refills[i].slot, r->slot) == 0)
			f = &sess.refills[i];
	if (f == NULL && sess.nrefills < GPIO_LINES_MAX) {
		f = &sess.refills[sess.nrefills++];
		memset(f, 0, sizeof(*f));
		snprintf(f->slot, sizeof(f->slot), "%s", r->slot);
		snprintf(f->sku, sizeof(f->sku), "%s", r->sku);
	}
	if (f == NULL)
		return;		/* more slots than lines: cannot be */
	if (take) {
		f->out++;
		sess.takes++;
	} else {
		f->in++;
		sess.returns++;
	}
	sess.last_ns = r->t;
}

/* A take or return, the oldest held record: charge it, or say why not. */
static void
apply_item(const struct rec *r, int64_t read_ns)
{
	char ts[MS_TIME_LEN];
	int take = r->kind == REC_TAKE, ambiguous = 0, charged;

	if (sess.open && tl_cfg.margin_ns > 0)
		ambiguous = (sess.change_ns != INT64_MIN &&
		    r->t - sess.change_ns <= tl_cfg.margin_ns) ||
		    other_card_after(r);
	charged = sess.open && !ambiguous;
	if (charged && sess.operator) {
		refill_count(r, take);
		return;
	}
	ts_format(r->ts, ts);
	event_write(read_ns, "{\"type\":\"%s\",\"ts\":\"%s\",\"slot\":\"%s\","
	    "\"sku\":\"%s\"%s%s}", take ? "take" : "return", ts, r->slot,
	    r->sku, charged ? ",\"card\":" : "", charged ? sess.card_json : "");
	if (charged) {
		if (take)
			sess.takes++;
		else
			sess.returns++;
		sess.last_ns = r->t;
	} else if (take && ambiguous) {
		event_write(read_ns, "{\"type\":\"alarm\",\"ts\":\"%s\","
		    "\"reason\":\"take-ambiguous\",\"slot\":\"%s\",\"sku\":\"%s\","
		    "\"message\":\"item taken within %lld ms of a change of "
		    "card: not charged\"}", ts, r->slot, r->sku,
		    (long long)(tl_cfg.margin_ns / 1000000));
	} else if (take) {
		/* the server holds an anonymous take for review */
		event_write(read_ns, "{\"type\":\"alarm\",\"ts\":\"%s\","
		    "\"reason\":\"take-without-identify\",\"slot\":\"%s\","
		    "\"sku\":\"%s\",\"message\":\"item taken with no card "
		    "identified\"}", ts, r->slot, r->sku);
	}
}

static void
apply_door(const struct rec *r, int64_t read_ns)
{
	char ts[MS_TIME_LEN];

	ts_format(r->ts, ts);
	event_write(read_ns, "{\"type\":\"door\",\"ts\":\"%s\",\"state\":\"%s\"}",
	    ts, r->open ? "open" : "closed");
	if (r->open && sess.open)
		sess.last_ns = r->t;
	else if (!r->open)
		session_end("door", r->t, read_ns);
}

/* Write the oldest held record and let it go. */
static void
release_head(int64_t read_ns)
{
	struct rec r = *at(0);

	hhead = (hhead + 1) % hcap;
	hlen--;
	session_idle(r.t, read_ns ? read_ns : r.read_ns);
	if (r.t > released)
		released = r.t;
	switch (r.kind) {
	case REC_LINE:
		if (r.lkind == TL_IDENTIFY)
			held_identifies--;
		apply_line(&r);
		free(r.line);
		free(r.card);
		break;
	case REC_TAKE:
	case REC_RETURN:
		apply_item(&r, read_ns ? read_ns : r.read_ns);
		break;
	case REC_DOOR:
		apply_door(&r, read_ns ? read_ns : r.read_ns);
		break;
	}
}

/* Where a new record goes: no earlier than what is written. */
static int64_t
place(int64_t t)
{
	return t < released ? released : t;
}

void
tl_line(const char *line, size_t len, enum tl_line_kind kind,
    const char *card, int64_t t, int64_t now)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.kind = REC_LINE;
	r.lkind = kind;
	/* a time to come counts from now; stdin keeps its order */
	if (t > now)
		t = now;
	if (t < stdin_last)
		t = stdin_last;
	r.t = stdin_last = place(t);
	r.read_ns = now;
	if ((r.line = malloc(len + 1)) == NULL ||
	    (card != NULL && (r.card = strdup(card)) == NULL))
		ms_err(MS_EX_FAIL, "malloc");
	memcpy(r.line, line, len);
	r.len = len;
	hold(&r);
	if (hlen > HELD_MAX)
		release_head(0);
}

void
tl_item(const struct pg_line *l, int take, int64_t t, int64_t read_ns)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.kind = take ? REC_TAKE : REC_RETURN;
	r.ts = t;
	r.t = place(t);
	r.read_ns = read_ns;
	memcpy(r.slot, l->slot, sizeof(r.slot));
	memcpy(r.sku, l->sku, sizeof(r.sku));
	hold(&r);
	if (hlen > HELD_MAX)
		release_head(0);
}

void
tl_door(int open, int64_t t, int64_t read_ns)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.kind = REC_DOOR;
	r.open = open;
	r.ts = t;
	r.t = place(t);
	r.read_ns = read_ns;
	hold(&r);
	if (hlen > HELD_MAX)
		release_head(0);
}

/*
 * What is known by now: every sensor event up to the first time, every
 * stdin line up to the second.  pending: the oldest change still
 * settling in msdetect's own debounce (INT64_MAX if none).
 */
static int64_t
events_known(int64_t now, int64_t pending)
{
	int64_t k = now - tl_cfg.edge_late_ns - tl_cfg.kernel_debounce_ns;

	return pending - 1 < k ? pending - 1 : k;
}

static int64_t
lines_known(int64_t now)
{
	int64_t k = now - tl_cfg.window_ns;

	return stdin_last > k ? stdin_last : k;
}

void
tl_release(int64_t now, int64_t pending, int64_t read_ns)
{
	int64_t ev = events_known(now, pending), ln = lines_known(now);
	int64_t frontier;
	const struct rec *h;

	while (hlen > 0) {
		h = at(0);
		if (h->t > ev)
			break;
		/* a take or return waits for what the margin after it holds */
		if (h->kind != REC_LINE && h->kind != REC_DOOR &&
		    h->t + tl_cfg.margin_ns > ln)
			break;
		release_head(read_ns);
	}
	/* nothing held comes before the frontier, nor will */
	frontier = hlen > 0 && at(0)->t < ev ? at(0)->t : ev;
	if (frontier > ln)
		frontier = ln;
	if (frontier > released)
		released = frontier;
	session_idle(frontier, read_ns);
}

int64_t
tl_next(int64_t now, int64_t pending)
{
	int64_t hold_ns = tl_cfg.edge_late_ns + tl_cfg.kernel_debounce_ns;
	int64_t when = INT64_MAX, t;
	const struct rec *h;

	/* what waits for a change still settling is woken by its deadline */
	h = hlen > 0 ? at(0) : NULL;
	if (h != NULL && h->t < pending) {
		when = h->t + hold_ns;
		if (h->kind == REC_TAKE || h->kind == REC_RETURN) {
			t = h->t + tl_cfg.margin_ns;
			if (t > stdin_last && t + tl_cfg.window_ns > when)
				when = t + tl_cfg.window_ns;
		}
	}
	if (sess.open) {
		t = sess.last_ns + tl_cfg.session_ns;
		if (t < pending && (h == NULL || t <= h->t) &&
		    t + hold_ns < when)
			when = t + hold_ns;
	}
	if (when == INT64_MAX)
		return -1;
	return when <= now ? 0 : when - now;
}

void
tl_start(int64_t now)
{
	/* nothing is placed before msdetect was there to see it */
	released = now;
}

int
tl_holding(void)
{
	return hlen > 0;
}

void
tl_finish(int64_t now)
{
	while (hlen > 0)
		release_head(0);
	session_idle(now, 0);
	session_end("eof", now > released ? now : released, 0);
	free(held);
	held = NULL;
	hcap = hlen = hhead = 0;
}
