/*
 * cmd_admin.c: the commands people run by hand or from cron: show, due,
 * void, refund, report, log, backup and verify.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bell.h"
#include "ledger.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

int
cmd_usage(const char *synopsis)
{
	fprintf(stderr, "usage: mscart %s\n", synopsis);
	return MS_EX_USAGE;
}

/*
 * Rewrite GNU-style long options into their short letters in place, so
 * getopt(3) sees them: map is "--name=c" entries.
 */
static void
long_opts(int argc, char **argv, const char *const *map)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return;
		for (const char *const *m = map; *m; m++) {
			const char *eq = strchr(*m, '=');
			size_t n = (size_t)(eq - *m);
			static char opt[3] = "-?";

			if (strncmp(argv[i], *m, n) != 0)
				continue;
			if (argv[i][n] == '\0') {
				char *s = malloc(3);

				if (s == NULL)
					return;
				opt[1] = eq[1];
				memcpy(s, opt, 3);
				argv[i] = s;
			} else if (argv[i][n] == '=') {
				char *s = malloc(strlen(argv[i] + n) + 3);

				if (s == NULL)
					return;
				sprintf(s, "-%c%s", eq[1], argv[i] + n + 1);
				argv[i] = s;
			}
		}
	}
}

/* "90", "1.5s", "15m", "2h", "7d" into milliseconds. */
int
parse_duration(const char *s, int64_t *ms)
{
	char buf[64];
	size_t n = strlen(s);
	int64_t mul = 1;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'd': mul = 86400; buf[n - 1] = '\0'; break;
	case 'h': mul = 3600; buf[n - 1] = '\0'; break;
	case 'm': mul = 60; buf[n - 1] = '\0'; break;
	case 's': buf[n - 1] = '\0'; break;
	default: break;
	}
	if (ms_parse_seconds(buf, ms) == -1 || *ms > INT64_MAX / mul)
		return -1;
	*ms *= mul;
	return 0;
}

static int
open_store(struct store *st, const char *home)
{
	return store_open(st, store_ledger(home, 0), 0) == 0 ? 0 : -1;
}

/* ----- show ----- */

struct show_arg {
	const char	*who;	/* user or card */
	int		 all;
	json_t		*cart;
	int		 unknown;
};

static int
show_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct show_arg *a = arg;
	char user[MS_ID_MAX + 1];
	int rc;

	json_decref(a->cart);
	a->cart = NULL;
	a->unknown = 0;
	if (strchr(a->who, ':') != NULL) {
		rc = db_get_str(st->cards, txn, a->who, user, sizeof(user));
		if (rc == DB_NOTFOUND)
			return cart_build(st, txn, NULL, a->who, a->all, &a->cart);
		if (rc != 0)
			return rc;
		rc = cart_build(st, txn, user, a->who, a->all, &a->cart);
	} else
		rc = cart_build(st, txn, a->who, NULL, a->all, &a->cart);
	if (rc == DB_NOTFOUND) {
		a->unknown = 1;
		rc = 0;
	}
	return rc;
}

static void
show_table(const json_t *cart)
{
	const char *cur = str(cart, "currency");
	char amount[64], when[64];
	size_t i;
	json_t *it, *v;

	printf("%s%s%s%s  status %s  limit %s\n",
	    str(cart, "user") ? str(cart, "user") : "unknown card",
	    str(cart, "name") ? " (" : "", str(cart, "name") ? str(cart, "name") : "",
	    str(cart, "name") ? ")" : "", str(cart, "status"), str(cart, "limit"));
	if (str(cart, "card") != NULL)
		printf("card %s\n", str(cart, "card"));
	printf("%-8s %-23s %-12s %-20s %14s  %-8s %s\n", "LINE", "TAKEN", "SKU",
	    "NAME", "PRICE", "STATE", "ROBOT");
	json_array_foreach(json_object_get(cart, "items"), i, it) {
		ms_shoptime_format(str(it, "ts"), when, sizeof(when));
		if (ms_money_format(num(it, "price"), str(it, "currency"), amount,
		    sizeof(amount)) == -1)
			snprintf(amount, sizeof(amount), "%lld",
			    (long long)num(it, "price"));
		printf("%-8s %-23s %-12.12s %-20.20s %14s  %-8s %s\n",
		    str(it, "id"), when, str(it, "sku"),
		    str(it, "name") ? str(it, "name") : "", amount,
		    str(it, "state"), str(it, "robot") ? str(it, "robot") : "-");
	}
	json_array_foreach(json_object_get(cart, "totals"), i, v) {
		if (json_is_null(json_object_get(v, "amount")))
			/* past the money limit: never a smaller number */
			snprintf(amount, sizeof(amount), "overflow %s",
			    str(v, "currency"));
		else
			ms_money_format(num(v, "amount"), str(v, "currency"),
			    amount, sizeof(amount));
		printf("%-62s %14s\n", "due", amount);
	}
	if (json_array_size(json_object_get(cart, "totals")) == 0) {
		ms_money_format(0, cur, amount, sizeof(amount));
		printf("%-62s %14s\n", "due", amount);
	}
}

int
cmd_show(int argc, char **argv)
{
	const char *syn = "show [-aHh] [-d dir] user | card";
	const char *home = NULL;
	struct show_arg a = { 0 };
	struct store st;
	int ch, human = 0, rc;

	while ((ch = getopt(argc, argv, "aHd:h")) != -1) {
		switch (ch) {
		case 'a': a.all = 1; break;
		case 'H': human = 1; break;
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		return cmd_usage(syn);
	a.who = argv[0];
	if (strchr(a.who, ':') ? ms_card_valid(a.who, NULL, 0) == -1 :
	    !ms_id_valid(a.who)) {
		ms_warnx("%s: not a user id or card token", a.who);
		return MS_EX_USAGE;
	}
	if (open_store(&st, home) == -1)
		return MS_EX_TEMPFAIL;
	replica_read_note(&st, "show");
	rc = run_txn(&st, show_txn, &a);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("show: %s", db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	if (a.unknown) {
		ms_warnx("%s: unknown user", a.who);
		return MS_EX_FAIL;
	}
	if (human) {
		ms_shoptime_init();
		show_table(a.cart);
	}
	else
		ms_write_json(stdout, a.cart, 0);
	json_decref(a.cart);
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}

/* ----- due ----- */

struct due_arg {
	struct role	 role;		/* admin:due@LOGIN, for the audit */
	const char	*user, *sett;
	int64_t		 cutoff;	/* lines taken at or before, or
					   INT64_MAX: no -o (a cutoff before
					   1970 is negative, not "none") */
	int64_t		 retry_ms;	/* the wait after a decline */
	json_t		*todo;		/* [[user, currency], ...] */
	json_t		*seen;		/* "user currency" pairs in todo */
	json_t		*charges;
	json_t		*held;		/* why users were left alone */
	json_t		*ended;		/* settlements due ended unsent */
	json_t		*sent;		/* -f: settlement -> true, printed by
					   this process and still open */
	size_t		 next;
	size_t		 batch, batch_held;	/* where the batch began */
	int		 overflow;
};

/*
 * Users (and currencies) with unpaid lines old enough, each with the
 * number of its first such line.
 */
static void
due_line(json_t *l, int64_t id, void *arg)
{
	struct due_arg *a = arg;
	const char *owner = str(l, "owner");
	char pair[MS_ID_MAX + 8];
	int64_t ts;

	if (strcmp(str(l, "state"), "unpaid") != 0 ||
	    strncmp(owner, OWNER_USER, 2) != 0 ||
	    (a->user != NULL && strcmp(owner + 2, a->user) != 0) ||
	    (a->cutoff != INT64_MAX && (ms_time_parse(str(l, "ts"), &ts) != 0 ||
	    ts > a->cutoff)))
		return;
	snprintf(pair, sizeof(pair), "%s %s", owner + 2, str(l, "currency"));
	if (json_object_get(a->seen, pair) == NULL) {
		json_object_set_new(a->seen, pair, json_true());
		json_array_append_new(a->todo, json_pack("[s,s,I]", owner + 2,
		    str(l, "currency"), (json_int_t)id));
	}
}

static int
due_first_cmp(const void *x, const void *y)
{
	json_int_t a = json_integer_value(json_array_get(*(json_t *const *)x, 2));
	json_int_t b = json_integer_value(json_array_get(*(json_t *const *)y, 2));

	return (a > b) - (a < b);
}

/*
 * The open lines only (open.db), so that due costs what is owed, not the
 * years of paid lines; settlements open in the order of each user's
 * oldest unpaid line, as they did when due read every line.
 */
static int
due_scan(struct store *st, struct due_arg *a)
{
	json_t **v, *sorted;
	size_t i, n;
	int rc;

	a->seen = json_object();
	rc = store_open_lines_scan(st, due_line, a);
	json_decref(a->seen);
	a->seen = NULL;
	n = json_array_size(a->todo);
	if (rc != 0 || n < 2)
		return rc;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a->todo, i));
	qsort(v, n, sizeof(*v), due_first_cmp);
	sorted = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(sorted, v[i]);
	free(v);
	json_decref(a->todo);
	a->todo = sorted;
	return 0;
}

static int
due_open_one(struct store *st, DB_TXN *txn, void *arg)
{
	struct due_arg *a = arg;
	json_t *pair = json_array_get(a->todo, a->next), *s;
	int rc;

	const char *user = json_string_value(json_array_get(pair, 0));
	char why[200];
	json_t *u = NULL;

	/* once a transaction: a reload would hand out numbers again */
	if (!st->counters_loaded && (rc = store_counters_load(st, txn)) != 0)
		return rc;
	/* no payment reference, or a decline's retry schedule: not now */
	if ((rc = db_get_json(st->users, txn, user, &u, 0)) != 0 &&
	    rc != DB_NOTFOUND)
		return rc;
	rc = settlement_hold(u, ms_now_ms(), a->retry_ms, why, sizeof(why));
	json_decref(u);
	if (rc == 1) {
		json_array_append_new(a->held, json_pack("s+++", user, ": ",
		    why, ""));
		return 0;
	}
	rc = settlement_open(st, txn, a->role.who, user,
	    json_string_value(json_array_get(pair, 1)), &s);
	if (rc == EOVERFLOW) {
		ms_warnx("due: the total of user %s overflows",
		    json_string_value(json_array_get(pair, 0)));
		a->overflow = 1;
		return 0;
	}
	if (rc == DB_NOTFOUND)
		return 0;
	json_decref(s);
	return rc;
}

/*
 * Settlements are opened DUE_BATCH users a transaction: one synchronous
 * commit per user made due for 100,000 users take minutes of fsyncs, and
 * a settlement waits for its charge line anyway, which is printed only
 * after every commit.  A retried transaction starts its batch again.
 */
#define DUE_BATCH	100

static int
due_open_batch(struct store *st, DB_TXN *txn, void *arg)
{
	struct due_arg *a = arg;
	size_t k;
	int rc;

	a->next = a->batch;
	while (json_array_size(a->held) > a->batch_held)
		json_array_remove(a->held, json_array_size(a->held) - 1);
	for (k = 0; k < DUE_BATCH && a->next < json_array_size(a->todo) &&
	    !ms_sig_stop; k++, a->next++)
		if ((rc = due_open_one(st, txn, a)) != 0)
			return rc;
	return 0;
}

/* Emit (and count an attempt for) every open settlement that matches. */
static int
due_emit(struct store *st, DB_TXN *txn, void *arg)
{
	struct due_arg *a = arg;
	DBC *c;
	DBT k, d;
	char sid[64], ts[MS_TIME_LEN], why[200];
	const char *last;
	json_t *s, *u, *ch, *ch_last, *open_now = json_object();
	int rc;

	json_decref(a->charges);
	a->charges = json_array();
	json_decref(a->ended);
	a->ended = json_array();
	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	if ((rc = st->opens->cursor(st->opens, txn, &c, 0)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	d.data = sid;
	d.ulen = sizeof(sid) - 1;
	d.flags = DB_DBT_USERMEM;
	k.flags = DB_DBT_REALLOC;
	ms_time_format(ms_now_ms(), ts);
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0) {
		sid[d.size] = '\0';
		if (a->sett != NULL && strcmp(a->sett, sid) != 0)
			continue;
		if (a->sent != NULL) {
			json_object_set_new(open_now, sid, json_true());
			if (json_object_get(a->sent, sid) != NULL)
				continue;
		}
		if ((rc = db_get_json(st->settlements, txn, sid, &s, 1)) != 0)
			break;
		if (a->user != NULL && strcmp(a->user, str(s, "user")) != 0) {
			json_decref(s);
			continue;
		}
		u = NULL;
		if ((rc = db_get_json(st->users, txn, str(s, "user"), &u, 0)) != 0 &&
		    rc != DB_NOTFOUND) {
			json_decref(s);
			break;
		}
		rc = 0;
		settlement_freeze(s, u);	/* one opened before freezing */
		if (json_is_null(json_object_get(s, "customer"))) {
			/* nothing to charge it to: ended here, never sent */
			snprintf(why, sizeof(why), "user %s has no payment "
			    "reference", str(s, "user"));
			rc = settlement_end(st, txn, a->role.who, s, "failed",
			    "no-payment", why);
			json_array_append_new(a->ended, json_pack("s+++", sid,
			    ": ", why, ": failed, its lines are unpaid again"));
			json_decref(u);
			json_decref(s);
			if (rc != 0)
				break;
			continue;
		}
		/*
		 * The attempt fields tell mspay whether the gateway may have
		 * forgotten the key: when the first attempt went out, and the
		 * latest an earlier one may have reached the gateway (the last
		 * time due printed it, or settle last heard of it).
		 */
		last = str(s, "emitted");
		if (last != NULL && str(s, "heard") != NULL &&
		    strcmp(str(s, "heard"), last) > 0)
			last = str(s, "heard");
		ch_last = last ? json_string(last) : NULL;
		json_object_set_new(s, "attempts", json_integer(num(s, "attempts") + 1));
		if (str(s, "first_attempt") == NULL)
			json_object_set_new(s, "first_attempt", json_string(ts));
		json_object_set_new(s, "emitted", json_string(ts));
		json_object_set_new(s, "updated", json_string(ts));
		if ((rc = db_put_json(st->settlements, txn, sid, s)) != 0) {
			json_decref(ch_last);
			json_decref(u);
			json_decref(s);
			break;
		}
		ch = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}",
		    "type", "charge", "settlement", json_object_get(s, "settlement"),
		    "user", json_object_get(s, "user"),
		    "customer", json_object_get(s, "customer"),
		    "amount", json_object_get(s, "amount"),
		    "currency", json_object_get(s, "currency"),
		    "key", json_object_get(s, "key"),
		    "description", json_object_get(s, "description"),
		    "attempt", json_object_get(s, "attempts"),
		    "first_attempt", json_object_get(s, "first_attempt"));
		if (json_object_get(s, "payment_method") != NULL)
			json_object_set(ch, "payment_method",
			    json_object_get(s, "payment_method"));
		if (ch_last != NULL)
			json_object_set_new(ch, "last_attempt", ch_last);
		json_array_append_new(a->charges, ch);
		if (a->sent != NULL)
			json_object_set_new(a->sent, sid, json_true());
		rc = audit_add(st, txn, a->role.who, "charge", json_pack(
		    "{s:s,s:O}", "settlement", sid, "attempt",
		    json_object_get(s, "attempts")));
		json_decref(u);
		json_decref(s);
		if (rc != 0)
			break;
	}
	free(k.data);
	c->close(c);
	if (a->sent != NULL && (rc == 0 || rc == DB_NOTFOUND)) {
		/* forget those that ended: the set stays as small as opens */
		const char *sk;
		void *tmp;
		json_t *v;

		json_object_foreach_safe(a->sent, tmp, sk, v)
			if (json_object_get(open_now, sk) == NULL)
				json_object_del(a->sent, sk);
	}
	json_decref(open_now);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/*
 * due -n: everything a run would do, in one transaction that is then
 * aborted, so the charges printed are the ones a run would print now.
 */
static int
due_dry(struct store *st, DB_TXN *txn, void *arg)
{
	struct due_arg *a = arg;
	int rc = 0;

	json_array_clear(a->held);
	a->overflow = 0;
	/* each open leaves the counters in txn, as its own commit would */
	for (a->next = 0; rc == 0 && a->next < json_array_size(a->todo);
	    a->next++)
		if ((rc = due_open_one(st, txn, a)) == 0)
			rc = store_counters_save(st, txn);
	return rc != 0 ? rc : due_emit(st, txn, a);
}

/*
 * Write what due_emit found: the users held and the settlements ended
 * to stderr, the charges to stdout, flushed.  -1 when stdout failed.
 */
static int
due_print(struct due_arg *a)
{
	size_t i;
	json_t *ch;

	json_array_foreach(a->held, i, ch)
		ms_warnx("due: %s", json_string_value(ch));
	json_array_foreach(a->ended, i, ch)
		ms_warnx("due: %s", json_string_value(ch));
	json_array_foreach(a->charges, i, ch)
		ms_write_json(stdout, ch, i + 1 == json_array_size(a->charges));
	json_array_clear(a->held);
	json_array_clear(a->ended);
	json_array_clear(a->charges);
	return ms_write_failed() ? -1 : 0;
}

/*
 * due -f: print every open settlement once, as it opens, until a signal.
 * It wakes at the settlement bell (a pay's commit rings it), and looks
 * once a minute besides, in case a ring was lost (the directory moved, a
 * writer that does not ring).  It opens no settlement of its own: the
 * batch run does that for tabs nobody paid at a device.
 */
static int
due_follow(struct store *st, struct due_arg *a)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	int rc;

	a->sent = json_object();
	if ((p.fd = bell_watch(st->home)) == -1)
		ms_warn("due: %s: the settlement bell (looking once a minute)",
		    st->home);
	ms_warnx("due: following settlements in %s", st->home);
	rc = 0;
	while (!ms_sig_stop) {
		if ((rc = run_txn(st, due_emit, a)) != 0)
			break;
		if (json_array_size(a->ended) > 0)
			bell_ring(st->home, SETTLEMENT_BELL);	/* their devices wait */
		if (due_print(a) == -1)
			break;
		if (ms_sig_poll(&p, p.fd != -1 ? 1 : 0, 60 * 1000) > 0)
			bell_heard(p.fd);
	}
	if (p.fd != -1)
		close(p.fd);
	json_decref(a->sent);
	a->sent = NULL;
	return rc;
}

int
cmd_due(int argc, char **argv)
{
	static const char *const map[] = { "--older-than=o", "--user=u",
	    "--settlement=s", "--retry-wait=w", "--follow=f", "--dry-run=n",
	    NULL };
	const char *syn = "due [-fhn] [-d dir] [-o duration] [-s id] [-u user] "
	    "[-w duration]";
	const char *home = NULL;
	struct due_arg a = { 0 };
	struct store st;
	int64_t older;
	size_t i;
	json_t *ch;
	int c, rc, follow = 0, dry = 0;

	a.cutoff = INT64_MAX;
	a.retry_ms = SETTLE_RETRY_MS;
	role_admin(&a.role, "due");
	long_opts(argc, argv, map);
	while ((c = getopt(argc, argv, "d:fhno:s:u:w:")) != -1) {
		switch (c) {
		case 'd': home = optarg; break;
		case 'f': follow = 1; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'n': dry = 1; break;
		case 'o':
			if (parse_duration(optarg, &older) == -1) {
				ms_warnx("-o %s: not a duration like 90s, 15m, 2h, 7d",
				    optarg);
				return cmd_usage(syn);
			}
			a.cutoff = ms_now_ms() - older;
			break;
		case 's': a.sett = optarg; break;
		case 'u': a.user = optarg; break;
		case 'w':
			if (parse_duration(optarg, &a.retry_ms) == -1) {
				ms_warnx("-w %s: not a duration like 90s, 15m, 2h, 7d",
				    optarg);
				return cmd_usage(syn);
			}
			break;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	if (dry && follow) {
		ms_warnx("due: -n and -f: a follower opens nothing to try");
		return cmd_usage(syn);
	}
	if (open_store(&st, home) == -1)
		return MS_EX_TEMPFAIL;
	if (replica_elsewhere(&st, "due")) {
		store_close(&st);
		return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
	}
	ms_sig_install(0);
	a.todo = json_array();
	a.held = json_array();
	if (follow) {
		a.charges = json_array();
		a.ended = json_array();
		rc = due_follow(&st, &a);
		store_close(&st);
		json_decref(a.todo);
		json_decref(a.charges);
		json_decref(a.held);
		json_decref(a.ended);
		if (rc != 0) {
			ms_warnx("due: %s", db_strerror(rc));
			return MS_EX_TEMPFAIL;
		}
		return ms_close_stdout() != 0 ? MS_EX_FAIL : MS_EX_OK;
	}
	rc = a.sett != NULL ? 0 : due_scan(&st, &a);
	if (dry) {
		if (rc == 0)
			rc = run_txn_dry(&st, due_dry, &a);
	} else {
		for (a.next = 0; rc == 0 &&
		    a.next < json_array_size(a.todo) && !ms_sig_stop;) {
			a.batch = a.next;
			a.batch_held = json_array_size(a.held);
			rc = run_txn(&st, due_open_batch, &a);
		}
		if (rc == 0)
			rc = run_txn(&st, due_emit, &a);
	}
	if (rc == 0 && !dry && json_array_size(a.ended) > 0)
		bell_ring(st.home, SETTLEMENT_BELL);	/* their devices wait */
	store_close(&st);
	json_decref(a.todo);
	if (rc != 0) {
		ms_warnx("due: %s", db_strerror(rc));
		json_decref(a.charges);
		return MS_EX_TEMPFAIL;
	}
	json_array_foreach(a.held, i, ch)
		ms_warnx("due: %s", json_string_value(ch));
	json_array_foreach(a.ended, i, ch)
		ms_warnx("due: %s", json_string_value(ch));
	json_array_foreach(a.charges, i, ch)
		ms_write_json(stdout, ch, 0);
	json_decref(a.charges);
	json_decref(a.held);
	json_decref(a.ended);
	if (ms_close_stdout() != 0)
		return MS_EX_FAIL;
	return a.overflow ? MS_EX_FAIL : MS_EX_OK;
}

/* ----- void and refund ----- */

struct fix_arg {
	struct role	 role;		/* admin:void@LOGIN or admin:refund@... */
	int64_t		 id;
	const char	*reason;
	int		 refund;
	char		 why[200];	/* refusal, if any */
};

static int
fix_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct fix_arg *a = arg;
	json_t *l, *cl;
	char id[32];
	const char *s;
	int64_t cid;
	int rc;

	a->why[0] = '\0';
	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	line_id_format(a->id, id, sizeof(id));
	if ((rc = line_get(st, txn, a->id, &l, 1)) == DB_NOTFOUND) {
		snprintf(a->why, sizeof(a->why), "%s: no such line", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	s = str(l, "state");
	if (!a->refund) {
		if (strcmp(s, "unpaid") != 0 && strcmp(s, "credit") != 0) {
			snprintf(a->why, sizeof(a->why), "%s is %s%s%s", id, s,
			    strcmp(s, "paid") == 0 ? ": use mscart refund" : "",
			    strcmp(s, "settling") == 0 ? ": settle it first" : "");
			json_decref(l);
			return 0;
		}
		json_object_set_new(l, "state", json_string("void"));
		if ((rc = line_put(st, txn, a->id, l)) == 0)
			rc = audit_add(st, txn, a->role.who, "void", json_pack(
			    "{s:s,s:s*,s:s}", "line", id, "reason", a->reason,
			    "owner", str(l, "owner")));
		json_decref(l);
		return rc;
	}
	if (strcmp(s, "paid") != 0 || num(l, "price") <= 0 ||
	    json_is_true(json_object_get(l, "credited"))) {
		snprintf(a->why, sizeof(a->why), "%s is %s%s", id,
		    json_is_true(json_object_get(l, "credited")) ?
		    "already credited" : s,
		    strcmp(s, "unpaid") == 0 ? ": use mscart void" : "");
		json_decref(l);
		return 0;
	}
	json_object_set_new(l, "credited", json_true());
	if ((rc = line_put(st, txn, a->id, l)) != 0) {
		json_decref(l);
		return rc;
	}
	cid = st->next_line++;
	cl = json_deep_copy(l);
	json_object_del(cl, "credited");
	line_id_format(cid, id, sizeof(id));
	json_object_set_new(cl, "id", json_string(id));
	json_object_set_new(cl, "price", json_integer(-num(l, "price")));
	json_object_set_new(cl, "state", json_string("credit"));
	json_object_set_new(cl, "settlement", json_null());
	json_object_del(cl, "event");
	json_object_set(cl, "credit_for", json_object_get(l, "id"));
	if ((rc = line_put(st, txn, cid, cl)) == 0 &&
	    (rc = owner_add(st, txn, str(cl, "owner"), cid)) == 0)
		rc = audit_add(st, txn, a->role.who, "refund", json_pack(
		    "{s:s,s:O,s:s*}", "line", id, "credit_for",
		    json_object_get(l, "id"), "reason", a->reason));
	json_decref(cl);
	json_decref(l);
	return rc;
}

static int
fix_cmd(int argc, char **argv, int refund)
{
	const char *syn = refund ? "refund [-h] [-d dir] [-m reason] line" :
	    "void [-h] [-d dir] [-m reason] line";
	const char *home = NULL;
	struct fix_arg a = { 0 };
	struct store st;
	int ch, rc;

	a.refund = refund;
	role_admin(&a.role, refund ? "refund" : "void");
	while ((ch = getopt(argc, argv, "d:hm:")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'm': a.reason = optarg; break;
		default: return cmd_usage(syn);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage(syn);
	if (line_id_parse(argv[optind], &a.id) == -1) {
		ms_warnx("%s: not a line id like L42", argv[optind]);
		return MS_EX_USAGE;
	}
	if (open_store(&st, home) == -1)
		return MS_EX_TEMPFAIL;
	if (replica_refuse_write(&st, argv[0])) {
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	rc = run_txn(&st, fix_txn, &a);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("%s: %s", argv[0], db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	if (a.why[0] != '\0') {
		ms_warnx("%s: %s", argv[0], a.why);
		return MS_EX_FAIL;
	}
	return MS_EX_OK;
}

int cmd_void(int argc, char **argv) { return fix_cmd(argc, argv, 0); }
int cmd_refund(int argc, char **argv) { return fix_cmd(argc, argv, 1); }

/* ----- report ----- */

/* A CSV field: quoted, its quotes doubled; empty for none. */
static const char *
csv_field(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	if (s == NULL || len < 3)
		return "";
	buf[n++] = '"';
	for (; *s && n + 3 < len; s++) {
		if (*s == '"')
			buf[n++] = '"';
		buf[n++] = *s;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

struct report_arg {
	const char	*by;
	json_t		*groups;
	int64_t		 from, to;	/* lines taken in [from, to) */
};

static void
report_line(json_t *l, void *arg)
{
	struct report_arg *a = arg;
	const char *g1, *owner = str(l, "owner"), *state = str(l, "state");
	char key[MS_CARD_MAX + MS_ID_MAX + 16], day[16];
	json_int_t price = num(l, "price");
	struct tm tm;
	json_t *g;
	int64_t v, ts;

	if (ms_time_parse(str(l, "ts"), &ts) != 0)
		ts = INT64_MIN;	/* an older line without one */
	if ((a->from != INT64_MIN && (ts == INT64_MIN || ts < a->from)) ||
	    (a->to != INT64_MAX && (ts == INT64_MIN || ts >= a->to)))
		return;
	if (strcmp(a->by, "product") == 0)
		g1 = str(l, "sku");
	else if (strcmp(a->by, "robot") == 0)
		g1 = str(l, "robot") ? str(l, "robot") : "-";
	else if (strcmp(a->by, "user") == 0)
		g1 = strncmp(owner, OWNER_USER, 2) == 0 ? owner + 2 : owner;
	else {
		/* the shop's day or month, not UTC's */
		if (ts == INT64_MIN || ms_shoptime_tm(ts, &tm) == -1 ||
		    strftime(day, sizeof(day), strcmp(a->by, "month") == 0 ?
		    "%Y-%m" : "%Y-%m-%d", &tm) == 0)
			snprintf(day, sizeof(day), "-");
		g1 = day;
	}
	snprintf(key, sizeof(key), "%s\t%s", g1, str(l, "currency"));
	if ((g = json_object_get(a->groups, key)) == NULL) {
		int64_t first = INT64_MAX;

		/* first: the group's oldest line, whose name it shows
		 * (report_merge()), left out of the output */
		if (str(l, "id") != NULL)
			line_id_parse(str(l, "id"), &first);
		g = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:I}", "by", a->by,
		    "key", g1, "currency", str(l, "currency"), "count", 0,
		    "amount", 0, "paid", 0, "unpaid", 0, "first",
		    (json_int_t)first);
		json_object_set_new(a->groups, key, g);
		if (strcmp(a->by, "product") == 0 && str(l, "name") != NULL)
			json_object_set(g, "name", json_object_get(l, "name"));
	}
	if (strcmp(state, "void") == 0)
		return;
	if (price > 0)
		json_object_set_new(g, "count", json_integer(num(g, "count") + 1));
	if (ms_money_add(num(g, "amount"), price, &v) == 0)
		json_object_set_new(g, "amount", json_integer(v));
	if (strcmp(state, "paid") == 0 &&
	    ms_money_add(num(g, "paid"), price, &v) == 0)
		json_object_set_new(g, "paid", json_integer(v));
	if (strcmp(state, "paid") != 0 &&
	    ms_money_add(num(g, "unpaid"), price, &v) == 0)
		json_object_set_new(g, "unpaid", json_integer(v));
}

void
report_group_line(const char *by, json_t *groups, json_t *line)
{
	struct report_arg a = { by, groups, INT64_MIN, INT64_MAX };

	report_line(line, &a);
}

void
report_merge(json_t *dst, json_t *src)
{
	static const char *const sums[] = { "count", "amount", "paid",
	    "unpaid", NULL };
	const char *key;
	json_t *g, *d;
	int64_t v;

	json_object_foreach(src, key, g) {
		if ((d = json_object_get(dst, key)) == NULL) {
			json_object_set_new(dst, key, json_deep_copy(g));
			continue;
		}
		for (const char *const *k = sums; *k; k++)
			if (ms_money_add(num(d, *k), num(g, *k), &v) == 0)
				json_object_set_new(d, *k, json_integer(v));
		if (num(g, "first") < num(d, "first")) {
			json_object_set(d, "first", json_object_get(g, "first"));
			if (json_object_get(g, "name") != NULL)
				json_object_set(d, "name",
				    json_object_get(g, "name"));
			else
				json_object_del(d, "name");
		}
	}
}

/* Users' names beside their ids (report -b user). */
static int
report_names(struct store *st, DB_TXN *txn, void *arg)
{
	json_t *groups = arg, *g, *u;
	const char *key;
	int rc;

	json_object_foreach(groups, key, g) {
		if (strncmp(key, OWNER_CARD, 2) == 0 ||
		    strncmp(key, OWNER_REVIEW, 2) == 0 || str(g, "key") == NULL)
			continue;
		rc = db_get_json(st->users, txn, str(g, "key"), &u, 0);
		if (rc == DB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (str(u, "name") != NULL)
			json_object_set(g, "name", json_object_get(u, "name"));
		json_decref(u);
	}
	return 0;
}

static int
report_scan(struct store *st, struct report_arg *a)
{
	int rc;

	for (int tries = 0;; tries++) {
		json_object_clear(a->groups);
		rc = store_lines_scan(st, report_line, a);
		if (rc == 0 || !store_retryable(rc) || tries >= 100)
			break;
	}
	return rc;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
cmd_report(int argc, char **argv)
{
	static const char *const longs[] = { "--from=f", "--to=t", NULL };
	const char *syn = "report [-ch] [-b by] [-d dir] [--from time] [--to time]";
	const char *home = NULL, *by = "product", *from = NULL, *to = NULL;
	struct report_arg a = { NULL, NULL, INT64_MIN, INT64_MAX };
	struct store st;
	json_t *groups;
	const char *key;
	json_t *g;
	char field[2 * MS_NAME_MAX * 4 + 3];
	int ch, csv = 0, rc;

	long_opts(argc, argv, longs);
	while ((ch = getopt(argc, argv, "b:cd:f:ht:")) != -1) {
		switch (ch) {
		case 'b': by = optarg; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'c': csv = 1; break;
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	if (strcmp(by, "product") != 0 && strcmp(by, "robot") != 0 &&
	    strcmp(by, "user") != 0 && strcmp(by, "day") != 0 &&
	    strcmp(by, "month") != 0) {
		ms_warnx("-b %s: must be product, robot, user, day or month", by);
		return cmd_usage(syn);
	}
	/* periods are the shop's: a date is its midnight, in its zone */
	ms_shoptime_init();
	if (from != NULL && ms_shoptime_parse(from, &a.from) == -1) {
		ms_warnx("--from %s: not a date (2026-12-01) or local time "
		    "(2026-12-01T09:30)", from);
		return MS_EX_USAGE;
	}
	if (to != NULL && ms_shoptime_parse(to, &a.to) == -1) {
		ms_warnx("--to %s: not a date (2026-12-01) or local time "
		    "(2026-12-01T09:30)", to);
		return MS_EX_USAGE;
	}
	if (open_store(&st, home) == -1)
		return MS_EX_TEMPFAIL;
	replica_read_note(&st, "report");
	groups = json_object();
	a.by = by;
	a.groups = groups;
	rc = report_scan(&st, &a);
	/* the lines mscart archive moved out count as they did before */
	if (rc == 0)
		rc = archive_report_add(&st, by, a.from, a.to, groups);
	if (rc == 0 && strcmp(by, "user") == 0)
		rc = run_txn(&st, report_names, groups);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("report: %s", db_strerror(rc));
		json_decref(groups);
		return MS_EX_TEMPFAIL;
	}
	if (csv)
		printf("by,key,currency,count,amount,paid,unpaid,name\n");
	/* keys are "group\tcurrency": sort for a stable report */
	{
		size_t n = json_object_size(groups), i = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));

		json_object_foreach(groups, key, g)
			keys[i++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 0; i < n; i++) {
			g = json_object_get(groups, keys[i]);
			json_object_del(g, "first");
			if (csv)
				printf("%s,\"%s\",%s,%lld,%lld,%lld,%lld,%s\n",
				    by, str(g, "key"), str(g, "currency"),
				    (long long)num(g, "count"),
				    (long long)num(g, "amount"),
				    (long long)num(g, "paid"),
				    (long long)num(g, "unpaid"),
				    csv_field(str(g, "name"), field,
				    sizeof(field)));
			else
				ms_write_json(stdout, g, 0);
		}
		free(keys);
	}
	json_decref(groups);
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}
