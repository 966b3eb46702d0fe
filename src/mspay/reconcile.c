/*
 * reconcile.c: whether a settlement whose earlier attempt got no answer
 * may go to Stripe again, and what to do when the gateway may have
 * forgotten its key.
 *
 * Sending again under the same key is safe only while the gateway keeps
 * the key: Stripe keeps it at least 24 hours, then a request under it is
 * a new charge.  The gateway first saw the key no earlier than the
 * settlement's first attempt, so within --key-lifetime (23 hours) of
 * "first_attempt" the key is kept whatever happened since.  Past that,
 * mspay searches the gateway for the settlement (metadata['settlement'],
 * in charges and in PaymentIntents) before anything is sent:
 *
 *   a succeeded object	the settlement was paid: its id, never sent again
 *   a pending one	unknown: the gateway has not decided
 *   a failed one	declined, as the first answer was
 *   nothing		proof of nothing only if every earlier attempt is
 *			older than the search lag (--search-lag, 5 minutes;
 *			Stripe's search can lag writes by about a minute):
 *			then it is sent again under its key, else it is
 *			unknown and waits for a later run.
 *
 * A line without "attempt", or with attempt 1, is a first attempt and is
 * sent.  A line of a later attempt without "last_attempt" cannot show that
 * its earlier attempts are old enough, so nothing found is not enough.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "mspay.h"

int
reconcile_needs_search(const struct charge *c, int64_t now,
    int64_t key_lifetime_ms)
{
	if (c->attempt <= 1)
		return 0;
	return c->first_attempt < 0 || now - c->first_attempt >= key_lifetime_ms;
}

/* Nothing was found: may the settlement go again?  0, or -1 and why. */
int
reconcile_may_resend(const struct charge *c, int64_t searched,
    int64_t lag_ms, char *err, size_t errlen)
{
	if (c->last_attempt < 0) {
		SET_ERR("not found at the gateway, but attempt %lld has no "
		    "last_attempt time: an earlier charge may not show in "
		    "search yet; not sent again", (long long)c->attempt);
		return -1;
	}
	if (searched - c->last_attempt < lag_ms) {
		SET_ERR("not found at the gateway, but an attempt %lld s ago "
		    "may not show in search for %lld s; not sent again before "
		    "then", (long long)((searched - c->last_attempt) / 1000),
		    (long long)(lag_ms / 1000));
		return -1;
	}
	return 0;
}

/*
 * What the search found, as an outcome; 0 when it found nothing.  More
 * than one succeeded object is a settlement charged twice: paid, and said
 * loudly.
 */
int
reconcile_outcome(const struct found *f, struct outcome *o)
{
	if (f->succeeded > 0) {
		*o = f->paid;
		o->verdict = V_SUCCEEDED;
		if (f->succeeded > 1)
			outcome_set(o, V_SUCCEEDED, "duplicate", "the gateway "
			    "holds %d succeeded charges for this settlement; "
			    "refund all but %s", f->succeeded, o->gateway_id);
		return 1;
	}
	if (f->pending > 0) {
		memset(o, 0, sizeof(*o));
		outcome_set(o, V_UNKNOWN, "pending", "the gateway holds a "
		    "charge for this settlement that is not finished");
		return 1;
	}
	if (f->failed > 0) {
		*o = f->declined;
		return 1;
	}
	return 0;
}

/* BASE/v1/charges/search?query=metadata['settlement']:'S1' */
char *
search_url(const char *base, const char *object, const char *settlement)
{
	struct ms_buf b = { 0 };
	static const char hex[] = "0123456789ABCDEF";
	char q[MS_ID_MAX + 64], enc[3];

	/* settlement ids hold letters, digits and . _ - @: no quote to escape */
	snprintf(q, sizeof(q), "metadata['settlement']:'%s'", settlement);
	ms_buf_add(&b, base, strlen(base));
	if (b.len > 0 && base[b.len - 1] != '/')
		ms_buf_add(&b, "/", 1);
	ms_buf_add(&b, "v1/", 3);
	ms_buf_add(&b, object, strlen(object));
	ms_buf_add(&b, "/search?query=", 14);
	for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			ms_buf_add(&b, (const char *)p, 1);
		else {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			ms_buf_add(&b, enc, 3);
		}
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
