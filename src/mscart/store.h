/*
 * store.h: mscart's Berkeley DB databases and the ledger operations on
 * them.  Every operation runs inside a caller's transaction and returns
 * 0 or a Berkeley DB error; DB_LOCK_DEADLOCK and DB_RUNRECOVERY go back
 * up to the batch loop, which aborts, (re)opens and retries.
 */
#ifndef MSCART_STORE_H
#define MSCART_STORE_H

#include <stdint.h>

#include "dbenv.h"
#include "ms.h"

/* A robot's run of applied seqs held for the running batch (events.c). */
struct evrun {
	char	 robot[MS_ID_MAX + 1];
	int64_t	 start, end;	/* end < start: a run not begun yet */
	int64_t	 next;		/* start of the robot's next run, or INT64_MAX */
	unsigned long used;	/* 0 free, else when last used */
	int	 loaded, dirty;
};
#define STORE_RUNS	8
#define STORE_REP_WAIT_MS	10000	/* for an elected master at open */
#define OWNER_BULK	(64 * 1024)	/* a multiple of the page size */

struct store {
	DB_ENV	*env;
	DB	*products;	/* sku -> product JSON */
	DB	*users;		/* user -> user JSON */
	DB	*cards;		/* card token -> user */
	DB	*lines;		/* line number (8 bytes BE) -> line JSON */
	DB	*owners;	/* owner -> line numbers (sorted duplicates) */
	DB	*events;	/* robot\0first seq -> last seq (events.c) */
	DB	*settlements;	/* settlement id -> settlement JSON */
	DB	*opens;		/* "user\0currency" -> open settlement id */
	DB	*audit;		/* number (8 bytes BE) -> audit JSON */
	DB	*meta;		/* counter name -> int64 */
	DB	*open_lines;	/* owner -> open lines (secondary of lines) */
	/*
	 * lines.db and open.db again, not associated: a take's new line
	 * goes in through lines_raw, and its open.db entry (what the
	 * association would write) waits in pend until the batch's other
	 * messages or its commit need it; open_pending_flush writes them
	 * all in key order, one pass over open.db instead of a search
	 * from the root for each take.
	 */
	DB	*lines_raw, *open_raw;
	struct ms_buf pend;	/* per entry: owner length (2), id (8), owner */
	size_t	 npend;
	DB	*stock;		/* "robot slot" -> stock JSON (stock.c) */
	char	 home[1024];
	int	 replicated;	/* one site of a group (replica.c) */
	struct ms_dbenv_opts opts;
	/* counters held for the running batch (see store_counters_*) */
	int	 counters_loaded;
	int64_t	 next_line, next_sett, next_audit;
	json_t	*products_seen;	/* sku -> product, for this batch */
	struct evrun runs[STORE_RUNS];
	/* the batch's takes so far, for one audit record (audit_take()) */
	struct ms_buf tk;	/* their entries, "{...},{...}" */
	int64_t	 tk_first, tk_count;
	char	 tk_who[MS_TEXT_MAX + 1], tk_ts[MS_TIME_LEN];
	unsigned long runs_clock;
	int64_t	 now_ms;	/* the audit's last timestamp, formatted */
	char	 now[MS_TIME_LEN];
	void	*getbuf;	/* DB_DBT_REALLOC buffer of line_get_item */
	void	*bulk;		/* OWNER_BULK bytes for owner_lines() */
	/*
	 * What a take looks up, kept between transactions (lookup.c):
	 * card -> user (null: no user) and the slots nobody counts, as
	 * of meta.db's lookup generation lk_gen, which every change to
	 * cards.db or to which slots are counted moves on.
	 */
	struct lk_table	*lk_cards, *lk_uncounted;
	int64_t	 lk_gen;
	DB_TXN	*lk_txn;	/* the transaction that read lk_gen... */
	u_int32_t lk_txnid;	/* ...by its id */
	int	 lk_state;	/* for it: 1 read, 2 changed (no cache) */
	u_int32_t getbuflen;
};

/* What a take looks up, kept: key -> value (or none), lookup.c. */
struct lk_table {
	char	**slot;		/* "key\0value\0", or "key\0" alone */
	size_t	  cap, n;	/* cap a power of two, n < cap / 2 */
};

/* Owner keys of cart lines. */
#define OWNER_USER	"u:"	/* u:USER */
#define OWNER_CARD	"c:"	/* c:CARD, takes by an unknown card */
#define OWNER_REVIEW	"r:"	/* takes without a card, for admin review */
#define OWNER_HELD	"h:"	/* h:SKU, takes of a product not in the catalogue */

int	store_open(struct store *, const char *home, int nosync);
/* lookup.c: what a take looks up, kept between transactions */
void	lookups_forget(struct store *);
/*
 * Before txn changes cards.db or makes a slot counted: moves the lookup
 * generation on, so that no process answers from what it kept.
 */
int	lookups_changed(struct store *, DB_TXN *);
void	store_close(struct store *);
/* Close and reopen after DB_RUNRECOVERY. */
int	store_reopen(struct store *);
const char *store_home(const char *opt);	/* -d, MSCART_DB, or "." */
/* The ledger: -d, MSCART_DB or ms.conf; exits 1 unless one is there or create. */
const char *store_ledger(const char *opt, int create);

int	store_begin(struct store *, DB_TXN *parent, DB_TXN **, int readonly);
/* A read-committed transaction and a cursor on db, for a whole scan. */
int	store_scan_begin(struct store *, DB *db, DB_TXN **, DBC **);
int	store_retryable(int rc);	/* deadlock, lock not granted */
/*
 * fn with every record of db, in txn (read committed), or in a
 * read-committed scan of its own when txn is NULL.
 */
int	store_each(struct store *, DB *db, DB_TXN *txn,
	    void (*fn)(const DBT *k, const DBT *d, void *arg), void *arg);
/* A database whose keys are short strings and values JSON, as {k: v}. */
int	store_as_object(struct store *, DB *db, json_t *out);
/* fn with every cart line (line_decode()d) in a read-committed scan. */
int	store_lines_scan(struct store *, void (*fn)(json_t *line, void *arg),
	    void *arg);
/* fn with every open line and its number, from open.db (see store.c). */
int	store_open_lines_scan(struct store *,
	    void (*fn)(json_t *line, int64_t id, void *arg), void *arg);

/* JSON values by string key or by 8-byte line number. */
int	db_get_json(DB *, DB_TXN *, const char *key, json_t **, int rmw);
int	db_put_json(DB *, DB_TXN *, const char *key, const json_t *);
int	db_get_str(DB *, DB_TXN *, const char *key, char *buf, size_t len);
int	db_put_str(DB *, DB_TXN *, const char *key, const char *val);
int	db_del_str(DB *, DB_TXN *, const char *key);
/*
 * A cart line is stored as a small fixed head (state, currency, price),
 * the line's item exactly as a cart message carries it, '\n', and a JSON
 * object of the fields only the ledger sees (owner, card, ...).  A cart
 * reply is then the items copied as they are, without parsing them.
 */
struct line_head {
	char	state;		/* u(npaid) s(ettling) p(aid) v(oid) c(redit)
				   h(eld: an unknown sku, not priced yet) */
	char	currency[4];
	int64_t	price;
};
int	line_get(struct store *, DB_TXN *, int64_t id, json_t **, int rmw);
int	line_put(struct store *, DB_TXN *, int64_t id, const json_t *);
/* The whole line as one object (for scans over lines.db). */
json_t	*line_decode(const void *data, size_t size);
/* Head and item text only; item points into st's buffer.  cur: a
 * cursor on lines.db in txn, or NULL. */
int	line_get_item(struct store *, DB_TXN *, DBC *cur, int64_t id,
	    struct line_head *, const char **item, size_t *itemlen);
/*
 * The hot path of a take: a new open line of owner, the whole record
 * built by the caller, LINE_HEAD_LEN bytes of room, then item, '\n' and
 * extras ({"owner":...} first).  The head is written here; the line's
 * open.db entry is pending (open_pending_flush).
 */
#define LINE_HEAD_LEN	12	/* state, currency[3], price (8 bytes BE) */
int	line_put_rec(struct store *, DB_TXN *, int64_t id,
	    const struct line_head *, char *rec, size_t len, const char *owner);
char	line_state_char(const char *state);

/*
 * Text built in a caller's fixed buffer, for the hot paths where
 * snprintf() costs more than the database write it prepares.  Once
 * something does not fit, over is set and the rest is ignored.
 */
struct tbuf {
	char	*p;
	size_t	 n, cap;
	int	 over;
};
void	tb_init(struct tbuf *, char *buf, size_t cap);
void	tb_mem(struct tbuf *, const void *, size_t);
void	tb_str(struct tbuf *, const char *);
void	tb_i64(struct tbuf *, int64_t);
void	tb_quote(struct tbuf *, const char *);	/* as a JSON string */
int	line_id_parse(const char *, int64_t *);
void	line_id_format(int64_t, char *, size_t);

/*
 * Exactly once: whether robot's seq was applied (*dup), and, when it was
 * not and the event is applied, its claim, right after.  Claims are held
 * in memory and written by events_flush() before the batch commits;
 * events_forget() drops them when it aborts.
 */
int	event_seen(struct store *, DB_TXN *, const char *robot, int64_t seq,
	    int *dup);
int	event_claim(struct store *, DB_TXN *, const char *robot, int64_t seq);
int	events_flush(struct store *, DB_TXN *);
/* store_each() with this on events.db: one object a robot into an array. */
void	events_robot_add(const DBT *k, const DBT *d, void *arg);
void	events_forget(struct store *);

/* An integer of meta.db (dflt when missing), and setting one. */
int	meta_int_get(struct store *, DB_TXN *, const char *name, int64_t dflt,
	    u_int32_t flags, int64_t *);
int	meta_int_put(struct store *, DB_TXN *, const char *name, int64_t);

/* Counters, read once per batch with a write lock and saved at its end. */
int	store_counters_load(struct store *, DB_TXN *);
int	store_counters_save(struct store *, DB_TXN *);
void	store_counters_forget(struct store *);

/*
 * Line numbers of an owner, in order: those of owners.db and open.db
 * (owners.db has a line once it is no longer open).  The array is
 * malloc'd.
 */
int	owner_lines(struct store *, DB_TXN *, const char *owner, int64_t **ids,
	    size_t *n);
/* The same for the owner's open lines only (open.db). */
int	owner_open_lines(struct store *, DB_TXN *, const char *owner,
	    int64_t **ids, size_t *n);
int	owner_add(struct store *, DB_TXN *, const char *owner, int64_t id);
/* The open.db entries of the takes so far, written (before a read). */
int	open_pending_flush(struct store *, DB_TXN *);
/* The owner's first line number, or DB_NOTFOUND. */
int	owner_first(struct store *, DB_TXN *, const char *owner, int64_t *id);
/*
 * fn with each open line (unpaid, settling, credit, held) of owner, in
 * line order, from open.db: head, item text and its length.  A non-zero
 * return from fn ends the walk and is returned.
 */
int	open_lines_walk(struct store *, DB_TXN *, const char *owner,
	    int (*fn)(const struct line_head *, const char *item, size_t len,
	    void *arg), void *arg);
int	owner_del(struct store *, DB_TXN *, const char *owner, int64_t id);
/* 0 when line id is in owner's index, else DB_NOTFOUND or an error. */
int	owner_has(struct store *, DB_TXN *, const char *owner, int64_t id);
/* Unpaid, settling, credit or held: a state open.db indexes. */
int	line_state_open(char state);

/* Append one audit record: who did what, with details (reference stolen). */
int	audit_add(struct store *, DB_TXN *, const char *who, const char *what,
	    json_t *details);
/* The same with details already encoded: "\"k\":v,..." (may be ""). */
int	audit_add_raw(struct store *, DB_TXN *, const char *who,
	    const char *what, const char *fields);
/*
 * A take's audit entry ("\"k\":v,..."): the takes of a batch share one
 * record, {"n":N,...,"what":"take","count":K,"takes":[{...},...]}, that
 * stands for entries N to N+K-1 (mscart log shows them one by one).  It
 * is written before any other audit record and by store_counters_save().
 */
int	audit_take(struct store *, const char *who, const char *fields);
/* How such a record's head ends, before K: what tells it from others. */
#define AUDIT_TAKES_TAG	"\"what\":\"take\",\"count\":"
int	audit_flush(struct store *, DB_TXN *);

/* Products read in this batch, by sku (cleared when a batch starts). */
json_t	*product_cache(struct store *);

/* Verify every database file (no writers should be running). */
int	store_verify_files(const char *home);

extern const char *const store_db_names[];

#endif
