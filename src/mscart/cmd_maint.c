/*
 * cmd_maint.c: looking after the environment: making a ledger, the audit
 * log and verification (backups and restores are in backup.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

/* ----- init ----- */

/*
 * The one command that makes a new ledger (import -c aside): everything
 * else refuses a directory without one.  An existing ledger is left as
 * it is, so init can start every script that sets up a shop.
 */
int
cmd_init(int argc, char **argv)
{
	const char *syn = "init [-ch] [-d dir] [-P priority] [-p host:port] "
	    "[-s host:port]";
	const char *home = NULL, *site = NULL;
	char *peers[64], *end;
	size_t npeers = 0;
	struct store st;
	long priority = 100;
	int ch, creator = 0;

	while ((ch = getopt(argc, argv, "cd:hP:p:s:")) != -1) {
		switch (ch) {
		case 'c': creator = 1; break;
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'P':
			errno = 0;
			priority = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    priority < 0 || priority > 1000000) {
				ms_warnx("init: -P %s: not a priority (0 to "
				    "1000000)", optarg);
				return cmd_usage(syn);
			}
			break;
		case 'p':
			if (npeers == sizeof(peers) / sizeof(peers[0])) {
				ms_warnx("init: more than %zu -p", npeers);
				return cmd_usage(syn);
			}
			peers[npeers++] = optarg;
			break;
		case 's': site = optarg; break;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc || (site == NULL && (creator || npeers > 0)))
		return cmd_usage(syn);
	if (site == NULL) {
		if (store_open(&st, store_ledger(home, 1), 0) != 0)
			return MS_EX_FAIL;
		store_close(&st);
		return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
	}
	if (!creator && npeers == 0) {
		ms_warnx("init: -s without -p: a site that does not start the "
		    "group (-c) needs a peer to join through");
		return cmd_usage(syn);
	}
	home = store_ledger(home, 1);
	if (replica_configure(home, site, peers, npeers, (int)priority,
	    creator) == -1)
		return MS_EX_FAIL;
	if (creator)
		return replica_create(home) == 0 ? MS_EX_OK : MS_EX_TEMPFAIL;
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}

/* ----- log ----- */

/* The K of a record of takes (see AUDIT_TAKES_TAG), or -1 for another. */
static long
takes_count(const DBT *d)
{
	static const char tag[] = AUDIT_TAKES_TAG;
	const char *p = d->data;
	size_t len = d->size < 256 ? d->size : 256, tl = sizeof(tag) - 1;

	/* the tag is in the head, which audit_flush() writes */
	for (size_t i = 0; i + tl < len; i++)
		if (p[i] == '"' && memcmp(p + i, tag, tl) == 0)
			return strtol(p + i + tl, NULL, 10);
	return -1;
}

/* How many entries an audit record stands for. */
static long
audit_entries(const DBT *d)
{
	long k = takes_count(d);

	return k < 0 ? 1 : k;
}

/* What log prints: the filters (-u, --from, --to) and where. */
struct log_arg {
	struct store	*st;
	DB_TXN		*txn;
	const char	*user;		/* -u: entries about this user */
	int64_t		 from, to;	/* entries made in [from, to) */
	long		 count;		/* -n with a filter: the last count */
	json_t		*kept;		/* ... of the entries that pass */
};

static int
log_filtered(const struct log_arg *a)
{
	return a->user != NULL || a->from != INT64_MIN || a->to != INT64_MAX;
}

/* Is entry e about a->user, made in the period? */
static int
log_match(const struct log_arg *a, const json_t *e)
{
	const char *owner = str(e, "owner");
	const json_t *rec = json_object_get(e, "record");
	int64_t ts;

	if ((a->from != INT64_MIN || a->to != INT64_MAX) &&
	    (ms_time_parse(str(e, "ts"), &ts) != 0 || ts < a->from ||
	    ts >= a->to))
		return 0;
	if (a->user == NULL)
		return 1;
	return (str(e, "user") != NULL && strcmp(str(e, "user"), a->user) == 0) ||
	    (owner != NULL && strncmp(owner, OWNER_USER, 2) == 0 &&
	    strcmp(owner + 2, a->user) == 0) ||
	    (json_is_object(rec) && str(rec, "user") != NULL &&
	    strcmp(str(rec, "user"), a->user) == 0);
}

/* Print e, or keep it for the end (a filter with -n); takes e. */
static void
log_emit(struct log_arg *a, json_t *e)
{
	char *s;

	if (log_filtered(a)) {
		if (!log_match(a, e)) {
			json_decref(e);
			return;
		}
		if (a->count > 0) {
			json_array_append_new(a->kept, e);
			if ((long)json_array_size(a->kept) > a->count)
				json_array_remove(a->kept, 0);
			return;
		}
	}
	if ((s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		ms_write_raw(stdout, s, strlen(s), 0);
	free(s);
	json_decref(e);
}

/*
 * Print an audit record's entries from the skip-th on: a record of takes
 * as one line per take, {"n":...,"ts":...,"who":...,"what":"take",...},
 * with the sku of the take's line.
 */
static void
audit_print(struct log_arg *a, const DBT *d, long skip)
{
	json_t *rec, *takes, *t, *e, *l;
	json_int_t n;
	int64_t id;
	size_t i;

	if (takes_count(d) < 0 && !log_filtered(a)) {
		ms_write_raw(stdout, d->data, d->size, 0);
		return;
	}
	if ((rec = json_loadb(d->data, d->size, JSON_PRESERVE_ORDER,
	    NULL)) == NULL) {
		if (!log_filtered(a))
			ms_write_raw(stdout, d->data, d->size, 0);
		return;
	}
	if (!json_is_array(takes = json_object_get(rec, "takes"))) {
		log_emit(a, rec);
		return;
	}
	n = json_integer_value(json_object_get(rec, "n"));
	json_array_foreach(takes, i, t) {
		if ((long)i < skip)
			continue;
		e = json_pack("{s:I,s:O,s:O,s:s}", "n", n + (json_int_t)i, "ts",
		    json_object_get(rec, "ts"), "who", json_object_get(rec, "who"),
		    "what", "take");
		json_object_update(e, t);
		if (json_object_get(e, "sku") == NULL && str(e, "line") != NULL &&
		    line_id_parse(str(e, "line"), &id) == 0 &&
		    line_get(a->st, a->txn, id, &l, 0) == 0) {
			if (str(l, "sku") != NULL)
				json_object_set(e, "sku", json_object_get(l, "sku"));
			json_decref(l);
		}
		log_emit(a, e);
	}
	json_decref(rec);
}

int
cmd_log(int argc, char **argv)
{
	const char *syn = "log [-h] [-d dir] [-n count] [-u user] [--from time] "
	    "[--to time]";
	const char *home = NULL, *from = NULL, *to = NULL;
	struct log_arg a = { NULL, NULL, NULL, INT64_MIN, INT64_MAX, 0, NULL };
	struct store st;
	DB_TXN *txn;
	DBC *c;
	DBT k, d;
	long count = -1, skip = 0;
	size_t i;
	json_t *e;
	int ch, rc;

	for (int i = 1; i < argc; i++) {	/* --from, --to: -f, -t */
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--from") == 0)
			argv[i] = "-f";
		else if (strcmp(argv[i], "--to") == 0)
			argv[i] = "-t";
	}
	while ((ch = getopt(argc, argv, "d:f:hn:t:u:")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'u':
			if (!ms_id_valid(optarg)) {
				ms_warnx("-u %s: not a user id", optarg);
				return cmd_usage(syn);
			}
			a.user = optarg;
			break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'n':
			if (ms_parse_long(optarg, 1, LONG_MAX, &count) == -1) {
				ms_warnx("-n %s: not a positive count", optarg);
				return cmd_usage(syn);
			}
			break;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	ms_shoptime_init();	/* a period is the shop's */
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
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	replica_read_note(&st, "log");
	if ((rc = store_scan_begin(&st, st.audit, &txn, &c)) != 0)
		goto out;
	a.st = &st;
	a.txn = txn;
	if (log_filtered(&a)) {
		/* the last count entries that pass: all of them are read */
		a.count = count;
		a.kept = json_array();
		count = -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	rc = 0;
	if (count > 0) {
		/* step back count entries from the end, then print forward */
		long n = 0;

		for (rc = c->get(c, &k, &d, DB_LAST); rc == 0 &&
		    (n += audit_entries(&d)) < count;
		    rc = c->get(c, &k, &d, DB_PREV))
			;
		if (rc == DB_NOTFOUND)
			rc = c->get(c, &k, &d, DB_FIRST);
		else if (n > count)
			skip = n - count;
	} else
		rc = c->get(c, &k, &d, DB_FIRST);
	for (; rc == 0; rc = c->get(c, &k, &d, DB_NEXT)) {
		audit_print(&a, &d, skip);
		skip = 0;
	}
	if (a.kept != NULL) {
		a.count = 0;
		a.user = NULL;
		a.from = INT64_MIN;
		a.to = INT64_MAX;
		json_array_foreach(a.kept, i, e)
			log_emit(&a, json_incref(e));
		json_decref(a.kept);
	}
	free(k.data);
	free(d.data);
	c->close(c);
	txn->commit(txn, 0);
	if (rc == DB_NOTFOUND)
		rc = 0;
out:
	store_close(&st);
	if (rc != 0) {
		ms_warnx("log: %s", db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
}

/* ----- verify ----- */

struct verify_arg {
	long	problems;
	long	lines, settlements;
	int	archived;	/* mscart archive moved lines out */
};

#define PROBLEM(a, ...) do { ms_warnx("verify: " __VA_ARGS__); (a)->problems++; } while (0)

static int
verify_lines(struct store *st, DB_TXN *txn, struct verify_arg *a)
{
	DBC *c;
	DBT k, d;
	json_t *l, *s;
	int rc;

	if ((rc = st->lines->cursor(st->lines, txn, &c, 0)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0) {
		const char *id, *state, *sid;

		a->lines++;
		if ((l = line_decode(d.data, d.size)) == NULL) {
			PROBLEM(a, "a line record is not JSON");
			continue;
		}
		id = str(l, "id");
		state = str(l, "state");
		sid = str(l, "settlement");
		if (str(l, "owner") == NULL || k.size != 8 ||
		    (rc = owner_has(st, txn, str(l, "owner"),
		    ms_be64_get(k.data))) == DB_NOTFOUND)
			PROBLEM(a, "line %s is missing from its owner's index", id);
		else if (rc != 0) {
			json_decref(l);
			break;
		}
		if (state == NULL || id == NULL)
			PROBLEM(a, "a line has no id or state");
		else if (strcmp(state, "settling") == 0 || (strcmp(state, "paid") == 0 &&
		    sid != NULL)) {
			if (sid == NULL)
				PROBLEM(a, "line %s is settling without a settlement", id);
			else if ((rc = db_get_json(st->settlements, txn, sid, &s, 0)) != 0) {
				if (rc != DB_NOTFOUND) {
					json_decref(l);
					break;
				}
				PROBLEM(a, "line %s names missing settlement %s", id, sid);
			} else {
				const char *ss = str(s, "state");

				/* a settlement held for review keeps its lines */
				if (strcmp(state, "settling") == 0 && strcmp(ss, "open") != 0 &&
				    strcmp(ss, "review") != 0)
					PROBLEM(a, "line %s is settling but %s is %s",
					    id, sid, ss);
				if (strcmp(state, "paid") == 0 && strcmp(ss, "paid") != 0 &&
				    strcmp(ss, "closed") != 0)
					PROBLEM(a, "line %s is paid but %s is %s",
					    id, sid, ss);
				json_decref(s);
			}
		}
		json_decref(l);
		rc = 0;
	}
	free(k.data);
	free(d.data);
	c->close(c);
	return rc == DB_NOTFOUND ? 0 : rc;
}

static int
verify_settlements(struct store *st, DB_TXN *txn, struct verify_arg *a)
{
	DBC *c;
	DBT k, d;
	json_t *s, *l, *v;
	char okey[MS_ID_MAX + 8], sid[64];
	size_t i;
	int rc;

	if ((rc = st->settlements->cursor(st->settlements, txn, &c, 0)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0) {
		int64_t sum = 0;
		const char *id, *state;

		a->settlements++;
		if ((s = json_loadb(d.data, d.size, 0, NULL)) == NULL) {
			PROBLEM(a, "a settlement record is not JSON");
			continue;
		}
		id = str(s, "settlement");
		state = str(s, "state");
		json_array_foreach(json_object_get(s, "line_ids"), i, v) {
			if ((rc = line_get(st, txn, json_integer_value(v), &l, 0)) != 0)
				break;
			ms_money_add(sum, num(l, "price"), &sum);
			json_decref(l);
		}
		/*
		 * A settlement that stayed when an archive moved its lines
		 * (one of them changed meanwhile: kept) names lines that are
		 * in the archive's file.
		 */
		if (rc == DB_NOTFOUND && a->archived &&
		    strcmp(state, "open") != 0 && strcmp(state, "review") != 0) {
			json_decref(s);
			rc = 0;
			continue;
		}
		if (rc == DB_NOTFOUND) {
			PROBLEM(a, "settlement %s names a missing line", id);
			rc = 0;
		} else if (rc != 0) {
			json_decref(s);
			break;
		}
		if (sum != num(s, "amount"))
			PROBLEM(a, "settlement %s: amount %lld but its lines add up "
			    "to %lld", id, (long long)num(s, "amount"),
			    (long long)sum);
		if ((size_t)num(s, "lines") != json_array_size(json_object_get(s,
		    "line_ids")))
			PROBLEM(a, "settlement %s: line count differs", id);
		snprintf(okey, sizeof(okey), "%s %s", str(s, "user"),
		    str(s, "currency"));
		rc = db_get_str(st->opens, txn, okey, sid, sizeof(sid));
		if (rc != 0 && rc != DB_NOTFOUND) {
			json_decref(s);
			break;
		}
		if ((strcmp(state, "open") == 0) != (rc == 0 && strcmp(sid, id) == 0))
			PROBLEM(a, "settlement %s is %s but the open index %s", id,
			    state, rc == 0 ? "names it" : "does not");
		rc = 0;
		json_decref(s);
	}
	free(k.data);
	free(d.data);
	c->close(c);
	return rc == DB_NOTFOUND ? 0 : rc;
}

static int
verify_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct verify_arg *a = arg;
	char buf[32];
	int rc;

	memset(a, 0, sizeof(*a));
	rc = db_get_str(st->meta, txn, "archive:next", buf, sizeof(buf));
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	a->archived = rc == 0;
	if ((rc = verify_lines(st, txn, a)) != 0)
		return rc;
	return verify_settlements(st, txn, a);
}

/*
 * Verify the ledger in home: the summary on stderr; the number of
 * problems, or -1 when the ledger could not be read.
 */
long
verify_ledger(const char *home)
{
	struct verify_arg a;
	struct store st;
	int rc;

	if (store_open(&st, home, 0) != 0)
		return -1;
	rc = run_txn(&st, verify_txn, &a);
	/* flush every page so the file check below sees a whole database */
	st.env->txn_checkpoint(st.env, 0, 0, DB_FORCE);
	st.env->memp_sync(st.env, NULL);
	store_close(&st);
	if (rc != 0) {
		ms_warnx("verify: %s", db_strerror(rc));
		return -1;
	}
	if (store_verify_files(home) != 0)
		a.problems++;
	fprintf(stderr, "%s: verify: %ld lines, %ld settlements, %ld problem%s\n",
	    ms_prog, a.lines, a.settlements, a.problems,
	    a.problems == 1 ? "" : "s");
	return a.problems;
}

int
cmd_verify(int argc, char **argv)
{
	const char *syn = "verify [-h] [-d dir]";
	const char *home = NULL;
	long problems;
	int ch;

	while ((ch = getopt(argc, argv, "d:h")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	home = store_ledger(home, 0);
	/* a backup is checked in a restored copy: it stays as it is */
	problems = backup_is_copy(home) ? verify_backup(home) :
	    verify_ledger(home);
	if (problems < 0)
		return MS_EX_TEMPFAIL;
	return problems ? MS_EX_FAIL : MS_EX_OK;
}
