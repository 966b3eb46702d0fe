/*
 * cmd_list.c: mscart list, what the ledger holds, one kind at a time:
 * users, products, cards, robots, the review queue, settlements and the
 * credits users have not used.
 * NDJSON by default (one record a line, as stored), -H a table for
 * people.  Each list is read in one read-committed scan and written
 * after it, so a retried scan never prints twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "mscart.h"
#include "shoptime.h"

/* users.db, products.db: the stored JSON record. */
static void
add_record(const DBT *k, const DBT *d, void *arg)
{
	json_t *out = arg;
	json_t *v;

	(void)k;
	if ((v = json_loadb(d->data, d->size, 0, NULL)) != NULL)
		json_array_append_new(out, v);
}

/* cards.db: token -> user. */
static void
add_card(const DBT *k, const DBT *d, void *arg)
{
	json_t *out = arg;
	json_array_append_new(out, json_pack("{s:s%,s:s%}", "card",
	    (const char *)k->data, (size_t)k->size, "user",
	    (const char *)d->data, (size_t)d->size));
}

static void
add_settlement(const DBT *k, const DBT *d, void *arg)
{
	json_t *out = arg;
	json_t *v;

	(void)k;
	if ((v = json_loadb(d->data, d->size, 0, NULL)) != NULL) {
		json_array_append_new(out, settlement_message(v));
		json_decref(v);
	}
}

struct review {
	json_t	*out;
	json_t	*stock;		/* "robot slot" -> stock record */
};

/*
 * The review queue: the takes nobody's card was on, and the takes beyond
 * a slot's counted stock until the slot is restocked (counted again),
 * still to decide: not void.
 */
static void
add_review(json_t *l, void *arg)
{
	struct review *r = arg;
	char key[2 * MS_ID_MAX + 2];
	json_t *s;
	int64_t id;

	if (strcmp(str(l, "state"), "void") == 0)
		return;
	if (strcmp(str(l, "owner"), OWNER_REVIEW) == 0) {
		json_array_append(r->out, l);
		return;
	}
	if (str(l, "review") == NULL || str(l, "robot") == NULL ||
	    str(l, "slot") == NULL)
		return;
	snprintf(key, sizeof(key), "%s %s", str(l, "robot"), str(l, "slot"));
	s = json_object_get(r->stock, key);
	if (s == NULL || line_id_parse(str(l, "id"), &id) != 0 ||
	    id >= num(s, "after_line"))
		json_array_append(r->out, l);
}

/*
 * Credits: per user and currency the unused credit (lines in state
 * credit), how many, the oldest one's time, and the user's last take in
 * any currency, so that credit nobody will use (a user who stopped
 * buying) shows.  Keyed "user currency" while scanning.
 */
struct credit_scan {
	json_t	*rows;		/* "user currency" -> row */
	json_t	*last;		/* user -> newest take's ts */
};

static void
add_credit(json_t *l, void *arg)
{
	struct credit_scan *cs = arg;
	const char *owner = str(l, "owner"), *state = str(l, "state");
	const char *ts = str(l, "ts"), *cur = str(l, "currency"), *old;
	char key[MS_ID_MAX + 16];
	int64_t sum;
	json_t *row;

	if (owner == NULL || strncmp(owner, OWNER_USER, 2) != 0 ||
	    state == NULL || ts == NULL || cur == NULL)
		return;
	owner += 2;
	if (strcmp(state, "credit") != 0) {
		/* a take (not void, not a credit) */
		if (strcmp(state, "void") == 0 || num(l, "price") < 0 ||
		    json_object_get(l, "credit_for") != NULL)
			return;
		old = str(cs->last, owner);
		if (old == NULL || strcmp(ts, old) > 0)
			json_object_set_new(cs->last, owner, json_string(ts));
		return;
	}
	snprintf(key, sizeof(key), "%s %s", owner, cur);
	if ((row = json_object_get(cs->rows, key)) == NULL) {
		row = json_pack("{s:s,s:s,s:I,s:i,s:s}", "user", owner,
		    "currency", cur, "credit", (json_int_t)0, "lines", 0,
		    "since", ts);
		json_object_set_new(cs->rows, key, row);
	}
	/* a credit's price is negative: the credit is what it gives back */
	if (ms_money_sub(num(row, "credit"), num(l, "price"), &sum) == -1)
		json_object_set_new(row, "overflow", json_true());
	else
		json_object_set_new(row, "credit", json_integer(sum));
	json_object_set_new(row, "lines", json_integer(num(row, "lines") + 1));
	if (strcmp(ts, str(row, "since")) < 0)
		json_object_set_new(row, "since", json_string(ts));
}

static int
by_since(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(str(x, "since"), str(y, "since"));

	return c != 0 ? c : strcmp(str(x, "user"), str(y, "user"));
}

/* The rows of a credit scan, oldest credit first, with status and last take. */
static int
credits(struct store *st, json_t *out)
{
	struct credit_scan cs;
	json_t *row, *u, **v;
	const char *k;
	size_t n = 0, i;
	int rc;

	cs.rows = json_object();
	cs.last = json_object();
	if ((rc = store_lines_scan(st, add_credit, &cs)) != 0)
		goto out;
	if ((v = calloc(json_object_size(cs.rows) + 1, sizeof(*v))) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	json_object_foreach(cs.rows, k, row)
		v[n++] = row;
	qsort(v, n, sizeof(*v), by_since);
	for (i = 0; i < n; i++) {
		row = json_deep_copy(v[i]);
		json_object_set(row, "last_take", json_object_get(cs.last,
		    str(row, "user")) ? json_object_get(cs.last, str(row,
		    "user")) : json_null());
		u = NULL;
		if (db_get_json(st->users, NULL, str(row, "user"), &u, 0) == 0 &&
		    str(u, "status") != NULL)
			json_object_set(row, "status", json_object_get(u, "status"));
		else
			json_object_set_new(row, "status", json_string(u ?
			    "active" : "unknown"));
		json_decref(u);
		json_array_append_new(out, row);
	}
	free(v);
out:
	json_decref(cs.rows);
	json_decref(cs.last);
	return rc;
}

static const char *
text(const json_t *o, const char *k)
{
	const char *s = str(o, k);

	return s != NULL ? s : "-";
}

static void
money(const json_t *o, const char *amount, char *buf, size_t len)
{
	const char *cur = str(o, "currency");

	if (json_object_get(o, amount) == NULL || cur == NULL ||
	    ms_money_format(num(o, amount), cur, buf, len) == -1)
		snprintf(buf, len, "-");
}

static void
table(const char *kind, const json_t *rows)
{
	char a[64], t[64];
	size_t i;
	json_t *r;

	if (strcmp(kind, "users") == 0) {
		printf("%-16s %-24s %-9s %5s %18s\n", "USER", "NAME", "STATUS",
		    "CARDS", "LIMIT");
		json_array_foreach(rows, i, r) {
			if (json_object_get(r, "limit") != NULL)
				money(r, "limit", a, sizeof(a));
			else
				snprintf(a, sizeof(a), "-");
			printf("%-16s %-24s %-9s %5zu %18s\n", text(r, "user"),
			    text(r, "name"), text(r, "status"),
			    json_array_size(json_object_get(r, "cards")), a);
		}
	} else if (strcmp(kind, "products") == 0) {
		printf("%-16s %-32s %14s %s\n", "SKU", "NAME", "PRICE", "ACTIVE");
		json_array_foreach(rows, i, r) {
			money(r, "price", a, sizeof(a));
			printf("%-16s %-32s %14s %s\n", text(r, "sku"),
			    text(r, "name"), a, json_is_false(json_object_get(r,
			    "active")) ? "no" : "yes");
		}
	} else if (strcmp(kind, "cards") == 0) {
		printf("%-40s %s\n", "CARD", "USER");
		json_array_foreach(rows, i, r)
			printf("%-40s %s\n", text(r, "card"), text(r, "user"));
	} else if (strcmp(kind, "robots") == 0) {
		printf("%-16s %10s %10s %5s\n", "ROBOT", "EVENTS", "LAST SEQ",
		    "RUNS");
		json_array_foreach(rows, i, r)
			printf("%-16s %10lld %10lld %5lld\n", text(r, "robot"),
			    (long long)num(r, "events"),
			    (long long)num(r, "last_seq"),
			    (long long)num(r, "runs"));
	} else if (strcmp(kind, "review") == 0) {
		printf("%-8s %-24s %-12s %-6s %-16s %12s %-8s %s\n", "LINE",
		    "WHEN", "EVENT", "SLOT", "SKU", "PRICE", "STATE", "WHY");
		json_array_foreach(rows, i, r) {
			money(r, "price", a, sizeof(a));
			ms_shoptime_format(str(r, "ts"), t, sizeof(t));
			printf("%-8s %-24s %-12s %-6s %-16s %12s %-8s %s\n",
			    text(r, "id"), t, text(r, "event"), text(r, "slot"),
			    text(r, "sku"), a, text(r, "state"),
			    strcmp(str(r, "owner"), OWNER_REVIEW) == 0 ?
			    "no card" : "beyond stock");
		}
	} else if (strcmp(kind, "credits") == 0) {
		printf("%-16s %14s %5s %-24s %-24s %s\n", "USER", "CREDIT",
		    "LINES", "SINCE", "LAST TAKE", "STATUS");
		json_array_foreach(rows, i, r) {
			char l[64];

			money(r, "credit", a, sizeof(a));
			ms_shoptime_format(str(r, "since"), t, sizeof(t));
			if (str(r, "last_take") != NULL)
				ms_shoptime_format(str(r, "last_take"), l,
				    sizeof(l));
			else
				snprintf(l, sizeof(l), "-");
			printf("%-16s %14s %5lld %-24s %-24s %s\n",
			    text(r, "user"), a, (long long)num(r, "lines"), t,
			    l, text(r, "status"));
		}
	} else {
		printf("%-20s %-16s %14s %-9s %s\n", "SETTLEMENT", "USER",
		    "AMOUNT", "STATE", "CREATED");
		json_array_foreach(rows, i, r) {
			money(r, "amount", a, sizeof(a));
			ms_shoptime_format(str(r, "created"), t, sizeof(t));
			printf("%-20s %-16s %14s %-9s %s\n",
			    text(r, "settlement"), text(r, "user"), a,
			    text(r, "state"), t);
		}
	}
}

int
cmd_list(int argc, char **argv)
{
	const char *syn = "list [-Hh] [-d dir] "
	    "users | products | cards | robots | review | settlements | credits";
	const char *home = NULL, *kind;
	struct store st;
	json_t *rows, *r;
	size_t i;
	int ch, human = 0, rc;

	while ((ch = getopt(argc, argv, "Hd:h")) != -1) {
		switch (ch) {
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
	kind = argv[0];
	if (strcmp(kind, "users") != 0 && strcmp(kind, "products") != 0 &&
	    strcmp(kind, "cards") != 0 && strcmp(kind, "robots") != 0 &&
	    strcmp(kind, "review") != 0 && strcmp(kind, "settlements") != 0 &&
	    strcmp(kind, "credits") != 0) {
		ms_warnx("list %s: want users, products, cards, robots, review, "
		    "settlements or credits", kind);
		return cmd_usage(syn);
	}
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	for (int tries = 0;; tries++) {
		rows = json_array();
		if (strcmp(kind, "users") == 0)
			rc = store_each(&st, st.users, NULL, add_record, rows);
		else if (strcmp(kind, "products") == 0)
			rc = store_each(&st, st.products, NULL, add_record, rows);
		else if (strcmp(kind, "cards") == 0)
			rc = store_each(&st, st.cards, NULL, add_card, rows);
		else if (strcmp(kind, "robots") == 0)
			rc = store_each(&st, st.events, NULL, events_robot_add, rows);
		else if (strcmp(kind, "settlements") == 0)
			rc = store_each(&st, st.settlements, NULL, add_settlement, rows);
		else if (strcmp(kind, "credits") == 0)
			rc = credits(&st, rows);
		else {
			struct review r;

			r.out = rows;
			r.stock = json_object();
			if ((rc = store_as_object(&st, st.stock,
			    r.stock)) == 0)
				rc = store_lines_scan(&st, add_review, &r);
			json_decref(r.stock);
		}
		if (rc == 0 || !store_retryable(rc) || tries >= 100)
			break;
		json_decref(rows);
	}
	store_close(&st);
	if (rc != 0) {
		ms_warnx("list %s: %s", kind, db_strerror(rc));
		json_decref(rows);
		return MS_EX_TEMPFAIL;
	}
	if (human) {
		ms_shoptime_init();
		table(kind, rows);
	}
	else
		json_array_foreach(rows, i, r)
			ms_write_json(stdout, r, 0);
	json_decref(rows);
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}
