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

/* A paid or void line old enough, and the settlement that ended it. */
struct cand {
	int64_t	 id;
	char	*sid;
	int	 ok;
};

/* A settlement and those of its lines that are candidates. */
struct sett {
	char	*sid;
	int64_t	*lines;
	size_t	 n;
	int	 ok;
};

/* What an archive before a time moves: the ok ones. */
struct pick {
	int64_t		 before;
	struct cand	*l;
	size_t		 nl, capl;
	struct sett	*s;
	size_t		 ns, caps;
	int64_t		*audit;		/* keys of the audit records that move */
	size_t		 na, capa;
	json_t		*left;		/* archive records in the range, kept */
	int64_t		 afirst, alast;
	int		 failed;
};

/* The report groupings an archive keeps totals for (archive_ledger.c). */
extern const char *const report_bys[];

/* 1 when a progress line is due (every ARCHIVE_PROGRESS_MS). */
int	archive_say_now(void);
/* Room for n + 1 elements of size in *p. */
int	archive_grow(void **p, size_t *cap, size_t n, size_t size);

/* What moves: the lines and settlements counted in *nl, *ns. */
int	archive_pick(struct store *, struct pick *, long *nl, long *ns);
void	archive_pick_free(struct pick *);

/*
 * Write the header, p's records as the ledger has them now and the
 * trailer to path, through path.tmp, synced; its sha256 (of the
 * uncompressed NDJSON) in sha.  0, or -1 said.
 */
int	archive_write(struct store *, struct pick *p, const char *path,
	    json_t *header, json_t *trailer, long total, char sha[65]);
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
