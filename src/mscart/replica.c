/*
 * replica.c: the ledger as one site of a Berkeley DB replication group.
 *
 * Writes go to the master only: a site that is not the master answers
 * them with a "not-master" error naming the master it knows, so that a
 * robot's push can go there.  With the DB_REPMGR_ACKS_QUORUM policy a
 * commit waits for acknowledgements from a quorum of sites; when they do
 * not come in time, Berkeley DB raises DB_EVENT_REP_PERM_FAILED and the
 * batch's writes, durable on this site only, are answered "retry", never
 * "applied".  "mscart replicate" is the long-lived process that listens
 * for the other sites; the short-lived commands join it as subordinate
 * processes (dbenv.c calls repmgr_start in every opener).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "bell.h"
#include "dbrep.h"
#include "mscart.h"
#include "replica.h"

#define REPLICA_TOUCH	"rep:touch"	/* in meta.db */

int
replica_writable(struct store *st, char *master, size_t len)
{
	if (master != NULL && len > 0)
		master[0] = '\0';
	if (!st->replicated)
		return 1;
	return ms_rep_is_master(st->env, master, len);
}

json_t *
replica_not_master(const json_t *msg, const char *source, unsigned long line,
    const char *master)
{
	char text[300];
	json_t *e;

	if (master != NULL && *master != '\0')
		snprintf(text, sizeof(text), "this site is not the master; "
		    "the master is %s", master);
	else
		snprintf(text, sizeof(text), "this site is not the master, "
		    "and no master is known now (an election is going on)");
	e = error_reply(msg, "not-master", source, line, NULL, text);
	if (master != NULL && *master != '\0')
		json_object_set_new(e, "master", json_string(master));
	return e;
}

json_t *
replica_retry(const json_t *msg, const char *source, unsigned long line)
{
	return error_reply(msg, "retry", source, line, NULL, "committed on "
	    "this site, but a quorum of sites did not acknowledge it in time; "
	    "send it again");
}

int
replica_elsewhere(struct store *st, const char *cmd)
{
	char master[300];

	if (replica_writable(st, master, sizeof(master)))
		return 0;
	ms_warnx("%s: %s: this site is not the master%s%s; nothing done "
	    "(settlements run on the master)", cmd, st->home,
	    *master ? "; the master is " : "", master);
	return 1;
}

int
replica_refuse_write(struct store *st, const char *cmd)
{
	char master[300];

	if (replica_writable(st, master, sizeof(master)))
		return 0;
	ms_warnx("%s: %s: this site is not the master%s%s; run it there",
	    cmd, st->home, *master ? "; the master is " : "", master);
	return 1;
}

int
replica_touch(struct store *st, DB_TXN *txn)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)ms_now_ms());
	return db_put_str(st->meta, txn, REPLICA_TOUCH, buf);
}

int
replica_configure(const char *home, const char *local, char *const *peers,
    size_t npeers, int priority, int creator)
{
	char text[8192], err[512], path[4096];
	int fd;

	if (ms_rep_config_text(local, peers, npeers, priority, creator, text,
	    sizeof(text), err, sizeof(err)) == -1) {
		ms_warnx("init: %s", err);
		return -1;
	}
	if (mkdir(home, 0700) == -1 && errno != EEXIST) {
		ms_warn("%s", home);
		return -1;
	}
	if (ms_rep_configured(home)) {
		ms_warnx("init: %s: already a site of a replication group "
		    "(see its DB_CONFIG)", home);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/__db.001", home);
	if (access(path, F_OK) == 0) {
		ms_warnx("init: %s: a single-site ledger already; a site of a "
		    "group starts empty and gets the ledger from the master",
		    home);
		return -1;
	}
	/* the usual settings first (dbenv.c), then the sites */
	ms_dbenv_write_config(home);
	snprintf(path, sizeof(path), "%s/DB_CONFIG", home);
	if ((fd = open(path, O_WRONLY | O_APPEND)) == -1) {
		ms_warn("%s", path);
		return -1;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    fsync(fd) == -1) {
		ms_warn("%s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
replica_create(const char *home)
{
	char master[300];
	struct store st;
	int rc;

	if ((rc = store_open(&st, home, 0)) != 0)
		return -1;
	if (!ms_rep_is_master(st.env, master, sizeof(master))) {
		ms_warnx("init: %s: this site was not elected master%s%s", home,
		    *master ? "; the master is " : "", master);
		store_close(&st);
		return -1;
	}
	store_close(&st);
	return 0;
}

/* ----- replicate ----- */

static void note_election(const char *, const char *);

/* Say who is master when it changes (and note it for status). */
static void
say_role(DB_ENV *env, const char *home, char *said, size_t len)
{
	char master[300], now[400];

	if (ms_rep_is_master(env, master, sizeof(master)))
		snprintf(now, sizeof(now), "this site is the master");
	else if (*master != '\0')
		snprintf(now, sizeof(now), "a client; the master is %s", master);
	else
		snprintf(now, sizeof(now), "no master (an election is going on)");
	if (strcmp(now, said) == 0)
		return;
	snprintf(said, len, "%s", now);
	if (strcmp(now, "this site is the master") == 0)
		ms_rep_local(env, master, sizeof(master));
	if (*master != '\0')
		note_election(home, master);
	fprintf(stderr, "%s: replicate: %s: %s\n", ms_prog, home, now);
}

#define REPLICATE_CLOSE_SECS	5

/*
 * Say once when a client has caught up: its start-up synchronisation is
 * done (st_startup_complete, what status shows as in_step), it follows a
 * known master, and the ledger's databases have arrived.  Then its
 * commands may read.
 */
static void
say_in_step(DB_ENV *env, const char *home, int *said)
{
	char master[300], path[4096];

	if (*said || !ms_rep_in_step(env) ||
	    ms_rep_is_master(env, master, sizeof(master)) || *master == '\0')
		return;
	snprintf(path, sizeof(path), "%s/lines.db", home);
	if (access(path, F_OK) == -1)
		return;
	*said = 1;
	fprintf(stderr, "%s: replicate: %s: in step with the master %s\n",
	    ms_prog, home, master);
}

static void
close_stuck(int sig)
{
	static const char msg[] = "mscart: replicate: stopped while the site "
	    "was catching up; the next open recovers it\n";

	(void)sig;
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(MS_EX_OK);
}

/*
 * The site's replication process: it listens for the other sites,
 * takes part in elections, and applies what the master sends, for as
 * long as it runs.  The short-lived commands (serve, settle, ...) are
 * subordinate processes beside it.
 */
int
cmd_replicate(int argc, char **argv)
{
	const char *syn = "replicate [-h] [-d dir] [-r host:port]";
	const char *home = NULL, *remove = NULL;
	struct ms_dbenv_opts opts = { 0, 128 };
	char err[1200], local[300], c[64], said[400];
	DB_ENV *env;
	int ch, rc, pfd[2], waiting = 0, in_step;
	unsigned long seen;

	while ((ch = getopt(argc, argv, "d:hr:")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'r': remove = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc)
		return cmd_usage(syn);
	home = store_ledger(home, 1);
	if (!ms_rep_configured(home)) {
		ms_warnx("replicate: %s: not a site of a replication group "
		    "(mscart init -s makes one)", home);
		return MS_EX_FAIL;
	}
	if (remove != NULL) {
		struct store st;

		/* beside the running replicate, on the master */
		if (store_open(&st, home, 0) != 0)
			return MS_EX_TEMPFAIL;
		rc = replica_remove_site(&st, remove);
		store_close(&st);
		if (rc == MS_EX_OK)
			fprintf(stderr, "%s: replicate: %s: site %s removed "
			    "from the group\n", ms_prog, home, remove);
		return rc;
	}
	if (pipe(pfd) == -1 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(pfd[1], F_SETFL, O_NONBLOCK) == -1)
		ms_err(MS_EX_FAIL, "pipe");
	ms_rep_notify(pfd[1]);
	ms_sig_install(0);
	umask(077);
	/*
	 * Alone in the environment, start from fresh regions: Berkeley DB's
	 * "start-up done" from the last run would otherwise stand for this
	 * one, and a site back after a while would say "in step" before its
	 * catching up (or internal initialisation) began.
	 */
	(void)ms_rep_fresh_regions(home);
	while (!ms_sig_stop) {
		if ((rc = ms_dbenv_open(home, &opts, &env, err,
		    sizeof(err))) == DB_REP_UNAVAIL) {
			/* a new site joins through a helper, which must
			 * reach the master: try again until it does */
			if (!waiting++)
				fprintf(stderr, "%s: replicate: %s: waiting to "
				    "join the group (no master reachable)\n",
				    ms_prog, home);
			ms_sig_poll(NULL, 0, 1000);
			continue;
		}
		if (rc != 0) {
			ms_warnx("replicate: %s", err);
			return MS_EX_TEMPFAIL;
		}
		waiting = 0;
		ms_rep_local(env, local, sizeof(local));
		fprintf(stderr, "%s: replicate: %s: site %s listening\n",
		    ms_prog, home, local);
		said[0] = '\0';
		in_step = 0;
		seen = ms_rep_changes() - 1;
		while (!ms_sig_stop && !ms_rep_panicked()) {
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };

			if (ms_rep_changes() != seen) {
				seen = ms_rep_changes();
				say_role(env, home, said, sizeof(said));
				say_in_step(env, home, &in_step);
			}
			/* the events come on repmgr's threads, through the pipe;
			 * a role can also settle without one (a late election
			 * result), so look again now and then */
			if (ms_sig_poll(&p, 1, 250) > 0)
				while (read(pfd[0], c, sizeof(c)) > 0)
					;
			else if (!ms_sig_stop) {
				say_role(env, home, said, sizeof(said));
				say_in_step(env, home, &in_step);
			}
		}
		if (ms_rep_panicked()) {
			/* another process died inside the environment: the
			 * next open recovers it (DB_REGISTER) */
			fprintf(stderr, "%s: replicate: %s: reopening after a "
			    "process died\n", ms_prog, home);
			env->close(env, 0);
			ms_rep_reset();
			continue;
		}
		/*
		 * Stopped in the middle of a synchronisation, the close may
		 * wait for good for its lockout to clear: it gets a few
		 * seconds, then the process leaves the environment to the
		 * next opener's recovery (DB_REGISTER).
		 */
		signal(SIGALRM, close_stuck);
		alarm(REPLICATE_CLOSE_SECS);
		ms_dbenv_close(env);
		alarm(0);
	}
	fprintf(stderr, "%s: replicate: %s: stopped\n", ms_prog, home);
	return MS_EX_OK;
}

/* ----- the group as status shows it ----- */

#define REPLICA_ELECTION	"rep-election.json"	/* in ms/ (bell.h) */
#define REPLICA_LAG_PROBLEM	(1024 * 1024)	/* bytes of log behind */

/* replicate: note when this site saw a master elected, and which. */
static void
note_election(const char *home, const char *master)
{
	char path[4096], tmp[4200], ts[MS_TIME_LEN];
	json_t *v;

	ms_time_format(ms_now_ms(), ts);
	if (side_path(home, REPLICA_ELECTION, path, sizeof(path)) == -1) {
		ms_warn("%s/%s", home, SIDE_DIR);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	v = json_pack("{s:s,s:s}", "ts", ts, "master", master);
	if (v == NULL || json_dump_file(v, tmp, JSON_COMPACT) == -1 ||
	    rename(tmp, path) == -1)
		ms_warn("%s", path);
	json_decref(v);
}

static void
lsn_json(json_t *o, const char *key, const DB_LSN *l)
{
	json_object_set_new(o, key, json_pack("{s:I,s:I}", "file",
	    (json_int_t)l->file, "offset", (json_int_t)l->offset));
}

json_t *
replica_group(struct store *st)
{
	char local[300], master[300], path[4096], name[300];
	DB_REPMGR_SITE *list = NULL;
	DB_REP_STAT *sp;
	json_t *g, *sites, *p, *el;
	u_int count = 0, connected = 0;
	int is_master;
	long long lag = 0;

	if (!st->replicated)
		return NULL;
	if (st->env->rep_stat(st->env, &sp, 0) != 0)
		return NULL;
	ms_rep_local(st->env, local, sizeof(local));
	is_master = ms_rep_is_master(st->env, master, sizeof(master));
	if (is_master)
		snprintf(master, sizeof(master), "%s", local);
	g = json_pack("{s:s,s:s,s:i}", "site", local, "role",
	    is_master ? "master" : "client", "priority",
	    (int)sp->st_env_priority);
	json_object_set_new(g, "master", *master ? json_string(master) :
	    json_null());
	sites = json_array();
	if (st->env->repmgr_site_list(st->env, &count, &list) == 0) {
		for (u_int i = 0; i < count; i++) {
			int up = list[i].status == DB_REPMGR_CONNECTED;

			snprintf(name, sizeof(name), "%s:%u", list[i].host,
			    list[i].port);
			connected += up;
			json_array_append_new(sites, json_pack("{s:s,s:b,s:b}",
			    "site", name, "connected", up, "master",
			    strcmp(name, master) == 0));
		}
		free(list);
	}
	json_object_set_new(g, "sites", sites);
	json_object_set_new(g, "sites_connected", json_integer(connected));
	/* this site's log: where its next record goes (or is expected) */
	lsn_json(g, "log_lsn", &sp->st_next_lsn);
	/*
	 * A client learns the master's log position from its messages and
	 * heartbeats: when it is ahead of the client's next LSN, the client
	 * waits for the records between (st_waiting_lsn).  At rest that is
	 * a few hundred bytes: records the master logged when its commands
	 * opened the databases, not flushed, sent with its next commit.
	 */
	if (!is_master) {
		if (sp->st_waiting_lsn.file != 0) {
			if (sp->st_waiting_lsn.file == sp->st_next_lsn.file)
				lag = (long long)sp->st_waiting_lsn.offset -
				    sp->st_next_lsn.offset;
			else
				lag = (long long)sp->st_waiting_lsn.offset + 1;
			if (lag < 0)
				lag = 0;
		}
		json_object_set_new(g, "lag_bytes", json_integer(lag));
		json_object_set_new(g, "in_step", json_boolean(
		    sp->st_startup_complete && *master != '\0'));
	} else {
		json_object_set_new(g, "lag_bytes", json_integer(0));
		json_object_set_new(g, "in_step", json_true());
	}
	snprintf(path, sizeof(path), "%s/%s/%s", st->home, SIDE_DIR,
	    REPLICA_ELECTION);
	el = json_load_file(path, 0, NULL);
	json_object_set_new(g, "last_election", el != NULL ? el : json_null());
	json_object_set_new(g, "elections", json_integer(
	    (json_int_t)sp->st_elections));
	free(sp);
	p = json_array();
	if (*master == '\0')
		json_array_append_new(p, json_string("the group has no master "
		    "(an election is going on, or too few sites are up)"));
	json_array_foreach(sites, count, el)
		if (!json_is_true(json_object_get(el, "connected"))) {
			snprintf(name, sizeof(name), "site %s is not connected",
			    json_string_value(json_object_get(el, "site")));
			json_array_append_new(p, json_string(name));
		}
	if (!is_master && *master != '\0' && lag > REPLICA_LAG_PROBLEM) {
		snprintf(name, sizeof(name), "this client is %lld bytes of log "
		    "behind the master", lag);
		json_array_append_new(p, json_string(name));
	}
	json_object_set_new(g, "problems", p);
	return g;
}

void
replica_read_note(struct store *st, const char *cmd)
{
	json_t *g;
	char t[16];
	time_t now;

	if ((g = replica_group(st)) == NULL)
		return;
	if (strcmp(json_string_value(json_object_get(g, "role")),
	    "master") != 0) {
		now = time(NULL);
		strftime(t, sizeof(t), "%H:%M:%S", localtime(&now));
		ms_warnx("%s: read on a client of the group (master %s), %lld "
		    "bytes of log behind the master%s at %s", cmd,
		    json_is_string(json_object_get(g, "master")) ?
		    json_string_value(json_object_get(g, "master")) : "unknown",
		    (long long)json_integer_value(json_object_get(g,
		    "lag_bytes")), json_is_true(json_object_get(g, "in_step")) ?
		    "" : " and not yet in step", t);
	}
	json_decref(g);
}

static int
site_known(struct store *st, const char *host, u_int port)
{
	DB_REPMGR_SITE *list;
	u_int count;
	int found = 0;

	if (st->env->repmgr_site_list(st->env, &count, &list) != 0)
		return 1;	/* let remove say */
	for (u_int i = 0; i < count; i++)
		if (strcmp(list[i].host, host) == 0 && list[i].port == port)
			found = 1;
	free(list);
	return found;
}

int
replica_remove_site(struct store *st, const char *addr)
{
	char host[256], master[300];
	const char *colon;
	DB_SITE *site;
	long port;
	int rc;

	if ((colon = strrchr(addr, ':')) == NULL || colon == addr ||
	    (size_t)(colon - addr) >= sizeof(host) ||
	    ms_parse_long(colon + 1, 1, 65535, &port) == -1) {
		ms_warnx("replicate -r %s: not a site address like host:port",
		    addr);
		return MS_EX_USAGE;
	}
	if (!replica_writable(st, master, sizeof(master))) {
		ms_warnx("replicate -r: %s: this site is not the master%s%s; "
		    "run it there", st->home, *master ? "; the master is " : "",
		    master);
		return MS_EX_FAIL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (!site_known(st, host, (u_int)port)) {
		ms_warnx("replicate -r %s: not a site of the group", addr);
		return MS_EX_FAIL;
	}
	if ((rc = st->env->repmgr_site(st->env, host, (u_int)port, &site,
	    0)) != 0 || (rc = site->remove(site)) != 0) {
		ms_warnx("replicate -r %s: %s", addr, db_strerror(rc));
		return MS_EX_TEMPFAIL;
	}
	return MS_EX_OK;
}
