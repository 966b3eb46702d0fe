/*
 * health.c: what an administrator or a monitoring system reads about a
 * running ledger (mscart status), and the notes the commands leave in
 * meta.db for it: a robot's last contact (serve), the last settlement
 * run (settle) and the last backup (backup).
 *
 * The notes are JSON values in meta.db under keys the counters never
 * use: "robot:ID", "health:settle", "health:backup".
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

#define NOTE_ROBOT	"robot:"
#define BACKUP_MAX_AGE_MS	(25LL * 3600 * 1000)	/* a daily backup, late */

/* The settlement states status always counts, in this order. */
static const char *const sett_states[] = {
	"open", "review", "declined", "failed", "paid", "closed", NULL
};

struct note_arg {
	const char	*key;
	json_t		*value;
};

static int
note_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct note_arg *a = arg;

	return db_put_json(st->meta, txn, a->key, a->value);
}

int
health_note(struct store *st, const char *key, json_t *value)
{
	struct note_arg a = { key, value };
	int rc;

	rc = run_txn(st, note_txn, &a);
	json_decref(value);
	if (rc != 0)
		ms_warnx("%s: cannot note %s: %s", st->home, key,
		    db_strerror(rc));
	return rc;
}

int
health_robot_contact(struct store *st, DB_TXN *txn, const char *robot,
    int64_t backlog)
{
	char key[MS_ID_MAX + 8], ts[MS_TIME_LEN];
	json_t *v;
	int rc;

	snprintf(key, sizeof(key), NOTE_ROBOT "%s", robot);
	/* the backlog stays as last reported when this note has none */
	rc = db_get_json(st->meta, txn, key, &v, 1);
	if (rc == DB_NOTFOUND || (rc == 0 && !json_is_object(v))) {
		json_decref(rc == 0 ? v : NULL);
		v = json_object();
	} else if (rc != 0)
		return rc;
	ms_time_format(ms_now_ms(), ts);
	json_object_set_new(v, "last_contact", json_string(ts));
	if (backlog >= 0) {
		json_object_set_new(v, "backlog", json_integer(backlog));
		json_object_set_new(v, "reported", json_string(ts));
	}
	rc = db_put_json(st->meta, txn, key, v);
	json_decref(v);
	return rc;
}

/*
 * A robot's push says hello at the start of each link and every minute
 * after: its outbox backlog.  On a link that is not a robot's it
 * changes nothing (no robot to note it for).
 */
int
apply_hello(struct ctx *c)
{
	int rc;

	if (c->role->kind == ROLE_ROBOT && (rc = health_robot_contact(c->st,
	    c->txn, c->role->id, num(c->msg, "backlog"))) != 0)
		return rc;
	c->reply = json_pack("{s:s,s:s,s:s}", "type", "ack", "status",
	    "applied", "of", "hello");
	if (str(c->msg, "id") != NULL)
		json_object_set(c->reply, "id", json_object_get(c->msg, "id"));
	return c->reply != NULL ? 0 : ENOMEM;
}

int
health_settle_run(struct store *st, int ok, const long *charged)
{
	char ts[MS_TIME_LEN];

	ms_time_format(ms_now_ms(), ts);
	return health_note(st, "health:settle", json_pack("{s:s,s:s,s:I,s:I,"
	    "s:I,s:I}", "ts", ts, "result", ok ? "ok" : "failed", "paid",
	    (json_int_t)charged[CHARGED_PAID], "declined",
	    (json_int_t)charged[CHARGED_DECLINED], "failed",
	    (json_int_t)charged[CHARGED_FAILED], "unknown",
	    (json_int_t)charged[CHARGED_UNKNOWN]));
}

/* ----- status ----- */

/* Bytes of the ledger's databases and logs (not the region files). */
static long long
ledger_bytes(const char *home)
{
	char path[4096];
	struct dirent *e;
	struct stat sb;
	long long n = 0;
	DIR *d;

	if ((d = opendir(home)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "__db.", 5) == 0 || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", home, e->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			n += (long long)sb.st_size;
	}
	closedir(d);
	return n;
}

/* events.db: robot\0first seq -> last seq; one object a robot. */
static int
status_robots(struct store *st, DB_TXN *txn, json_t *robots)
{
	DBC *c;
	DBT k, d;
	json_t *last, *note;
	char key[MS_ID_MAX + 8];
	size_t i;
	int rc;

	if ((rc = store_each(st, st->events, txn, events_robot_add,
	    robots)) != 0)
		return rc;
	/* the contacts serve noted, also of robots with no event yet */
	json_array_foreach(robots, i, last) {
		json_object_del(last, "runs");	/* list robots shows them */
		json_object_set_new(last, "last_contact", json_null());
		json_object_set_new(last, "backlog", json_null());
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	if ((rc = st->meta->cursor(st->meta, txn, &c, DB_READ_COMMITTED)) != 0)
		return rc;
	k.data = strdup(NOTE_ROBOT);
	k.size = sizeof(NOTE_ROBOT) - 1;
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	for (rc = c->get(c, &k, &d, DB_SET_RANGE); rc == 0 &&
	    k.size > sizeof(NOTE_ROBOT) - 1 && k.size < sizeof(key) &&
	    memcmp(k.data, NOTE_ROBOT, sizeof(NOTE_ROBOT) - 1) == 0;
	    rc = c->get(c, &k, &d, DB_NEXT)) {
		const char *id = key;

		memcpy(key, (char *)k.data + sizeof(NOTE_ROBOT) - 1,
		    k.size - (sizeof(NOTE_ROBOT) - 1));
		key[k.size - (sizeof(NOTE_ROBOT) - 1)] = '\0';
		if ((note = json_loadb(d.data, d.size, 0, NULL)) == NULL)
			continue;
		last = NULL;
		json_array_foreach(robots, i, last)
			if (strcmp(str(last, "robot"), id) == 0)
				break;
		if (i == json_array_size(robots)) {
			last = json_pack("{s:s,s:i,s:i,s:n,s:n}", "robot", id,
			    "events", 0, "last_seq", 0, "last_contact", "backlog");
			json_array_append_new(robots, last);
		}
		json_object_set(last, "last_contact",
		    json_object_get(note, "last_contact"));
		if (json_is_integer(json_object_get(note, "backlog"))) {
			json_object_set(last, "backlog",
			    json_object_get(note, "backlog"));
			json_object_set(last, "backlog_reported",
			    json_object_get(note, "reported"));
		}
		json_decref(note);
	}
	free(k.data);
	free(d.data);
	c->close(c);
	return rc == DB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* A settlement record: one more of its state in the object arg. */
static void
count_state(const DBT *k, const DBT *d, void *arg)
{
	json_t *counts = arg, *s;
	const char *state;

	(void)k;
	if ((s = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return;
	if ((state = str(s, "state")) != NULL)
		json_object_set_new(counts, state, json_integer(num(counts,
		    state) + 1));
	json_decref(s);
}

static int
status_settlements(struct store *st, DB_TXN *txn, json_t *counts)
{
	for (int i = 0; sett_states[i] != NULL; i++)
		json_object_set_new(counts, sett_states[i], json_integer(0));
	return store_each(st, st->settlements, txn, count_state, counts);
}

/* The review queue as mscart list review shows it: not voided. */
static int
status_review(struct store *st, DB_TXN *txn, long long *n)
{
	struct line_head h;
	const char *item;
	size_t len, cnt;
	int64_t *ids = NULL;
	int rc;

	*n = 0;
	if ((rc = owner_lines(st, txn, OWNER_REVIEW, &ids, &cnt)) != 0) {
		free(ids);
		return rc == DB_NOTFOUND ? 0 : rc;
	}
	for (size_t i = 0; i < cnt; i++) {
		if ((rc = line_get_item(st, txn, NULL, ids[i], &h, &item,
		    &len)) != 0)
			break;
		if (h.state != 'v')
			(*n)++;
	}
	free(ids);
	return rc == DB_NOTFOUND ? 0 : rc;
}

struct status_arg {
	json_t	*out;
};

static int
status_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct status_arg *a = arg;
	json_t *robots = json_array(), *setts = json_object(), *v;
	long long review;
	int rc;

	json_object_set_new(a->out, "robots", robots);
	json_object_set_new(a->out, "settlements", setts);
	if ((rc = status_robots(st, txn, robots)) != 0 ||
	    (rc = status_settlements(st, txn, setts)) != 0 ||
	    (rc = status_review(st, txn, &review)) != 0)
		return rc;
	json_object_set_new(a->out, "review_queue", json_integer(review));
	rc = db_get_json(st->meta, txn, "health:settle", &v, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	json_object_set_new(a->out, "settlement_run", rc == 0 ? v : json_null());
	rc = db_get_json(st->meta, txn, "health:backup", &v, 0);
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	json_object_set_new(a->out, "backup", rc == 0 ? v : json_null());
	return 0;
}

/* What status counts as trouble, one sentence each. */
static void
status_problems(json_t *out, int64_t now)
{
	json_t *p = json_array(), *run, *bk;
	int64_t t;

	run = json_object_get(out, "settlement_run");
	if (json_is_object(run) && str(run, "result") != NULL &&
	    strcmp(str(run, "result"), "ok") != 0)
		json_array_append_new(p, json_string("the last settlement run "
		    "did not end well"));
	bk = json_object_get(out, "backup");
	if (!json_is_object(bk))
		json_array_append_new(p, json_string("no backup was made"));
	else if (ms_time_parse(str(bk, "ts"), &t) != 0 ||
	    now - t > BACKUP_MAX_AGE_MS)
		json_array_append_new(p, json_string("the last backup is more "
		    "than 25 hours old"));
	json_object_set_new(out, "problems", p);
}

static double
seconds_of(const char *ts)
{
	int64_t ms;

	if (ts == NULL || ms_time_parse(ts, &ms) != 0)
		return -1;
	return (double)ms / 1000.0;
}

/* HELP and TYPE of a gauge.  Label values are ids: nothing to escape. */
static void
prom_gauge(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* The replication group's figures (a site of a group only). */
static void
prom_group(FILE *f, const json_t *g)
{
	const json_t *lsn = json_object_get(g, "log_lsn"), *el, *s;
	size_t i;

	prom_gauge(f, "ms_replication_is_master",
	    "1 if this site is the group's master, else 0.");
	fprintf(f, "ms_replication_is_master %d\n",
	    strcmp(str(g, "role"), "master") == 0);
	prom_gauge(f, "ms_replication_has_master",
	    "1 if this site knows a master of the group, else 0.");
	fprintf(f, "ms_replication_has_master %d\n",
	    json_is_string(json_object_get(g, "master")));
	prom_gauge(f, "ms_replication_sites",
	    "Other sites of the group this site knows.");
	fprintf(f, "ms_replication_sites %zu\n",
	    json_array_size(json_object_get(g, "sites")));
	prom_gauge(f, "ms_replication_sites_connected",
	    "Other sites of the group this site is connected to.");
	fprintf(f, "ms_replication_sites_connected %lld\n",
	    (long long)num(g, "sites_connected"));
	prom_gauge(f, "ms_replication_site_connected",
	    "1 if this site is connected to the other site, else 0.");
	json_array_foreach(json_object_get(g, "sites"), i, s)
		fprintf(f, "ms_replication_site_connected{site=\"%s\"} %d\n",
		    str(s, "site"), json_is_true(json_object_get(s,
		    "connected")));
	prom_gauge(f, "ms_replication_log_file",
	    "This site's log position: its log file number.");
	fprintf(f, "ms_replication_log_file %lld\n",
	    (long long)num(lsn, "file"));
	prom_gauge(f, "ms_replication_log_offset",
	    "This site's log position: the offset in that file.");
	fprintf(f, "ms_replication_log_offset %lld\n",
	    (long long)num(lsn, "offset"));
	prom_gauge(f, "ms_replication_lag_bytes", "Log bytes a client has "
	    "been sent but not yet applied (0 on the master).");
	fprintf(f, "ms_replication_lag_bytes %lld\n",
	    (long long)num(g, "lag_bytes"));
	prom_gauge(f, "ms_replication_in_step",
	    "1 if this site is in step with the master, else 0.");
	fprintf(f, "ms_replication_in_step %d\n",
	    json_is_true(json_object_get(g, "in_step")));
	el = json_object_get(g, "last_election");
	if (json_is_object(el)) {
		prom_gauge(f, "ms_replication_last_election_timestamp_seconds",
		    "When this site last saw a master elected.");
		fprintf(f, "ms_replication_last_election_timestamp_seconds "
		    "%.3f\n", seconds_of(str(el, "ts")));
	}
}

static int
prom_write(const char *file, const json_t *out)
{
	char tmp[4096];
	const json_t *robots = json_object_get(out, "robots");
	const json_t *setts = json_object_get(out, "settlements");
	const json_t *run = json_object_get(out, "settlement_run");
	const json_t *bk = json_object_get(out, "backup");
	const char *k;
	json_t *r, *v;
	size_t i;
	double t;
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp)) {
		ms_warnx("%s: name too long", file);
		return -1;
	}
	/* readable by the collector's user, whatever the ledger's umask */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
		ms_warn("%s", tmp);
		if (fd != -1)
			close(fd);
		return -1;
	}
	prom_gauge(f, "ms_robot_last_contact_timestamp_seconds",
	    "When mscart serve last applied a batch from the robot's link.");
	json_array_foreach(robots, i, r)
		if ((t = seconds_of(str(r, "last_contact"))) >= 0)
			fprintf(f, "ms_robot_last_contact_timestamp_seconds"
			    "{robot=\"%s\"} %.3f\n", str(r, "robot"), t);
	prom_gauge(f, "ms_robot_outbox_backlog_events", "Events in the "
	    "robot's outbox not yet acknowledged, as its push last said.");
	json_array_foreach(robots, i, r)
		if (json_is_integer(json_object_get(r, "backlog")))
			fprintf(f, "ms_robot_outbox_backlog_events{robot=\"%s\"} "
			    "%lld\n", str(r, "robot"), (long long)num(r,
			    "backlog"));
	prom_gauge(f, "ms_robot_events", "Events of the robot the ledger "
	    "applied.");
	json_array_foreach(robots, i, r)
		fprintf(f, "ms_robot_events{robot=\"%s\"} %lld\n",
		    str(r, "robot"), (long long)num(r, "events"));
	prom_gauge(f, "ms_robot_last_seq", "The robot's last applied seq.");
	json_array_foreach(robots, i, r)
		fprintf(f, "ms_robot_last_seq{robot=\"%s\"} %lld\n",
		    str(r, "robot"), (long long)num(r, "last_seq"));
	prom_gauge(f, "ms_settlements", "Settlements by state.");
	json_object_foreach((json_t *)setts, k, v)
		if (ms_id_valid(k))
			fprintf(f, "ms_settlements{state=\"%s\"} %lld\n", k,
			    (long long)json_integer_value(v));
	prom_gauge(f, "ms_review_queue_items", "Takes waiting for an "
	    "administrator's decision.");
	fprintf(f, "ms_review_queue_items %lld\n",
	    (long long)num(out, "review_queue"));
	if (json_is_object(run)) {
		prom_gauge(f, "ms_settlement_run_last_timestamp_seconds",
		    "When the last settlement run (mscart settle) ended.");
		fprintf(f, "ms_settlement_run_last_timestamp_seconds %.3f\n",
		    seconds_of(str(run, "ts")));
		prom_gauge(f, "ms_settlement_run_last_success",
		    "1 if the last settlement run ended well, else 0.");
		fprintf(f, "ms_settlement_run_last_success %d\n",
		    strcmp(str(run, "result"), "ok") == 0);
		prom_gauge(f, "ms_settlement_run_last_results",
		    "Charge results the last settlement run applied.");
		for (i = 0; i < 4; i++) {
			static const char *const res[] = { "paid", "declined",
			    "failed", "unknown" };

			fprintf(f, "ms_settlement_run_last_results{result=\"%s\"}"
			    " %lld\n", res[i], (long long)num(run, res[i]));
		}
	}
	prom_gauge(f, "ms_ledger_bytes", "Bytes of the ledger's databases "
	    "and logs.");
	fprintf(f, "ms_ledger_bytes %lld\n", (long long)num(out,
	    "ledger_bytes"));
	if (json_is_object(bk)) {
		prom_gauge(f, "ms_backup_last_timestamp_seconds",
		    "When mscart backup last ended well.");
		fprintf(f, "ms_backup_last_timestamp_seconds %.3f\n",
		    seconds_of(str(bk, "ts")));
	}
	if (json_is_object(json_object_get(out, "group")))
		prom_group(f, json_object_get(out, "group"));
	prom_gauge(f, "ms_status_problems", "Problems mscart status reports.");
	fprintf(f, "ms_status_problems %zu\n",
	    json_array_size(json_object_get(out, "problems")));
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		ms_warn("%s", tmp);
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, file) == -1) {
		ms_warn("%s", file);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void
table_group(const json_t *g)
{
	const json_t *lsn = json_object_get(g, "log_lsn"), *el, *s;
	char t[64];
	size_t i;

	printf("%-16s %s, %s, priority %lld\n", "SITE", str(g, "site"),
	    str(g, "role"), (long long)num(g, "priority"));
	printf("%-16s %s\n", "MASTER", json_is_string(json_object_get(g,
	    "master")) ? str(g, "master") : "none");
	printf("%-16s %lld/%lld, %lld bytes behind%s\n", "LOG", (long long)num(lsn,
	    "file"), (long long)num(lsn, "offset"), (long long)num(g,
	    "lag_bytes"), json_is_true(json_object_get(g, "in_step")) ? "" :
	    ", not in step");
	el = json_object_get(g, "last_election");
	if (json_is_object(el)) {
		ms_shoptime_format(str(el, "ts"), t, sizeof(t));
		printf("%-16s %s, %s\n", "LAST ELECTION", t, str(el, "master"));
	} else
		printf("%-16s none seen\n", "LAST ELECTION");
	json_array_foreach(json_object_get(g, "sites"), i, s)
		printf("%-16s %s, %s\n", i == 0 ? "SITES" : "", str(s, "site"),
		    json_is_true(json_object_get(s, "connected")) ?
		    "connected" : "not connected");
}

static void
status_table(const json_t *out)
{
	const json_t *run = json_object_get(out, "settlement_run");
	const json_t *bk = json_object_get(out, "backup");
	const json_t *setts = json_object_get(out, "settlements");
	const char *k;
	char t[64];
	json_t *r, *v;
	size_t i;

	printf("%-16s %s, %lld bytes\n", "LEDGER", str(out, "ledger"),
	    (long long)num(out, "ledger_bytes"));
	if (json_is_object(bk)) {
		ms_shoptime_format(str(bk, "ts"), t, sizeof(t));
		printf("%-16s %s, %s, to %s\n", "BACKUP", t, str(bk, "kind"),
		    str(bk, "target"));
	} else
		printf("%-16s none\n", "BACKUP");
	if (json_is_object(run)) {
		ms_shoptime_format(str(run, "ts"), t, sizeof(t));
		printf("%-16s %s, %s: %lld paid, %lld declined, %lld failed, "
		    "%lld unknown\n", "SETTLEMENT RUN", t, str(run, "result"),
		    (long long)num(run, "paid"), (long long)num(run, "declined"),
		    (long long)num(run, "failed"), (long long)num(run, "unknown"));
	} else
		printf("%-16s none\n", "SETTLEMENT RUN");
	printf("%-16s", "SETTLEMENTS");
	json_object_foreach((json_t *)setts, k, v)
		printf(" %s %lld", k, (long long)json_integer_value(v));
	printf("\n%-16s %lld\n", "REVIEW QUEUE", (long long)num(out,
	    "review_queue"));
	if (json_is_object(json_object_get(out, "group")))
		table_group(json_object_get(out, "group"));
	printf("\n%-16s %10s %10s %8s %s\n", "ROBOT", "EVENTS", "LAST SEQ",
	    "BACKLOG", "LAST CONTACT");
	json_array_foreach(json_object_get(out, "robots"), i, r) {
		char b[32];

		ms_shoptime_format(str(r, "last_contact"), t, sizeof(t));
		if (json_is_integer(json_object_get(r, "backlog")))
			snprintf(b, sizeof(b), "%lld", (long long)num(r,
			    "backlog"));
		else
			snprintf(b, sizeof(b), "-");
		printf("%-16s %10lld %10lld %8s %s\n", str(r, "robot"),
		    (long long)num(r, "events"), (long long)num(r, "last_seq"),
		    b, t);
	}
	json_array_foreach(json_object_get(out, "problems"), i, r)
		printf("%sPROBLEM: %s\n", i == 0 ? "\n" : "",
		    json_string_value(r));
}

int
cmd_status(int argc, char **argv)
{
	const char *syn = "status [-Hh] [-d dir] [-p file]";
	const char *home = NULL, *prom = NULL;
	struct status_arg a;
	struct store st;
	char ts[MS_TIME_LEN];
	json_t *group;
	int64_t now;
	int ch, rc, human = 0, status;

	for (int i = 1; i < argc; i++) {	/* --prom: -p */
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--prom") == 0)
			argv[i] = "-p";
	}
	while ((ch = getopt(argc, argv, "d:Hhp:")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'H': human = 1; break;
		case 'p': prom = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	ms_shoptime_init();
	home = store_ledger(home, 0);
	if (store_open(&st, home, 0) != 0)
		return MS_EX_TEMPFAIL;
	now = ms_now_ms();
	ms_time_format(now, ts);
	a.out = json_pack("{s:s,s:s,s:I}", "ts", ts, "ledger", home,
	    "ledger_bytes", (json_int_t)ledger_bytes(home));
	rc = run_txn(&st, status_txn, &a);
	group = rc == 0 ? replica_group(&st) : NULL;
	store_close(&st);
	if (rc != 0) {
		ms_warnx("status: %s", db_strerror(rc));
		json_decref(a.out);
		return MS_EX_TEMPFAIL;
	}
	status_problems(a.out, now);
	if (group != NULL) {
		/* the group's problems are the ledger's too */
		json_array_extend(json_object_get(a.out, "problems"),
		    json_object_get(group, "problems"));
		json_object_set_new(a.out, "group", group);
	}
	status = json_array_size(json_object_get(a.out, "problems")) > 0 ?
	    MS_EX_FAIL : MS_EX_OK;
	if (prom != NULL && prom_write(prom, a.out) == -1)
		status = MS_EX_FAIL;
	if (human)
		status_table(a.out);
	else if (prom == NULL)
		ms_write_json(stdout, a.out, 1);
	json_decref(a.out);
	if (ms_close_stdout() != 0)
		status = MS_EX_FAIL;
	return status;
}
