/*
 * archive.h: what mscart archive's files share: what moves
 * (archive_pick.c), the file (archive_file.c) and taking it out of the
 * ledger (archive_ledger.c); the command is archive.c.
 */
#ifndef MSCART_ARCHIVE_H
#define MSCART_ARCHIVE_H

#include <openssl/evp.h>
#include <zlib.h>

#include "ledger.h"

#define ARCHIVE_TXN	5000	/* records a transaction (MSCART_ARCHIVE_TXN) */
#define ARCHIVE_PENDING	"archive:pending"	/* in meta.db, the unfinished one */
#define ARCHIVE_REPORT	"archive:report"	/* the archives' report groups */
#define ARCHIVE_PROGRESS_MS	2000

/*
 * A set of numbers (of lines, of settlements) as a bitmap that grows: a
 * bit a number, so what an archive holds in memory is an eighth of a
 * byte a line, however many lines move.
 */
struct bits {
	unsigned char	*b;
	size_t		 n;		/* bytes */
};
int	bits_add(struct bits *, int64_t);	/* -1: out of memory, range */
void	bits_del(struct bits *, int64_t);
int	bits_has(const struct bits *, int64_t);
long	bits_count(const struct bits *);

/*
 * What an archive before a time moves: the lines by number (Ln), the
 * settlements by number (Sn), the audit records by their keys (the
 * run from the oldest to akey, less earlier archives' records).
 */
struct pick {
	int64_t		 before;
	struct bits	 lines;
	struct bits	 setts;
	struct bits	 named;		/* lines of a settlement found to move */
	long		 nl, ns, na;
	int64_t		 afirst, alast;	/* the audit numbers the records hold */
	int64_t		 akey;		/* the last record's key */
	json_t		*left;		/* archive records in the range, kept */
};

/* fn's answers to archive_walk() beside 0 and Berkeley DB's errors. */
#define ARCHIVE_STOP	(-1000)		/* the walk is over */
#define ARCHIVE_AGAIN	(-1001)		/* a line stays after all */

/* The report groupings an archive keeps totals for (archive_ledger.c). */
extern const char *const report_bys[];

/* 1 when a progress line is due (every ARCHIVE_PROGRESS_MS). */
int	archive_say_now(void);
/*
 * fn with every record of db in key order, in read-committed
 * transactions of ARCHIVE_TXN records, so that no pass over a big
 * database holds it for long; what says what is read in progress lines
 * (or NULL).  fn's ARCHIVE_STOP ends the walk; 0, or an error.
 */
int	archive_walk(struct store *, DB *, const char *what,
	    int (*fn)(const DBT *k, const DBT *d, void *arg), void *arg);
/*
 * Whether an audit record was made before before (*old) and is an
 * archive's (*arch), a record of takes read from its head only; -1: not
 * JSON.
 */
int	archive_audit_head(const DBT *, int64_t before, int *old, int *arch);
/* The number n of a settlement "Sn" as ms names them; -1 if not. */
int	archive_sett_num(const char *sid, int64_t *n);

/* What moves, counted in p's nl, ns and na.  0, or an error. */
int	archive_pick(struct store *, struct pick *);
/*
 * Again after lines were found to stay (archive_write(), archive_check()
 * answered ARCHIVE_AGAIN): the settlements that name them stay, and so
 * on.
 */
int	archive_pick_settle(struct store *, struct pick *);
void	archive_pick_free(struct pick *);

/*
 * Write the header, p's records as the ledger has them now and the
 * trailer to path, through path.tmp, synced; its sha256 (of the
 * uncompressed NDJSON) in sha.  0; -1 said; or ARCHIVE_AGAIN when a line
 * turned out to stay (one whose settlement does not move but does not
 * name it either), taken out of p, no file written.
 */
int	archive_write(struct store *, struct pick *p, const char *path,
	    json_t *header, json_t *trailer, char sha[65]);
/* The same check of the lines without writing: 0, ARCHIVE_AGAIN or an
 * error. */
int	archive_check(struct store *, struct pick *p);
/* Reading one back, a line at a time, its sha256 computed on the way. */
struct archive_in {
	gzFile		 gz;
	EVP_MD_CTX	*md;
	char		*buf;
	size_t		 cap;
	long		 lineno;
};
int	archive_in_open(struct archive_in *, const char *path);
const char *archive_in_line(struct archive_in *, size_t *len);
int	archive_in_end(struct archive_in *, const char *path);
void	archive_in_close(struct archive_in *, char sha[65]);
int	archive_sha(const char *path, char sha[65]);

/*
 * One batch of the file's records out of the ledger, in a transaction
 * (run_txn()), and the last transaction of an archive.
 */
struct archive_del {
	json_t		*pending;	/* as committed */
	json_t		*next;		/* as this transaction leaves it */
	json_t		*recs;		/* the batch's records */
	struct role	 role;
	long		 lines;		/* taken out, this batch */
};
int	archive_del_txn(struct store *, DB_TXN *, void *);
int	archive_fin_txn(struct store *, DB_TXN *, void *);
/* Every database compacted, its free pages given back. */
void	archive_compact(struct store *);

#endif
