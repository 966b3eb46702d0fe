/*
 * dbenv.h: opening a Berkeley DB 5.3 environment the way every ms
 * process must (see FIELD-NOTES: all openers pass DB_REGISTER|DB_RECOVER).
 * Only mscart links this (and -ldb).
 */
#ifndef MS_DBENV_H
#define MS_DBENV_H

#include <stdint.h>

#include <db.h>

/* How long a lock request waits before DB_LOCK_NOTGRANTED. */
#define MS_DBENV_LOCK_TIMEOUT_US	2000000

struct ms_dbenv_opts {
	int	nosync;		/* DB_TXN_WRITE_NOSYNC: survives a crash, not power loss */
	int	cachesize_mb;	/* 0: 32 MiB */
};

/*
 * Create HOME (0700) if missing, write a DB_CONFIG the db5.3_* utilities
 * agree with, and open it with transactions, locking, logging, the
 * memory pool, DB_RECOVER|DB_REGISTER|DB_THREAD, deadlock detection and
 * automatic log removal.  Files are 0600.  Returns 0 or a BDB error
 * (message in err).
 */
int	ms_dbenv_open(const char *home, const struct ms_dbenv_opts *,
	    DB_ENV **envp, char *err, size_t errlen);
/* Write HOME/DB_CONFIG with ms's settings unless there is one. */
void	ms_dbenv_write_config(const char *home);
/* Checkpoint (so logs can go) and close. */
void	ms_dbenv_close(DB_ENV *);
/*
 * True for errors after which the whole environment must be reopened
 * (DB_RUNRECOVERY; DB_REP_HANDLE_DEAD when a new master rolled back
 * what this site had).
 */
int	ms_dbenv_needs_reopen(int bdb_error);
/*
 * True when a transaction retried `tries` times ends in a lock timeout
 * again: the lock's holder is most likely dead, and reopening the
 * environment lets DB_REGISTER find that out and run recovery.
 */
int	ms_dbenv_stuck(int bdb_error, int tries);

/*
 * Numbers in keys as 8 bytes, big-endian: Berkeley DB's byte-wise
 * comparison then sorts them as numbers (non-negative ones).
 */
void	ms_be64_put(unsigned char b[8], int64_t);
int64_t	ms_be64_get(const unsigned char b[8]);

#endif
