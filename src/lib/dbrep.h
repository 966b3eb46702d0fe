/*
 * dbrep.h: a ledger that is one site of a Berkeley DB replication group.
 * A ledger whose DB_CONFIG has "repmgr_site" lines is replicated: every
 * process opens it with DB_INIT_REP and calls repmgr_start (the first
 * one, "mscart replicate", listens; the others are subordinate).  With
 * no such line nothing here is used and the ledger is a single site.
 */
#ifndef MS_DBREP_H
#define MS_DBREP_H

#include <stddef.h>

#include <db.h>

/* Replication timeouts written by mscart init (microseconds). */
#define MS_REP_ACK_TIMEOUT_US	2000000
#define MS_REP_HB_SEND_US	500000
#define MS_REP_HB_MONITOR_US	2000000
/*
 * Elections: Berkeley DB waits 10 s (DB_REP_ELECTION_RETRY) after an
 * election that failed before it holds another, and 30 s
 * (DB_REP_CONNECTION_RETRY) before it dials a site it lost again.  A
 * first election after a master's death can fail (the other client has
 * not yet seen it go): one second each keeps such a failover short.
 */
#define MS_REP_ELECTION_TIMEOUT_US	1000000
#define MS_REP_ELECTION_RETRY_US	1000000
#define MS_REP_CONNECTION_RETRY_US	1000000

/* True when home/DB_CONFIG names replication sites. */
int	ms_rep_configured(const char *home);
/*
 * The DB_CONFIG lines for a site: local "host:port", peers (helpers),
 * election priority (0: never master), creator (this site starts the
 * group).  Returns 0, or -1 with a message in err for a bad address.
 */
int	ms_rep_config_text(const char *local, char *const *peers, size_t npeers,
	    int priority, int creator, char *buf, size_t len, char *err,
	    size_t errlen);

/*
 * Remove home's region files (__db.0*; not __db.register nor the
 * __db.rep.* files that keep the site's generation and group) when no
 * process has the environment open: 0 done, -1 not (in use).  Berkeley
 * DB notes a client's start-up as done in the region and does not do it
 * again for the same master: a region that outlived the last process
 * would say a returning client is in step before it has caught up.
 */
int	ms_rep_fresh_regions(const char *home);
/* Before DB_ENV->open of a replicated environment: the event handler. */
void	ms_rep_prepare(DB_ENV *);
/* After it: join the group (elections on).  0 or a BDB error. */
int	ms_rep_start(DB_ENV *);

/*
 * Commits whose acknowledgements did not come from a quorum within the
 * ack timeout, counted by this thread (DB_EVENT_REP_PERM_FAILED is
 * raised in the committing thread).  A commit that raised it is durable
 * here only: its writes must not be answered "applied".
 */
unsigned long ms_rep_perm_failures(void);
/* Events seen by this process that change who is master. */
unsigned long ms_rep_changes(void);
/* Write a byte to fd (non-blocking) at each of those events. */
void	ms_rep_notify(int fd);
/* A fatal environment error seen (DB_EVENT_PANIC): reopen. */
int	ms_rep_panicked(void);
void	ms_rep_reset(void);	/* ... reopened */
/*
 * A client that started has caught up with the master's log as it was
 * then (Berkeley DB's start-up done, as DB_REP_STAT says).
 */
int	ms_rep_in_step(DB_ENV *);

/*
 * Is this site the master now?  1 yes, 0 no; when not, master gets
 * "host:port" of the master this site knows, or "" for none (an
 * election is going on, or the site is alone).
 */
int	ms_rep_is_master(DB_ENV *, char *master, size_t len);
/*
 * Wait up to ms for the group to have a master (an election at start).
 * 1 if it is this site, 0 if another, -1 if none yet.
 */
int	ms_rep_wait_master(DB_ENV *, int ms);
/* This site's own "host:port". */
void	ms_rep_local(DB_ENV *, char *buf, size_t len);

/* Errors after which a replicated operation is tried again. */
int	ms_rep_retryable(int bdb_error);	/* DB_REP_LOCKOUT */

#endif
