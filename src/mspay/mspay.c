/*
 * mspay: read charge lines, post each to a payment gateway, write one
 * charged line per charge.  Exactly once rests on the idempotency key:
 * every attempt for a charge carries the same key and the same body, so
 * the gateway answers a repeat with the first answer instead of charging
 * again.  When no definite answer comes, the charge is reported
 * "unknown" and a later run sends it again under the same key.
 *
 * The HTTP gateways run on libcurl's multi interface: up to -P transfers
 * at once over kept-alive connections, charges waiting for a retry parked
 * with a due time, stdin polled alongside the sockets.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "ms.h"
#include "conf.h"
#include "shoptime.h"
#include "version.h"
#include "mspay.h"

#define REPLY_MAX	(1024 * 1024)	/* longest gateway reply we keep */

/*
 * A charge goes through phases: a settlement whose key the gateway may
 * have forgotten is first searched for in charges, then in PaymentIntents
 * (reconcile.c), and only then, if at all, charged.
 */
enum phase {
	PH_SEARCH_CHARGES,
	PH_SEARCH_INTENTS,
	PH_CHARGE
};

struct job {
	struct job	*next, *prev;
	struct charge	 c;
	enum phase	 phase;
	struct found	 found;		/* what the searches found */
	int64_t		 searched;	/* wall ms the first search started */
	int		 attempts;	/* in this phase */
	int64_t		 due;		/* mono ms: next attempt, when parked */
	int64_t		 started;	/* its pace_start() stamp, when running */
	char		*body;		/* the same on every attempt */
	CURL		*easy;
	struct curl_slist *hdrs;
	char		*reply;
	size_t		 rlen, rcap;
	int		 rtoolong;
	int		 should_retry;
	int64_t		 retry_after_ms;
	struct outcome	 last;		/* the last indefinite answer */
	char		 errbuf[CURL_ERROR_SIZE];
};

struct list {
	struct job	*head;
	size_t		 n;
};

static struct {
	enum gateway	 gw;
	enum stripe_api	 api;
	char		*url;		/* as curl parsed it */
	int		 plain;		/* plain http, to this host */
	const char	*ledger_path;
	const char	*journal;	/* the ledger's journal, or NULL */
	const char	*cacert;
	long		 parallel;
	long		 retries;
	int64_t		 timeout_ms, connect_ms, backoff_ms;
	int64_t		 key_lifetime_ms, search_lag_ms;
	double		 rate;
	char		*secret;
	size_t		 secretlen;
} opt = {
	.gw = GW_LEDGER,
	.api = API_CHARGES,
	.ledger_path = "payroll.csv",
	.parallel = 8,
	.retries = 5,
	.timeout_ms = 30000,
	.connect_ms = 10000,
	.backoff_ms = 500,
	.key_lifetime_ms = 23 * 3600 * 1000,	/* Stripe keeps keys 24 h */
	.search_lag_ms = 300 * 1000,		/* Stripe's search: ~1 min */
};

/* What the run has seen, for the exit status and the progress line. */
static struct {
	unsigned long	 read, done, succeeded, declined, failed, unknown;
	unsigned long	 refused, attempts;
	int64_t		 start;
} st;

static int progress;	/* stderr is a terminal */
static const struct pace *pacing;	/* run_http's, for the progress line */
static int out_gone;	/* standard output cannot take an answer */

/*
 * Can an answer still be written?  Known without writing: standard output
 * closed or read-only, /dev/full, a pipe whose reader is gone (POLLERR).
 * A full disk shows only when a write fails.
 */
static const char *
stdout_unusable(void)
{
	struct stat sb;
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
	int fl;

	if (fstat(STDOUT_FILENO, &sb) == -1 ||
	    (fl = fcntl(STDOUT_FILENO, F_GETFL)) == -1)
		return "standard output is closed";
	if ((fl & O_ACCMODE) == O_RDONLY)
		return "standard output is not open for writing";
	if (S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(1, 7))
		return "standard output is /dev/full";
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL)))
		return "nobody reads standard output";
	return NULL;
}

/* Before a charge goes out: is there still somebody to tell? */
static int
answer_readable(void)
{
	const char *why;

	if (!out_gone && (why = stdout_unusable()) != NULL) {
		ms_warnx("%s: no more charges", why);
		out_gone = 1;
	}
	return !out_gone;
}

/*
 * Stop taking lines on SIGTERM, and when stdout is gone: a charge whose
 * answer nobody can read must not be made.
 */
static int
stopping(void)
{
	return ms_sig_stop || ms_write_failed() || out_gone;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mspay [-h] [-f file] [-g ledger | stripe | webhook] "
	    "[-K keyfile] [-P n]\n"
	    "             [-T seconds] [-u url] [--api charges | "
	    "payment_intents]\n"
	    "             [--backoff seconds] [--cacert file] "
	    "[--connect-timeout seconds]\n"
	    "             [--journal file] [--key-lifetime seconds] "
	    "[--rate n] [--retries n]\n"
	    "             [--search-lag seconds]\n");
}

static void
list_add(struct list *l, struct job *j)
{
	j->prev = NULL;
	j->next = l->head;
	if (l->head)
		l->head->prev = j;
	l->head = j;
	l->n++;
}

static void
list_del(struct list *l, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->next = j->prev = NULL;
	l->n--;
}

static const char *const verdict_names[] = {
	[V_SUCCEEDED] = "succeeded", [V_DECLINED] = "declined",
	[V_FAILED] = "failed", [V_RETRY] = "unknown", [V_UNKNOWN] = "unknown"
};

/*
 * Never let the key reach our output, whatever a gateway echoes: any run
 * of 6 or more of its characters in a row is masked, so a half-masked
 * echo ("sk_live_abc****wxyz") shows none of it either.
 */
#define SCRUB_RUN 6

static void
scrub(char *s)
{
	size_t n = strlen(s), i, k, best;

	if (opt.secret == NULL)
		return;
	for (i = 0; i < n; i++) {
		best = 0;
		for (k = 0; k < opt.secretlen; k++) {
			size_t l = 0;

			while (i + l < n && k + l < opt.secretlen &&
			    s[i + l] == opt.secret[k + l])
				l++;
			if (l > best)
				best = l;
		}
		if (best >= SCRUB_RUN) {
			memset(s + i, '*', best);
			i += best - 1;
		}
	}
}

/* One charged line, flushed: a "pay now" waits for it. */
static void
emit(const struct charge *c, const struct outcome *o)
{
	char ts[MS_TIME_LEN], code[sizeof(o->code)], msg[sizeof(o->message)];
	char gid[sizeof(o->gateway_id)], verr[256];
	json_t *out;

	ms_time_format(ms_now_ms(), ts);
	text_clean(code, sizeof(code), o->code);
	text_clean(msg, sizeof(msg), o->message);
	text_clean(gid, sizeof(gid), o->gateway_id);
	scrub(code);
	scrub(msg);
	scrub(gid);
	out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}",
	    "type", "charged", "settlement", c->settlement, "key", c->key,
	    "status", verdict_names[o->verdict], "amount", (json_int_t)c->amount,
	    "currency", c->currency);
	if (out == NULL)
		ms_errx(MS_EX_FAIL, "out of memory");
	json_object_set_new(out, "gateway_id", *gid ? json_string(gid) : json_null());
	json_object_set_new(out, "code", *code ? json_string(code) : json_null());
	json_object_set_new(out, "message", *msg ? json_string(msg) : json_null());
	json_object_set_new(out, "ts", json_string(ts));
	/* the answer goes out regardless; a line off the wire format is our bug */
	if (ms_validate_charged(out, verr, sizeof(verr)) == -1)
		ms_warnx("internal error: %s", verr);
	ms_write_json(stdout, out, 1);
	json_decref(out);
	st.done++;
	switch (o->verdict) {
	case V_SUCCEEDED:
		st.succeeded++;
		break;
	case V_DECLINED:
		st.declined++;
		break;
	case V_FAILED:
		st.failed++;
		break;
	default:
		st.unknown++;
		break;
	}
}

/*
 * A line mspay cannot charge.  It gets a failed charged line when it
 * names a settlement, a key and a currency that can be echoed (so the
 * ledger can close the loop), an error line otherwise.
 */
static void
refuse(const char *source, unsigned long lineno, const json_t *j,
    const char *why)
{
	const char *settlement = json_string_value(json_object_get(j, "settlement"));
	const char *key = json_string_value(json_object_get(j, "key"));
	const char *cur = json_string_value(json_object_get(j, "currency"));
	const json_t *amt = json_object_get(j, "amount");
	json_t *out;
	struct charge c;
	struct outcome o;

	ms_warn_at(source, lineno, "%s", why);
	st.refused++;
	out = NULL;
	if (settlement && key && cur)
		out = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}",
		    "type", "charged", "settlement", settlement, "key", key,
		    "status", "failed", "amount", 0, "currency", cur);
	if (out != NULL && ms_validate_charged(out, NULL, 0) == 0) {
		json_decref(out);
		memset(&c, 0, sizeof(c));
		c.settlement = settlement;
		c.key = key;
		c.currency = cur;
		c.amount = json_is_integer(amt) &&
		    ms_amount_valid(json_integer_value(amt)) ?
		    json_integer_value(amt) : 0;
		memset(&o, 0, sizeof(o));
		outcome_set(&o, V_FAILED, "invalid", "%s", why);
		emit(&c, &o);
		return;
	}
	json_decref(out);
	out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "error",
	    "code", "invalid", "message", why, "source", source,
	    "line", (json_int_t)lineno);
	if (out == NULL)
		ms_errx(MS_EX_FAIL, "out of memory");
	ms_write_json(stdout, out, 1);
	json_decref(out);
}

/* Parse and check one input line into c; 0 or -1 (already refused). */
static int
take_line(struct ms_reader *r, int rc, const char *rerr, json_t **jp,
    struct charge *c)
{
	char err[512];
	enum ms_msg_type t;
	json_t *j;

	st.read++;
	if (rc == MS_READ_BAD) {
		refuse(r->source, r->lineno, NULL, rerr);
		return -1;
	}
	if ((j = ms_json_parse_line(r->line, r->len, err, sizeof(err))) == NULL) {
		refuse(r->source, r->lineno, NULL, err);
		return -1;
	}
	if ((t = ms_msg_type(j)) != MS_MSG_CHARGE) {
		/* an unknown type: the validator says what is wrong with it */
		if (t == MS_MSG_UNKNOWN &&
		    ms_msg_validate(j, err, sizeof(err)) == -1)
			refuse(r->source, r->lineno, j, err);
		else
			refuse(r->source, r->lineno, j, "expected a charge line");
		json_decref(j);
		return -1;
	}
	if (ms_validate_charge(j, err, sizeof(err)) == -1) {
		refuse(r->source, r->lineno, j, err);
		json_decref(j);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	c->msg = j;
	c->lineno = r->lineno;
	c->settlement = json_string_value(json_object_get(j, "settlement"));
	c->user = json_string_value(json_object_get(j, "user"));
	c->customer = json_string_value(json_object_get(j, "customer"));
	c->key = json_string_value(json_object_get(j, "key"));
	c->currency = json_string_value(json_object_get(j, "currency"));
	c->description = json_string_value(json_object_get(j, "description"));
	c->payment_method = json_string_value(json_object_get(j,
	    "payment_method"));
	c->amount = json_integer_value(json_object_get(j, "amount"));
	c->gw_amount = c->amount;
	c->attempt = json_integer_value(json_object_get(j, "attempt"));
	if (ms_time_parse(json_string_value(json_object_get(j,
	    "first_attempt")), &c->first_attempt) != 0)
		c->first_attempt = -1;
	if (ms_time_parse(json_string_value(json_object_get(j,
	    "last_attempt")), &c->last_attempt) != 0)
		c->last_attempt = -1;
	*jp = j;
	return 0;
}

static void
show_progress(int final)
{
	static int64_t last;
	int64_t now = ms_mono_ms();
	double secs, rate;

	if (!progress || (!final && now - last < 500))
		return;
	last = now;
	secs = (double)(now - st.start) / 1000.0;
	rate = secs > 0 ? (double)st.done / secs : 0;
	fprintf(stderr, "\rmspay: %lu/%lu done, %.0f/s, %lu declined, "
	    "%lu failed, %lu unknown", st.done, st.read, rate, st.declined,
	    st.failed + st.refused, st.unknown);
	if (pacing != NULL && pacing->total_limited > 0)
		fprintf(stderr, ", %lu answered 429, paced at %.0f/s",
		    pacing->total_limited, pace_rate(pacing));
	if (st.read > st.done && rate > 0)
		fprintf(stderr, ", ETA %.0fs ", (double)(st.read - st.done) / rate);
	else
		fputs("          ", stderr);
	if (final)
		fputc('\n', stderr);
}

/* ---- the ledger gateway: no network, group commit ---- */

static int
run_ledger(struct ms_reader *r)
{
	struct ledger *l;
	struct charge *batch = NULL;
	struct outcome *outs = NULL;
	size_t n = 0, cap = 0;
	char err[512];
	int rc, broken = 0;
	json_t *j;

	if ((l = ledger_open(opt.ledger_path, opt.journal, err,
	    sizeof(err))) == NULL) {
		ms_warnx("%s", err);
		return -1;
	}
	for (;;) {
		/* block only when nothing is staged; else commit what we have */
		rc = ms_reader_line(r, n > 0 || stopping(), err, sizeof(err));
		if (rc == MS_READ_LINE || rc == MS_READ_BAD) {
			struct charge c;

			if (stopping())
				rc = MS_READ_AGAIN;	/* take no new line */
			else if (take_line(r, rc, err, &j, &c) == 0) {
				if (n == cap) {
					cap = cap ? cap * 2 : 256;
					batch = realloc(batch, cap * sizeof(*batch));
					outs = realloc(outs, cap * sizeof(*outs));
					if (batch == NULL || outs == NULL)
						ms_errx(MS_EX_FAIL, "out of memory");
				}
				batch[n] = c;
				if (ledger_add(l, &c, &outs[n]) == -1)
					ms_errx(MS_EX_FAIL, "out of memory");
				n++;
			}
			if (rc != MS_READ_AGAIN && n < 4096)
				continue;
		}
		if (rc == MS_READ_ERROR)
			ms_warnx("%s: %s", r->source, err);
		if (n > 0) {
			/* nothing is deducted whose answer nobody can read */
			if (!answer_readable())
				broken = 1;
			else if (ledger_commit(l, err, sizeof(err)) == -1) {
				ms_warnx("%s", err);
				broken = 1;
			}
			for (size_t i = 0; i < n; i++) {
				if (broken)
					outcome_set(&outs[i], V_UNKNOWN, "ledger",
					    "ledger write failed");
				emit(&batch[i], &outs[i]);
				json_decref(batch[i].msg);
			}
			n = 0;
			show_progress(0);
		}
		if (rc == MS_READ_EOF || rc == MS_READ_ERROR || broken ||
		    stopping())
			break;
	}
	free(batch);
	free(outs);
	ledger_close(l);
	show_progress(1);
	return rc == MS_READ_ERROR || broken ? -1 : 0;
}

/* ---- the HTTP gateways ---- */

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb;
	char *nb;

	if (j->rlen + n > REPLY_MAX) {
		j->rtoolong = 1;
		return 0;	/* abort the transfer */
	}
	if (j->rlen + n + 1 > j->rcap) {
		size_t want = j->rcap ? j->rcap * 2 : 4096;

		while (want < j->rlen + n + 1)
			want *= 2;
		if ((nb = realloc(j->reply, want)) == NULL)
			return 0;
		j->reply = nb;
		j->rcap = want;
	}
	memcpy(j->reply + j->rlen, p, n);
	j->rlen += n;
	j->reply[j->rlen] = '\0';
	return n;
}

static int
header_is(const char *h, size_t n, const char *name, const char **val)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(h, name, k) != 0 || h[k] != ':')
		return 0;
	*val = h + k + 1;
	while (**val == ' ' || **val == '\t')
		(*val)++;
	return 1;
}

static size_t
on_header(char *h, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb;
	const char *v;
	char tmp[64];
	size_t vl;
	long secs;

	if (strncmp(h, "HTTP/", 5) == 0) {
		/* a new response (after 100-continue, say): start afresh */
		j->should_retry = -1;
		j->retry_after_ms = -1;
		return n;
	}
	if (header_is(h, n, "Stripe-Should-Retry", &v))
		j->should_retry = strncasecmp(v, "true", 4) == 0 ? 1 :
		    strncasecmp(v, "false", 5) == 0 ? 0 : -1;
	else if (header_is(h, n, "Retry-After", &v)) {
		vl = strcspn(v, "\r\n");
		if (vl < sizeof(tmp)) {
			memcpy(tmp, v, vl);
			tmp[vl] = '\0';
			/* seconds; an HTTP date is taken as "soon" */
			if (ms_parse_long(tmp, 0, 3600, &secs) == 0)
				j->retry_after_ms = (int64_t)secs * 1000;
		}
	}
	return n;
}

/*
 * The key goes only over https, or over plain http to this host itself.
 * The URL is judged as libcurl will use it: parsed with its URL API, the
 * host compared whole (a prefix check let "http://localhost:x@host/"
 * through), credentials in the URL refused.  On success opt.url holds the
 * URL as curl normalised it and opt.plain says it is plain http.
 */
static const char *
url_refusal(const char *given)
{
	static const char *const loopback[] = {
		"127.0.0.1", "[::1]", "localhost", NULL
	};
	static char why[128];
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	char *url = NULL;
	const char *refusal = NULL;

	if ((u = curl_url()) == NULL)
		return "out of memory";
	if (curl_url_set(u, CURLUPART_URL, given, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		refusal = "not a URL with a scheme and a host";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		refusal = "no user name or password in the URL: "
		    "the key comes from -K or MSPAY_KEY";
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		opt.plain = 0;
	else if (strcasecmp(scheme, "http") == 0) {
		opt.plain = 1;
		refusal = "the key goes only over https, or plain http to "
		    "127.0.0.1, ::1 or localhost";
		for (const char *const *p = loopback; *p; p++)
			if (strcasecmp(host, *p) == 0)
				refusal = NULL;
	} else {
		snprintf(why, sizeof(why), "scheme %.20s: want https (or http "
		    "to this host)", scheme);
		refusal = why;
	}
	if (refusal == NULL && (opt.url = strdup(url)) == NULL)
		refusal = "out of memory";
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_free(url);
	curl_url_cleanup(u);
	return refusal;
}

/*
 * Easy handles of finished transfers, reset and kept for the next ones:
 * making and freeing one per attempt was a tenth of mspay's CPU time.
 * At most -P are in use at once, so at most -P are kept.
 */
static struct {
	CURL	**h;
	size_t	  n;
} spare;

static CURL *
easy_get(void)
{
	if (spare.n > 0)
		return spare.h[--spare.n];
	return curl_easy_init();
}

static void
easy_put(CURL *e)
{
	if (spare.h == NULL)
		spare.h = calloc((size_t)opt.parallel, sizeof(*spare.h));
	if (spare.h == NULL || spare.n >= (size_t)opt.parallel) {
		curl_easy_cleanup(e);
		return;
	}
	/* every option start() set is back to its default */
	curl_easy_reset(e);
	spare.h[spare.n++] = e;
}

static void
easy_free_all(void)
{
	while (spare.n > 0)
		curl_easy_cleanup(spare.h[--spare.n]);
	free(spare.h);
	spare.h = NULL;
}

/* Prepare a transfer for the job's next attempt. */
static int
start(CURLM *multi, struct job *j, const char *url)
{
	char hdr[512], sig[128], *surl = NULL;
	struct curl_slist *h = NULL;
	int search = j->phase != PH_CHARGE;

	j->rlen = 0;
	j->rtoolong = 0;
	j->should_retry = -1;
	j->retry_after_ms = -1;
	j->errbuf[0] = '\0';
	if ((j->easy = easy_get()) == NULL)
		return -1;
	if (!search) {
		snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", j->c.key);
		h = curl_slist_append(h, hdr);
	}
	if (opt.gw == GW_STRIPE) {
		h = curl_slist_append(h,
		    "Content-Type: application/x-www-form-urlencoded");
		/* replies in the shape gateway.c was written for */
		h = curl_slist_append(h, "Stripe-Version: " STRIPE_VERSION);
	} else {
		h = curl_slist_append(h, "Content-Type: application/json");
		if (webhook_signature(opt.secret, opt.secretlen,
		    (long long)(ms_now_ms() / 1000), j->body, sig,
		    sizeof(sig)) == -1)
			return -1;
		snprintf(hdr, sizeof(hdr), "MS-Signature: %s", sig);
		h = curl_slist_append(h, hdr);
	}
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (h == NULL)
		return -1;
	j->hdrs = h;
	if (search) {
		if (j->searched == 0)
			j->searched = ms_now_ms();
		if ((surl = search_url(opt.url, j->phase == PH_SEARCH_CHARGES ?
		    "charges" : "payment_intents", j->c.settlement)) == NULL)
			return -1;
		curl_easy_setopt(j->easy, CURLOPT_URL, surl);
		curl_easy_setopt(j->easy, CURLOPT_HTTPGET, 1L);
		free(surl);	/* curl keeps its own copy */
	} else {
		curl_easy_setopt(j->easy, CURLOPT_URL, url);
		curl_easy_setopt(j->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
		curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(j->body));
	}
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/*
	 * Plain http goes to this host only, and never through a proxy from
	 * the environment, which would see the key in clear.  (Over https a
	 * proxy gets a CONNECT tunnel and sees nothing.)
	 */
	if (opt.plain)
		curl_easy_setopt(j->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	if (opt.gw == GW_STRIPE) {
		/* curl keeps its own copy; the key is in no header list of ours */
		curl_easy_setopt(j->easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(j->easy, CURLOPT_XOAUTH2_BEARER, opt.secret);
	}
	curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "mspay/1");
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)opt.connect_ms);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)opt.timeout_ms);
	curl_easy_setopt(j->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	/* over HTTP/2, wait for a stream on the open connection, not a new one */
	curl_easy_setopt(j->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(j->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (opt.cacert != NULL)
		curl_easy_setopt(j->easy, CURLOPT_CAINFO, opt.cacert);
	j->attempts++;
	st.attempts++;
	return curl_multi_add_handle(multi, j->easy) == CURLM_OK ? 0 : -1;
}

static void
finish_transfer(CURLM *multi, struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(multi, j->easy);
		easy_put(j->easy);
		j->easy = NULL;
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
}

static void
job_free(struct job *j)
{
	json_decref(j->c.msg);
	free(j->body);
	free(j->reply);
	free(j);
}

/*
 * A search came back: search PaymentIntents after charges, then decide.
 * 0: the job goes on (parked for its next phase); -1: *o is its outcome.
 */
static int
next_phase(struct job *j, struct outcome *o)
{
	char err[512];

	j->attempts = 0;
	j->due = 0;
	if (j->phase == PH_SEARCH_CHARGES) {
		j->phase = PH_SEARCH_INTENTS;
		return 0;
	}
	if (reconcile_outcome(&j->found, o)) {
		/* paid is recorded only for what was asked */
		if (o->verdict == V_SUCCEEDED &&
		    stripe_amount_check(&j->c, o, err, sizeof(err)) == -1)
			outcome_set(o, V_FAILED, "gateway_mismatch", "%s", err);
		return -1;
	}
	if (reconcile_may_resend(&j->c, j->searched, opt.search_lag_ms, err,
	    sizeof(err)) == -1) {
		memset(o, 0, sizeof(*o));
		outcome_set(o, V_UNKNOWN, "search_lag", "%s", err);
		return -1;
	}
	j->phase = PH_CHARGE;
	return 0;
}

/* Stripe-style backoff: base x (1 + n^2), capped, with jitter. */
static int64_t
backoff(int attempts, int64_t retry_after_ms)
{
	int64_t d = opt.backoff_ms * (1 + (int64_t)attempts * attempts);
	int64_t cap = opt.backoff_ms * 10;

	if (d > cap)
		d = cap;
	d = d / 2 + (int64_t)(drand48() * (double)(d / 2 + 1));
	if (retry_after_ms > d)
		d = retry_after_ms > 60000 ? 60000 : retry_after_ms;
	return d;
}

/* The code of a curl error that asking again will not mend, or NULL. */
static const char *
setup_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return "tls";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return "config";
	default:
		return NULL;
	}
}

static int
run_http(struct ms_reader *r)
{
	const char *fatal;
	struct list parked = { 0 }, running = { 0 };
	CURLM *multi;
	CURLMsg *m;
	struct job *j, *nj;
	struct outcome o;
	struct reply rep;
	struct curl_waitfd wfd;
	struct pace pace;
	char url[2048], err[512];
	int still, msgs, rc = MS_READ_AGAIN, eof = 0, nfd;
	size_t window = (size_t)opt.parallel * 4, waiting;
	int64_t now, wait;
	json_t *msg;
	long http;

	if (opt.gw == GW_STRIPE)
		snprintf(url, sizeof(url), "%s%s%s", opt.url,
		    opt.url[strlen(opt.url) - 1] == '/' ? "" : "/",
		    opt.api == API_CHARGES ? "v1/charges" : "v1/payment_intents");
	else
		snprintf(url, sizeof(url), "%s", opt.url);
	pace_init(&pace, opt.rate);
	pacing = &pace;
	if ((multi = curl_multi_init()) == NULL)
		ms_errx(MS_EX_FAIL, "curl_multi_init failed");
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, opt.parallel);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opt.parallel);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, opt.parallel);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);

	for (;;) {
		/*
		 * Take new lines while the window has room; charges waiting
		 * for a retry (after a 429, say) do not hold up the others.
		 */
		now = ms_mono_ms();
		waiting = 0;
		for (j = parked.head; j != NULL; j = j->next)
			if (j->due > now)
				waiting++;
		while (!eof && !stopping() &&
		    parked.n + running.n < window + waiting) {
			struct charge c;

			rc = ms_reader_line(r, 1, err, sizeof(err));
			if (rc == MS_READ_AGAIN)
				break;
			if (rc == MS_READ_EOF || rc == MS_READ_ERROR) {
				if (rc == MS_READ_ERROR)
					ms_warnx("%s: %s", r->source, err);
				eof = 1;
				break;
			}
			if (take_line(r, rc, err, &msg, &c) == -1)
				continue;
			/* an amount Stripe cannot take exactly is never sent */
			if (opt.gw == GW_STRIPE && stripe_amount(c.currency,
			    c.amount, &c.gw_amount, err, sizeof(err)) == -1) {
				memset(&o, 0, sizeof(o));
				outcome_set(&o, V_FAILED, "amount_precision",
				    "%s", err);
				emit(&c, &o);
				json_decref(c.msg);
				continue;
			}
			if ((j = calloc(1, sizeof(*j))) == NULL)
				ms_errx(MS_EX_FAIL, "out of memory");
			j->c = c;
			j->body = opt.gw == GW_STRIPE ? stripe_body(&c, opt.api) :
			    webhook_body(&c);
			if (j->body == NULL)
				ms_errx(MS_EX_FAIL, "out of memory");
			j->due = 0;
			/* the gateway may have forgotten the key: search first */
			j->phase = opt.gw == GW_STRIPE &&
			    reconcile_needs_search(&c, ms_now_ms(),
			    opt.key_lifetime_ms) ? PH_SEARCH_CHARGES : PH_CHARGE;
			list_add(&parked, j);
		}
		/* SIGTERM: no new attempts; what waits for a retry is unknown */
		if (stopping()) {
			while ((j = parked.head) != NULL) {
				list_del(&parked, j);
				o = j->last;
				if (j->attempts == 0)
					outcome_set(&o, V_UNKNOWN, "stopped",
					    "mspay was stopped before sending it");
				o.verdict = V_UNKNOWN;
				emit(&j->c, &o);
				job_free(j);
			}
		}
		/* start what is due, within -P and the rate (pace.c) */
		now = ms_mono_ms();
		for (j = parked.head; j != NULL && running.n < (size_t)opt.parallel;
		    j = nj) {
			nj = j->next;
			if (j->due > now)
				continue;
			if (pace_delay(&pace) > 0)
				break;
			/* a charge whose answer nobody can read is not made */
			if (j->phase == PH_CHARGE && !answer_readable())
				break;
			list_del(&parked, j);
			if (start(multi, j, url) == -1)
				ms_errx(MS_EX_FAIL, "cannot set up a transfer");
			j->started = pace_start(&pace);
			list_add(&running, j);
		}
		if (eof && parked.n == 0 && running.n == 0)
			break;
		if (stopping() && running.n == 0)
			break;

		/* wait for sockets, stdin, the next due retry or rate slot */
		wait = 1000;
		if (progress)
			wait = 500;
		for (j = parked.head; j != NULL &&
		    running.n < (size_t)opt.parallel; j = j->next) {
			int64_t d = j->due - now;

			/* a charge that is due waits only for the rate */
			if (d <= 0)
				d = pace_delay(&pace);
			if (d < wait)
				wait = d;
		}
		nfd = 0;
		if (!eof && !stopping() &&
		    parked.n + running.n < window + waiting) {
			if (ms_reader_ready(r))
				wait = 0;
			wfd.fd = r->fd;
			wfd.events = CURL_WAIT_POLLIN;
			wfd.revents = 0;
			nfd = 1;
		}
		curl_multi_poll(multi, nfd ? &wfd : NULL, (unsigned)nfd,
		    (int)wait, NULL);
		if (nfd && wfd.revents)
			ms_reader_fill(r);
		curl_multi_perform(multi, &still);

		while ((m = curl_multi_info_read(multi, &msgs)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&j);
			http = 0;
			memset(&rep, 0, sizeof(rep));
			if (m->data.result == CURLE_OK) {
				curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE,
				    &http);
				rep.status = http;
				rep.body = j->reply;
				rep.len = j->rlen;
			} else {
				rep.status = 0;
				rep.body = j->errbuf[0] ? j->errbuf :
				    curl_easy_strerror(m->data.result);
				rep.len = strlen(rep.body);
			}
			rep.should_retry = j->should_retry;
			rep.retry_after_ms = j->retry_after_ms;
			/* a 429 for the rate is the gateway's limit: slow down */
			pace_answer(&pace, j->started, reply_rate_limited(&rep),
			    rep.retry_after_ms);
			if (j->rtoolong) {
				rep.status = 0;
				rep.body = "gateway reply too long";
				rep.len = strlen(rep.body);
			}
			/* TLS and set-up errors will not get better by asking again */
			if ((fatal = setup_error(m->data.result)) != NULL) {
				memset(&o, 0, sizeof(o));
				outcome_set(&o, V_FAILED, fatal, "%s", rep.body);
			} else if (j->phase != PH_CHARGE) {
				stripe_search_classify(&rep, &j->found, &o);
				if (o.verdict == V_SUCCEEDED) {
					finish_transfer(multi, j);
					list_del(&running, j);
					if (next_phase(j, &o) == 0) {
						list_add(&parked, j);
						continue;
					}
					emit(&j->c, &o);
					job_free(j);
					continue;
				}
			} else if (opt.gw == GW_STRIPE) {
				stripe_classify(&rep, opt.api, &o);
				/* paid is recorded only for what was asked */
				if (o.verdict == V_SUCCEEDED &&
				    stripe_amount_check(&j->c, &o, err,
				    sizeof(err)) == -1)
					outcome_set(&o, V_FAILED,
					    "gateway_mismatch", "%s", err);
			} else
				webhook_classify(&rep, &o);
			finish_transfer(multi, j);
			list_del(&running, j);
			if (o.verdict == V_RETRY &&
			    j->attempts <= opt.retries && !stopping()) {
				j->last = o;
				j->due = ms_mono_ms() + backoff(j->attempts,
				    o.retry_after_ms);
				list_add(&parked, j);
				continue;
			}
			if (o.verdict == V_RETRY) {
				char last[sizeof(o.message)];

				memcpy(last, o.message, sizeof(last));
				o.verdict = V_UNKNOWN;
				snprintf(o.message, sizeof(o.message),
				    "no definite answer after %d attempts%s; last: %.400s",
				    j->attempts, j->phase == PH_CHARGE ? "" :
				    " to search the gateway", last);
			}
			emit(&j->c, &o);
			job_free(j);
		}
		show_progress(0);
	}
	easy_free_all();
	curl_multi_cleanup(multi);
	show_progress(1);
	pacing = NULL;
	return 0;
}

/*
 * ms.conf's payroll file, its strftime(3) conversions in the shop's time
 * (payroll-%Y-%m.csv: one file a month, one journal beside them).
 */
static const char *
payroll_path(const char *pattern)
{
	static char path[MS_CONF_VALUE_MAX + 64];
	struct tm tm;

	if (strchr(pattern, '%') == NULL)
		return pattern;
	ms_shoptime_init();
	if (ms_shoptime_tm(ms_now_ms(), &tm) == -1 ||
	    strftime(path, sizeof(path), pattern, &tm) == 0)
		ms_errx(MS_EX_USAGE, "payroll %s in ms.conf: not a file name "
		    "pattern", pattern);
	return path;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "api", required_argument, NULL, 'A' },
		{ "backoff", required_argument, NULL, 'B' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "connect-timeout", required_argument, NULL, 'O' },
		{ "journal", required_argument, NULL, 'J' },
		{ "key-lifetime", required_argument, NULL, 'L' },
		{ "search-lag", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'R' },
		{ "retries", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *keyfile = NULL, *env, *url = NULL, *why;
	struct ms_reader r;
	char err[512];
	long n;
	const char *bad = NULL;	/* what is wrong with an option */
	int ch, failed;

	ms_setprog(argv[0]);
	ms_version_option(argc, argv);
	/* ms.conf says the shop's gateway and payroll file; -g and -f override */
	if (strcmp(ms_conf()->gateway, "stripe") == 0)
		opt.gw = GW_STRIPE;
	else if (strcmp(ms_conf()->gateway, "webhook") == 0)
		opt.gw = GW_WEBHOOK;
	if (ms_conf()->payroll[0] != '\0')
		opt.ledger_path = payroll_path(ms_conf()->payroll);
	if (ms_conf()->url[0] != '\0')
		url = ms_conf()->url;
	while ((ch = getopt_long(argc, argv, "f:g:hK:P:T:u:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'A':
			if (strcmp(optarg, "charges") == 0)
				opt.api = API_CHARGES;
			else if (strcmp(optarg, "payment_intents") == 0)
				opt.api = API_PAYMENT_INTENTS;
			else
				bad = "--api: want charges or payment_intents";
			break;
		case 'B':
			if (ms_parse_seconds(optarg, &opt.backoff_ms) == -1 ||
			    opt.backoff_ms > 60000)
				bad = "--backoff: want seconds up to 60";
			break;
		case 'C':
			opt.cacert = optarg;
			break;
		case 'f':
			opt.ledger_path = optarg;
			break;
		case 'g':
			if (strcmp(optarg, "ledger") == 0)
				opt.gw = GW_LEDGER;
			else if (strcmp(optarg, "stripe") == 0)
				opt.gw = GW_STRIPE;
			else if (strcmp(optarg, "webhook") == 0)
				opt.gw = GW_WEBHOOK;
			else
				bad = "-g: want ledger, stripe or webhook";
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'K':
			keyfile = optarg;
			break;
		case 'J':
			opt.journal = optarg;
			break;
		case 'L':
			if (ms_parse_seconds(optarg, &opt.key_lifetime_ms) == -1)
				bad = "--key-lifetime: want seconds";
			break;
		case 'S':
			if (ms_parse_seconds(optarg, &opt.search_lag_ms) == -1)
				bad = "--search-lag: want seconds";
			break;
		case 'N':
			if (ms_parse_long(optarg, 0, 100, &opt.retries) == -1)
				bad = "--retries: want 0 to 100";
			break;
		case 'O':
			if (ms_parse_seconds(optarg, &opt.connect_ms) == -1 ||
			    opt.connect_ms < 1)
				bad = "--connect-timeout: want seconds";
			break;
		case 'P':
			if (ms_parse_long(optarg, 1, 1024, &opt.parallel) == -1)
				bad = "-P: want 1 to 1024";
			break;
		case 'R':
			if (ms_parse_long(optarg, 1, 1000000, &n) == -1)
				bad = "--rate: want 1 to 1000000 requests a second";
			else
				opt.rate = (double)n;
			break;
		case 'T':
			if (ms_parse_seconds(optarg, &opt.timeout_ms) == -1 ||
			    opt.timeout_ms < 1)
				bad = "-T: want seconds";
			break;
		case 'u':
			url = optarg;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
		if (bad != NULL) {
			ms_warnx("%s", bad);
			usage();
			return MS_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0) {
		usage();
		return MS_EX_USAGE;
	}

	if (opt.gw == GW_STRIPE && url == NULL)
		url = "https://api.stripe.com";
	if (opt.gw == GW_WEBHOOK && url == NULL) {
		ms_warnx("-g webhook needs -u url (or url in ms.conf)");
		usage();
		return MS_EX_USAGE;
	}
	if (opt.gw != GW_LEDGER) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ms_errx(MS_EX_FAIL, "curl_global_init failed");
		if (strlen(url) > 1900)
			ms_errx(MS_EX_USAGE, "-u: URL too long");
		if ((why = url_refusal(url)) != NULL)
			ms_errx(MS_EX_USAGE, "-u: %s", why);
		if (opt.cacert != NULL && access(opt.cacert, R_OK) == -1)
			ms_err(MS_EX_FAIL, "--cacert: %s", opt.cacert);
		/*
		 * the key: a private file, or the environment; never argv.
		 * ms.conf's key file comes last: -K and MSPAY_KEY override it.
		 */
		if (keyfile == NULL && ((env = getenv("MSPAY_KEY")) == NULL ||
		    *env == '\0') && ms_conf()->key[0] != '\0')
			keyfile = ms_conf()->key;
		if (keyfile != NULL) {
			if (ms_read_secret(keyfile, &opt.secret, &opt.secretlen,
			    err, sizeof(err)) == -1)
				ms_errx(MS_EX_FAIL, "%s", err);
		} else if ((env = getenv("MSPAY_KEY")) != NULL && *env != '\0') {
			if ((opt.secret = strdup(env)) == NULL)
				ms_errx(MS_EX_FAIL, "out of memory");
			opt.secretlen = strlen(opt.secret);
			/* wipe it where /proc/PID/environ would show it */
			memset((char *)env, 0, opt.secretlen);
		} else
			ms_errx(MS_EX_USAGE, "no key: give -K file, set MSPAY_KEY "
			    "or key in ms.conf");
		/* a short key would also defeat scrub() */
		if (opt.secretlen < 8 || strpbrk(opt.secret, "\r\n") != NULL)
			ms_errx(MS_EX_FAIL, "the key is shorter than 8 characters "
			    "or spans lines");
		/* no child of ours needs it */
		unsetenv("MSPAY_KEY");
	}

	ms_sig_install(0);
	if ((why = stdout_unusable()) != NULL)
		ms_errx(MS_EX_FAIL, "%s: nothing charged", why);
	srand48((long)ms_now_ms() ^ (long)getpid());
	progress = isatty(STDERR_FILENO);
	st.start = ms_mono_ms();
	ms_reader_init(&r, STDIN_FILENO, "-");
	if (opt.gw == GW_LEDGER)
		failed = run_ledger(&r);
	else
		failed = run_http(&r);
	ms_reader_free(&r);

	if (opt.secret != NULL) {
		ms_secret_free(opt.secret, opt.secretlen);
		free(opt.url);
		curl_global_cleanup();
	}
	if (ms_close_stdout() != 0 || out_gone)
		return MS_EX_FAIL;
	if (st.unknown > 0)
		return MS_EX_TEMPFAIL;
	if (failed || st.failed > 0 || st.refused > 0)
		return MS_EX_FAIL;
	return MS_EX_OK;
}
