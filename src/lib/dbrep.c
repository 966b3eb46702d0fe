/*
 * dbrep.c: the replication side of the ledger's environment: the
 * DB_CONFIG lines that make a site, the event handler, and who is
 * master.  See dbrep.h.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbrep.h"
#include "ms.h"

static _Thread_local unsigned long perm_failures;
static volatile unsigned long changes;
static volatile int panicked;
static int notify_fd = -1;

int
ms_rep_configured(const char *home)
{
	char path[4096], line[512];
	FILE *f;
	int yes = 0;

	snprintf(path, sizeof(path), "%s/DB_CONFIG", home);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!yes && fgets(line, sizeof(line), f) != NULL)
		yes = strncmp(line, "repmgr_site", 11) == 0 &&
		    (line[11] == ' ' || line[11] == '\t');
	fclose(f);
	return yes;
}

/* "host:port" into host and port; -1 if it is not one. */
static int
split_addr(const char *a, char *host, size_t hlen, unsigned *port)
{
	const char *colon = strrchr(a, ':');
	char *end;
	long p;

	if (colon == NULL || colon == a || (size_t)(colon - a) >= hlen)
		return -1;
	for (const char *c = a; c < colon; c++)
		if (*c <= ' ' || *c == '#')
			return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return -1;
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = '\0';
	*port = (unsigned)p;
	return 0;
}

int
ms_rep_config_text(const char *local, char *const *peers, size_t npeers,
    int priority, int creator, char *buf, size_t len, char *err,
    size_t errlen)
{
	char host[256];
	unsigned port;
	size_t n;

	if (split_addr(local, host, sizeof(host), &port) == -1) {
		SET_ERR("%s: not a site address like host:port", local);
		return -1;
	}
	n = (size_t)snprintf(buf, len,
	    "# replication: this ledger is one site of a group (mscart init -s)\n"
	    "repmgr_site %s %u db_local_site on%s\n", host, port,
	    creator ? " db_group_creator on" : "");
	for (size_t i = 0; i < npeers && n < len; i++) {
		if (split_addr(peers[i], host, sizeof(host), &port) == -1) {
			SET_ERR("%s: not a site address like host:port", peers[i]);
			return -1;
		}
		n += (size_t)snprintf(buf + n, len - n,
		    "repmgr_site %s %u db_bootstrap_helper on\n", host, port);
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n,
		    "rep_set_priority %d\n"
		    "repmgr_set_ack_policy DB_REPMGR_ACKS_QUORUM\n"
		    "rep_set_timeout DB_REP_ACK_TIMEOUT %d\n"
		    "rep_set_timeout DB_REP_HEARTBEAT_SEND %d\n"
		    "rep_set_timeout DB_REP_HEARTBEAT_MONITOR %d\n"
		    "rep_set_timeout DB_REP_CHECKPOINT_DELAY 0\n"
		    "rep_set_timeout DB_REP_ELECTION_TIMEOUT %d\n"
		    "rep_set_timeout DB_REP_ELECTION_RETRY %d\n"
		    "rep_set_timeout DB_REP_CONNECTION_RETRY %d\n",
		    priority, MS_REP_ACK_TIMEOUT_US, MS_REP_HB_SEND_US,
		    MS_REP_HB_MONITOR_US, MS_REP_ELECTION_TIMEOUT_US,
		    MS_REP_ELECTION_RETRY_US, MS_REP_CONNECTION_RETRY_US);
	if (n >= len) {
		SET_ERR("too many sites");
		return -1;
	}
	return 0;
}

static void
on_event(DB_ENV *env, u_int32_t event, void *info)
{
	(void)env;
	(void)info;
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		perm_failures++;
		break;
	case DB_EVENT_REP_MASTER:
	case DB_EVENT_REP_CLIENT:
	case DB_EVENT_REP_NEWMASTER:
	case DB_EVENT_REP_MASTER_FAILURE:
	case DB_EVENT_REP_ELECTION_FAILED:
	case DB_EVENT_REP_STARTUPDONE:
		changes++;
		break;
	case DB_EVENT_REP_DUPMASTER:
		changes++;
		break;
	case DB_EVENT_PANIC:
		panicked = 1;
		changes++;
		break;
	default:
		return;
	}
	if (notify_fd != -1)
		(void)write(notify_fd, "", 1);
}

/*
 * The remove runs in a child: Berkeley DB 5.3 reads DB_CONFIG there and
 * never frees the sites its repmgr_site lines made (a leak of one
 * handle, but the whole process's, in LeakSanitizer's eyes); the child
 * ends with _exit() and takes it along.
 */
int
ms_rep_fresh_regions(const char *home)
{
	DB_ENV *env;
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (db_env_create(&env, 0) != 0)
			_exit(1);
		/* without DB_FORCE: EBUSY while any process has it open; the
		 * handle is freed either way */
		_exit(env->remove(env, home, 0) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

void
ms_rep_prepare(DB_ENV *env)
{
	env->set_event_notify(env, on_event);
}

int
ms_rep_start(DB_ENV *env)
{
	int rc;

	/* DB_REP_IGNORE: another process listens, this one is subordinate */
	rc = env->repmgr_start(env, 3, DB_REP_ELECTION);
	return rc == DB_REP_IGNORE ? 0 : rc;
}

void
ms_rep_notify(int fd)
{
	notify_fd = fd;
}

unsigned long
ms_rep_perm_failures(void)
{
	return perm_failures;
}

unsigned long
ms_rep_changes(void)
{
	return changes;
}

int
ms_rep_panicked(void)
{
	return panicked;
}

/*
 * Berkeley DB's own record, not the event: a client restarted with the
 * same master that had to be re-initialised (internal init) finishes
 * without DB_EVENT_REP_STARTUPDONE reaching its process.
 */
int
ms_rep_in_step(DB_ENV *env)
{
	DB_REP_STAT *sp;
	int yes;

	if (env->rep_stat(env, &sp, 0) != 0)
		return 0;
	yes = sp->st_startup_complete != 0;
	free(sp);
	return yes;
}

void
ms_rep_reset(void)
{
	panicked = 0;
}

static void
site_name(DB_ENV *env, int eid, char *buf, size_t len)
{
	DB_SITE *site;
	const char *host;
	u_int port;

	buf[0] = '\0';
	if (env->repmgr_site_by_eid(env, eid, &site) != 0)
		return;
	if (site->get_address(site, &host, &port) == 0)
		snprintf(buf, len, "%s:%u", host, port);
	site->close(site);
}

int
ms_rep_is_master(DB_ENV *env, char *master, size_t len)
{
	DB_REP_STAT *sp;
	int yes;

	if (master != NULL && len > 0)
		master[0] = '\0';
	if (env->rep_stat(env, &sp, 0) != 0)
		return 0;
	yes = sp->st_status == DB_REP_MASTER;
	if (!yes && master != NULL && sp->st_master != DB_EID_INVALID)
		site_name(env, (int)sp->st_master, master, len);
	free(sp);
	return yes;
}

int
ms_rep_wait_master(DB_ENV *env, int ms)
{
	char master[300];
	struct timespec ts = { 0, 50 * 1000000L };

	for (int waited = 0;; waited += 50) {
		if (ms_rep_is_master(env, master, sizeof(master)))
			return 1;
		if (*master != '\0')
			return 0;
		if (waited >= ms)
			return -1;
		/* an election takes a network round or two: look again */
		nanosleep(&ts, NULL);
	}
}

void
ms_rep_local(DB_ENV *env, char *buf, size_t len)
{
	DB_SITE *site;
	const char *host;
	u_int port;

	buf[0] = '\0';
	if (env->repmgr_local_site(env, &site) != 0)
		return;
	if (site->get_address(site, &host, &port) == 0)
		snprintf(buf, len, "%s:%u", host, port);
	site->close(site);
}

int
ms_rep_retryable(int rc)
{
	return rc == DB_REP_LOCKOUT;
}
