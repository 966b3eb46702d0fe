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
#include <unistd.h>

#include "apply.h"
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

/* Say who is master when it changes. */
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
	fprintf(stderr, "%s: replicate: %s: %s\n", ms_prog, home, now);
}

#define REPLICATE_CLOSE_SECS	5

/*
 * Say once when a client has caught up: its start-up synchronisation is
 * done (DB_EVENT_REP_STARTUPDONE), it follows a known master, and the
 * ledger's databases have arrived.  Then its commands may read.
 */
static void
say_in_step(DB_ENV *env, const char *home, int *said)
{
	char master[300], path[4096];

	if (*said || !ms_rep_in_step() ||
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
	const char *syn = "replicate [-h] [-d dir]";
	const char *home = NULL;
	struct ms_dbenv_opts opts = { 0, 128 };
	char err[1200], local[300], c[64], said[400];
	DB_ENV *env;
	int ch, rc, pfd[2], waiting = 0, in_step;
	unsigned long seen;

	while ((ch = getopt(argc, argv, "d:h")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
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
	if (pipe(pfd) == -1 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(pfd[1], F_SETFL, O_NONBLOCK) == -1)
		ms_err(MS_EX_FAIL, "pipe");
	ms_rep_notify(pfd[1]);
	ms_sig_install(0);
	umask(077);
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
