/*
 * cmd_stock.c: the counted stock of the robots' slots: stock [-l level]
 * [robot] prints it (the low ones only, for the person who refills), and
 * restock robot slot count sets a slot's level by hand, audited, as a
 * robot's restock event does (stock.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A whole count from 0 to MS_STOCK_MAX; -1 otherwise. */
static int64_t
parse_count(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > MS_STOCK_MAX)
		return -1;
	return v;
}

int
cmd_stock(int argc, char **argv)
{
	const char *syn = "stock [-Hh] [-d dir] [-l level] [robot]";
	const char *home = NULL, *robot = NULL, *key, *sku;
	struct store st;
	json_t *stock = NULL, *products = NULL, *r, *p;
	int64_t low = -1;
	char t[64];
	int ch, human = 0, rc = 0;

	while ((ch = getopt(argc, argv, "Hd:hl:")) != -1) {
		switch (ch) {
		case 'H': human = 1; break;
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'l':
			if ((low = parse_count(optarg)) < 0) {
				ms_warnx("-l %s: want a number of items from 0 "
				    "to %d", optarg, MS_STOCK_MAX);
				return cmd_usage(syn);
			}
			break;
		default: return cmd_usage(syn);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		return cmd_usage(syn);
	if (argc == 1) {
		robot = argv[0];
		if (!ms_id_valid(robot)) {
			ms_warnx("%s: not a robot id", robot);
			return cmd_usage(syn);
		}
	}
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	for (int tries = 0;; tries++) {
		json_decref(stock);
		json_decref(products);
		stock = json_object();
		products = json_object();
		if ((rc = store_as_object(&st, st.stock, stock)) == 0)
			rc = store_as_object(&st, st.products, products);
		if (rc == 0 || !store_retryable(rc) || tries >= 100)
			break;
	}
	store_close(&st);
	if (rc != 0) {
		ms_warnx("stock: %s", db_strerror(rc));
		json_decref(stock);
		json_decref(products);
		return MS_EX_TEMPFAIL;
	}
	if (human) {
		ms_shoptime_init();
		printf("%-16s %-8s %-16s %-24s %6s %s\n", "ROBOT", "SLOT",
		    "SKU", "NAME", "COUNT", "RESTOCKED");
	}
	/* jansson keeps no order: the keys sort by robot, then slot */
	{
		const char **keys;
		size_t n = json_object_size(stock), i = 0;

		if ((keys = calloc(n + 1, sizeof(*keys))) == NULL)
			ms_err(MS_EX_FAIL, "calloc");
		json_object_foreach(stock, key, r)
			keys[i++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 0; i < n; i++) {
			json_t *o;

			r = json_object_get(stock, keys[i]);
			if (robot != NULL && strcmp(str(r, "robot"), robot) != 0)
				continue;
			if (low >= 0 && num(r, "count") > low)
				continue;
			sku = str(r, "sku");
			p = json_object_get(products, sku);
			if (human) {
				ms_shoptime_format(str(r, "restocked"), t,
				    sizeof(t));
				printf("%-16s %-8s %-16s %-24s %6lld %s\n",
				    str(r, "robot"), str(r, "slot"), sku,
				    p != NULL ? str(p, "name") : "-",
				    (long long)num(r, "count"), t);
				continue;
			}
			o = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "robot",
			    json_object_get(r, "robot"), "slot",
			    json_object_get(r, "slot"), "sku",
			    json_object_get(r, "sku"), "name", p != NULL ?
			    json_object_get(p, "name") : json_null(), "count",
			    json_object_get(r, "count"), "restocked",
			    json_object_get(r, "restocked"), "by",
			    json_object_get(r, "by"));
			if (o != NULL)
				ms_write_json(stdout, o, 0);
			json_decref(o);
		}
		free(keys);
	}
	json_decref(stock);
	json_decref(products);
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}

struct hand_restock {
	struct restock	 r;
	struct role	 role;
	char		 ts[MS_TIME_LEN];
	char		 why[300];	/* refused: why; empty when done */
};

static int
restock_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct hand_restock *h = arg;
	json_t *rec = NULL, *p = NULL;
	int rc;

	h->why[0] = '\0';
	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	if (h->r.sku == NULL) {
		rc = stock_get(st, txn, h->r.robot, h->r.slot, &rec, 1);
		if (rc == DB_NOTFOUND) {
			snprintf(h->why, sizeof(h->why), "%s %s: never "
			    "restocked: say which sku it holds (-s sku)",
			    h->r.robot, h->r.slot);
			return 0;
		}
		json_decref(rec);
		if (rc != 0)
			return rc;
	} else {
		rc = db_get_json(st->products, txn, h->r.sku, &p, 0);
		if (rc == DB_NOTFOUND) {
			snprintf(h->why, sizeof(h->why), "%s: no such product "
			    "(import it first)", h->r.sku);
			return 0;
		}
		json_decref(p);
		if (rc != 0)
			return rc;
	}
	return stock_set(st, txn, &h->r);
}

int
cmd_restock(int argc, char **argv)
{
	const char *syn = "restock [-h] [-d dir] [-s sku] robot slot count";
	const char *home = NULL;
	struct hand_restock h;
	struct store st;
	int ch, rc;

	memset(&h, 0, sizeof(h));
	while ((ch = getopt(argc, argv, "d:hs:")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 's': h.r.sku = optarg; break;
		default: return cmd_usage(syn);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		return cmd_usage(syn);
	h.r.robot = argv[0];
	h.r.slot = argv[1];
	if (!ms_id_valid(h.r.robot) || !ms_id_valid(h.r.slot) ||
	    (h.r.sku != NULL && !ms_id_valid(h.r.sku))) {
		ms_warnx("%s: not an id (1 to %d letters, digits or . _ - @)",
		    !ms_id_valid(h.r.robot) ? h.r.robot :
		    !ms_id_valid(h.r.slot) ? h.r.slot : h.r.sku, MS_ID_MAX);
		return cmd_usage(syn);
	}
	if ((h.r.count = parse_count(argv[2])) < 0) {
		ms_warnx("%s: want a number of items from 0 to %d", argv[2],
		    MS_STOCK_MAX);
		return cmd_usage(syn);
	}
	role_admin(&h.role, "restock");
	ms_time_format(ms_now_ms(), h.ts);
	h.r.ts = h.ts;
	h.r.who = h.role.who;
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	if (replica_refuse_write(&st, "restock")) {
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	rc = run_txn(&st, restock_txn, &h);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("restock: %s", db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	if (h.why[0] != '\0') {
		ms_warnx("%s", h.why);
		return MS_EX_FAIL;
	}
	return MS_EX_OK;
}
