/*
 * gateway.c: the requests mspay sends and what the answers mean.
 * Nothing here touches the network; mspay.c moves the bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "mspay.h"

/* application/x-www-form-urlencoded: unreserved bytes as they are. */
static void
sb_form(struct ms_buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];

	if (b->len > 0)
		ms_buf_add(b, "&", 1);
	ms_buf_add(b, name, strlen(name));
	ms_buf_add(b, "=", 1);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			ms_buf_add(b, (const char *)p, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			ms_buf_add(b, enc, 3);
		}
	}
}

/*
 * The Stripe form.  Stripe takes currencies in lower case and amounts in
 * its own minor unit (gw_amount, from amount.c: 300 JPY goes out as 300,
 * 500 ISK as 50000).  A "customer" that is a one-time token (tok_...,
 * src_...) is sent as the source instead.  A PaymentIntent names the
 * stored payment method when the line has one.  Nothing here may change
 * from one attempt to the next: every field comes from the charge line,
 * which mscart froze when the settlement opened.
 */
char *
stripe_body(const struct charge *c, enum stripe_api api)
{
	struct ms_buf b = { 0 };
	char amount[32], cur[4];
	size_t i;

	snprintf(amount, sizeof(amount), "%lld", (long long)c->gw_amount);
	for (i = 0; i < 3 && c->currency[i]; i++)
		cur[i] = (char)(c->currency[i] | 0x20);
	cur[i] = '\0';
	sb_form(&b, "amount", amount);
	sb_form(&b, "currency", cur);
	if (api == API_CHARGES && (strncmp(c->customer, "tok_", 4) == 0 ||
	    strncmp(c->customer, "src_", 4) == 0))
		sb_form(&b, "source", c->customer);
	else
		sb_form(&b, "customer", c->customer);
	if (c->description != NULL)
		sb_form(&b, "description", c->description);
	sb_form(&b, "metadata[settlement]", c->settlement);
	sb_form(&b, "metadata[user]", c->user);
	if (api == API_PAYMENT_INTENTS) {
		if (c->payment_method != NULL)
			sb_form(&b, "payment_method", c->payment_method);
		sb_form(&b, "confirm", "true");
		sb_form(&b, "off_session", "true");
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/*
 * The webhook gets the charge line without what changes from one attempt
 * to the next (attempt, first_attempt, last_attempt), in a fixed order:
 * the same key must always come with the same bytes.
 */
char *
webhook_body(const struct charge *c)
{
	json_t *b;
	char *s;

	b = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "type", "charge",
	    "settlement", c->settlement, "user", c->user, "customer",
	    c->customer, "amount", (json_int_t)c->amount, "currency",
	    c->currency, "key", c->key);
	if (b == NULL)
		return NULL;
	if (c->description != NULL)
		json_object_set_new(b, "description", json_string(c->description));
	if (c->payment_method != NULL)
		json_object_set_new(b, "payment_method",
		    json_string(c->payment_method));
	s = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b);
	return s;
}

/* "t=TS,v1=HEX": HMAC-SHA256 over "TS.BODY", lower-case hex. */
int
webhook_signature(const char *secret, size_t secretlen, long long ts,
    const char *body, char *out, size_t outlen)
{
	struct ms_buf b = { 0 };
	char ts_s[32], hex[65];
	int rc;

	snprintf(ts_s, sizeof(ts_s), "%lld.", ts);
	ms_buf_add(&b, ts_s, strlen(ts_s));
	ms_buf_add(&b, body, strlen(body));
	if (b.failed) {
		free(b.p);
		return -1;
	}
	rc = ms_hmac_sha256_hex(secret, secretlen, b.p, b.len, hex);
	free(b.p);
	if (rc == -1)
		return -1;
	for (char *p = hex; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p |= 0x20;
	rc = snprintf(out, outlen, "t=%lld,v1=%s", ts, hex);
	return rc < 0 || (size_t)rc >= outlen ? -1 : 0;
}

/* Gateway text goes on our wire: printable, bounded. */
void
text_clean(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;

	if (dstlen == 0)
		return;
	for (; src != NULL && *src && n + 1 < dstlen; src++)
		dst[n++] = ((unsigned char)*src < 0x20 || *src == 0x7f) ? ' ' : *src;
	dst[n] = '\0';
	/* do not cut a UTF-8 sequence in half */
	if (src != NULL && *src) {
		while (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0xC0)
			n--;
		dst[n] = '\0';
	}
}

void
outcome_set(struct outcome *o, enum verdict v, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(o->message)];

	o->verdict = v;
	text_clean(o->code, sizeof(o->code), code ? code : "");
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	text_clean(o->message, sizeof(o->message), msg);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
set_id(struct outcome *o, const char *id)
{
	if (id != NULL)
		text_clean(o->gateway_id, sizeof(o->gateway_id), id);
}

/*
 * No answer, 409, 429 and 5xx say nothing definite; so does any answer
 * the gateway marks Stripe-Should-Retry: true.  (Whether to ask again is
 * indefinite()'s business: Stripe-Should-Retry: false means not now.)
 */
static int
transient(const struct reply *r)
{
	if (r->should_retry == 1)
		return 1;
	return r->status == 0 || r->status == 409 || r->status == 429 ||
	    r->status >= 500;
}

/* An answer with no definite outcome: retry, or unknown when told not to. */
static void
indefinite(const struct reply *r, struct outcome *o, const char *code,
    const char *msg)
{
	o->retry_after_ms = r->retry_after_ms;
	outcome_set(o, r->should_retry == 0 ? V_UNKNOWN : V_RETRY, code,
	    "%s", msg);
}

/* A transient() reply: no answer ("network"), or an HTTP status. */
static void
no_outcome(const struct reply *r, struct outcome *o, const char *code,
    const char *msg)
{
	char why[256];

	if (r->status == 0)
		snprintf(why, sizeof(why), "%s", r->body ? r->body : "no answer");
	else
		snprintf(why, sizeof(why), "HTTP %ld%s%.200s", r->status,
		    msg ? ": " : "", msg ? msg : "");
	indefinite(r, o, r->status == 0 ? "network" : code, why);
}

/* A definite error answer. */
static void
http_failed(const struct reply *r, struct outcome *o, const char *code,
    const char *msg)
{
	outcome_set(o, V_FAILED, code, "HTTP %ld%s%.400s", r->status,
	    msg ? ": " : "", msg ? msg : "");
}

/* The outcome cleared, and the reply's body as JSON (or NULL). */
static json_t *
reply_open(const struct reply *r, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->retry_after_ms = -1;
	o->reply_amount = -1;
	if (r->status > 0 && r->body != NULL && r->len > 0)
		return json_loadb(r->body, r->len, 0, NULL);
	return NULL;
}

/*
 * Whether a reply says the account's request rate is over the gateway's
 * limit.  Stripe answers 429 for that (code rate_limit, or none), and
 * also for a lock on one object that another request holds (code
 * lock_timeout), which says nothing about the rate: that request alone
 * is tried again after a while.
 */
int
reply_rate_limited(const struct reply *r)
{
	json_t *j, *e;
	const char *code;
	int limited = 1;

	if (r->status != 429)
		return 0;
	if (r->body != NULL && r->len > 0 &&
	    (j = json_loadb(r->body, r->len, 0, NULL)) != NULL) {
		e = json_object_get(j, "error");
		code = json_string_value(json_object_get(e, "code"));
		if (code != NULL && strcmp(code, "lock_timeout") == 0)
			limited = 0;
		json_decref(j);
	}
	return limited;
}

static void
stripe_object(const json_t *j, enum stripe_api api, const struct reply *r,
    struct outcome *o)
{
	const char *status = jstr(j, "status");
	const json_t *lpe;

	set_id(o, jstr(j, "id"));
	/* what the object says it charged: mspay.c holds it to what was asked */
	if (json_is_integer(json_object_get(j, "amount")))
		o->reply_amount = json_integer_value(json_object_get(j, "amount"));
	if (jstr(j, "currency") != NULL)
		text_clean(o->reply_currency, sizeof(o->reply_currency),
		    jstr(j, "currency"));
	if (status == NULL) {
		indefinite(r, o, "bad-reply", "gateway reply has no status");
		return;
	}
	if (strcmp(status, "succeeded") == 0) {
		o->verdict = V_SUCCEEDED;
		return;
	}
	if (api == API_CHARGES) {
		if (strcmp(status, "failed") == 0) {
			outcome_set(o, V_DECLINED, jstr(j, "failure_code"), "%s",
			    jstr(j, "failure_message") ? jstr(j, "failure_message") :
			    "charge failed");
			return;
		}
		/* "pending": the network has not answered yet */
		outcome_set(o, V_UNKNOWN, status, "charge is %s at the gateway",
		    status);
		return;
	}
	lpe = json_object_get(j, "last_payment_error");
	if (strcmp(status, "requires_payment_method") == 0 ||
	    strcmp(status, "requires_action") == 0 ||
	    strcmp(status, "requires_confirmation") == 0) {
		outcome_set(o, V_DECLINED,
		    jstr(lpe, "decline_code") ? jstr(lpe, "decline_code") :
		    jstr(lpe, "code") ? jstr(lpe, "code") : status, "%s",
		    jstr(lpe, "message") ? jstr(lpe, "message") :
		    "payment needs the customer");
		return;
	}
	if (strcmp(status, "canceled") == 0) {
		outcome_set(o, V_FAILED, status, "payment intent was canceled");
		return;
	}
	outcome_set(o, V_UNKNOWN, status, "payment is %s at the gateway", status);
}

void
stripe_classify(const struct reply *r, enum stripe_api api, struct outcome *o)
{
	json_t *j = reply_open(r, o);
	const json_t *e;
	const char *type, *code, *msg;

	if (r->status >= 200 && r->status < 300) {
		if (!json_is_object(j))
			indefinite(r, o, "bad-reply", "gateway reply is not JSON");
		else
			stripe_object(j, api, r, o);
		json_decref(j);
		return;
	}
	e = json_object_get(j, "error");
	type = jstr(e, "type");
	code = jstr(e, "decline_code") ? jstr(e, "decline_code") : jstr(e, "code");
	msg = jstr(e, "message");
	if (transient(r)) {
		no_outcome(r, o, code ? code : type ? type : "http", msg);
		json_decref(j);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		/* gateways echo (part of) a refused key: say nothing of it */
		outcome_set(o, V_FAILED, r->status == 401 ? "authentication" :
		    "permission", "HTTP %ld: the gateway refused the key",
		    r->status);
	} else if (type != NULL && strcmp(type, "card_error") == 0) {
		/* 402, or 404 "no active card": a definite no */
		set_id(o, jstr(e, "charge"));
		outcome_set(o, V_DECLINED, code ? code : type, "%s",
		    msg ? msg : "card declined");
	} else
		http_failed(r, o, code ? code : type ? type : "http", msg);
	json_decref(j);
}

/*
 * The billing endpoint answers 2xx with {"status": "succeeded" |
 * "declined" | "failed", "id", "code", "message"}.
 */
void
webhook_classify(const struct reply *r, struct outcome *o)
{
	json_t *j = reply_open(r, o);
	const char *status, *msg;

	msg = jstr(j, "message");
	if (r->status >= 200 && r->status < 300) {
		status = jstr(j, "status");
		set_id(o, jstr(j, "id"));
		if (status == NULL)
			indefinite(r, o, "bad-reply",
			    "endpoint reply is not JSON with a status");
		else if (strcmp(status, "succeeded") == 0)
			o->verdict = V_SUCCEEDED;
		else if (strcmp(status, "declined") == 0)
			outcome_set(o, V_DECLINED, jstr(j, "code") ? jstr(j, "code") :
			    "declined", "%s", msg ? msg : "declined");
		else if (strcmp(status, "failed") == 0)
			outcome_set(o, V_FAILED, jstr(j, "code") ? jstr(j, "code") :
			    "failed", "%s", msg ? msg : "failed");
		else
			indefinite(r, o, "bad-reply", "endpoint reply has an "
			    "unknown status");
	} else if (transient(r))
		no_outcome(r, o, "http", msg);
	else
		http_failed(r, o, jstr(j, "code") ? jstr(j, "code") : "http", msg);
	json_decref(j);
}

/*
 * One page of Stripe's search API (charges or PaymentIntents found by
 * metadata['settlement']), added to what the earlier pages found.  *o is
 * V_SUCCEEDED when the page was read, V_RETRY or V_UNKNOWN when there is
 * no answer to read yet, and V_UNKNOWN when the gateway cannot search:
 * without a search nothing proves the settlement was never charged.
 */
void
stripe_search_classify(const struct reply *r, struct found *f,
    struct outcome *o)
{
	json_t *j = reply_open(r, o), *data, *x;
	const json_t *lpe;
	const char *status, *msg;
	size_t i;

	if (r->status < 200 || r->status >= 300) {
		msg = jstr(json_object_get(j, "error"), "message");
		if (transient(r))
			no_outcome(r, o, "search", msg);
		else
			outcome_set(o, V_UNKNOWN, "search", "the gateway cannot "
			    "search for the settlement (HTTP %ld%s%.200s), so "
			    "it is not sent again", r->status, msg ? ": " : "",
			    msg ? msg : "");
		json_decref(j);
		return;
	}
	data = json_object_get(j, "data");
	if (!json_is_array(data)) {
		indefinite(r, o, "bad-reply", "search reply has no data");
		json_decref(j);
		return;
	}
	json_array_foreach(data, i, x) {
		if ((status = jstr(x, "status")) == NULL)
			continue;
		if (strcmp(status, "succeeded") == 0) {
			if (f->succeeded++ == 0) {
				set_id(&f->paid, jstr(x, "id"));
				f->paid.reply_amount = json_is_integer(
				    json_object_get(x, "amount")) ?
				    json_integer_value(json_object_get(x,
				    "amount")) : -1;
				text_clean(f->paid.reply_currency,
				    sizeof(f->paid.reply_currency),
				    jstr(x, "currency"));
			}
		} else if (strcmp(status, "failed") == 0 ||
		    strcmp(status, "requires_payment_method") == 0 ||
		    strcmp(status, "canceled") == 0) {
			f->failed++;
			lpe = json_object_get(x, "last_payment_error");
			set_id(&f->declined, jstr(x, "id"));
			outcome_set(&f->declined, V_DECLINED,
			    jstr(x, "failure_code") ? jstr(x, "failure_code") :
			    jstr(lpe, "decline_code") ? jstr(lpe, "decline_code") :
			    jstr(lpe, "code") ? jstr(lpe, "code") : status,
			    "an earlier attempt was declined: %s",
			    jstr(x, "failure_message") ? jstr(x, "failure_message") :
			    jstr(lpe, "message") ? jstr(lpe, "message") : status);
		} else
			f->pending++;
	}
	o->verdict = V_SUCCEEDED;
	json_decref(j);
}
