/*
 * replica.h: the ledger as one site of a replication group (replica.c):
 * which batches this site may apply, what it answers when it may not or
 * when a commit did not reach a quorum, and "mscart replicate".
 */
#ifndef MSCART_REPLICA_H
#define MSCART_REPLICA_H

#include "store.h"

/* 1 when this site takes writes (single site, or the master). */
int	 replica_writable(struct store *, char *master, size_t len);
/* The reply to a write on a site that is not the master. */
json_t	*replica_not_master(const json_t *msg, const char *source,
	    unsigned long line, const char *master);
/* The reply to a write whose commit a quorum did not acknowledge. */
json_t	*replica_retry(const json_t *msg, const char *source,
	    unsigned long line);
/*
 * Write one small record in the batch's transaction, so that its commit
 * waits for a quorum even when the batch changed nothing else (a
 * duplicate): the log is one sequence, so the acks cover what was
 * applied before.
 */
int	 replica_touch(struct store *, DB_TXN *);
/*
 * mscart init's replication options, written to DB_CONFIG before the
 * environment is first opened.  Returns 0 or -1 (said).
 */
int	 replica_configure(const char *home, const char *local,
	    char *const *peers, size_t npeers, int priority, int creator);
/*
 * The settlement run belongs to the master: on another site of a group
 * it says so on stderr and returns 1 (the caller does nothing, exit 0,
 * so a timer may run it on every site); 0 where it may run.
 */
int	 replica_elsewhere(struct store *, const char *cmd);
/*
 * An admin's write (card, price, block, void, ...) on a site that is not
 * the master: say so, naming the master, and return 1.
 */
int	 replica_refuse_write(struct store *, const char *cmd);
/* mscart init -c: make the databases on the new group's first site. */
int	 replica_create(const char *home);
/*
 * The group as mscart status shows it: this site, the master, the
 * sites and whether they are connected, the log position, lag, the
 * last election seen, and problems.  NULL for a single-site ledger.
 */
json_t	*replica_group(struct store *);
/* On a client, say on stderr that cmd read there and how far behind. */
void	 replica_read_note(struct store *, const char *cmd);
/* replicate -r: remove a site from the group (on the master). */
int	 replica_remove_site(struct store *, const char *addr);

#endif
