/*
 * apply.h: what the message handlers share (dispatch.c, apply_*.c,
 * settlement.c, cart.c, lookup.c, loop.c).  The messages of a batch share
 * one transaction (group commit).  So that nothing from a refused line is
 * applied, every handler makes all its checks before its first write: a
 * refusal (refuse()) never follows a put or a delete (the one exception,
 * an event's id, is taken back on refusal).  (Child transactions would
 * give the same guarantee at twice the cost.)
 */
#ifndef MSCART_APPLY_H
#define MSCART_APPLY_H

#include "ledger.h"

/*
 * A robot event's fields, looked up by the feeder thread (loop.c) while
 * the main thread applies the batch before: the take's hot path reads
 * them here instead of looking them up in the message again.
 */
struct evfields {
	const char	*robot, *slot, *sku, *card, *ts;
	json_int_t	 seq;
	int		 ok;		/* robot and an integer seq: event set */
	char		 event[MS_ID_MAX + 24];	/* "robot:seq" */
};

struct ctx {
	const struct evfields *f;	/* or NULL: apply_event fills own */
	struct evfields	 own;
	struct store	*st;
	DB_TXN		*txn;
	const struct role *role;
	const char	*source;
	unsigned long	 line;
	json_t		*msg;
	json_t		*reply;
	char		*raw;		/* or the reply already encoded */
	size_t		 rawlen;
	int		 refused;
	int		 forbidden;
	int		 unchanged;	/* accepted, but it changed nothing (a
					   charged result given again) */
	char		 event[MS_ID_MAX + 24];	/* "robot:seq" or "" */
};

/* apply_event.c: an event's fields, looked up in m */
void	 evfields_fill(struct evfields *, const json_t *m);

/* dispatch.c */
int	 dispatch(struct ctx *, enum ms_msg_type);
json_t	*error_reply(const json_t *msg, const char *code, const char *source,
	    unsigned long line, const char *event, const char *text);
/*
 * Record a forbidden line in the audit trail, bounded: an excerpt, not
 * the whole line, and past a burst at most one record a second, which
 * counts the ones left out.
 */
int	 audit_forbidden(struct ctx *);
/* Refuse the line: its reply becomes an error; returns 0. */
int	 refuse(struct ctx *, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The handlers. */
int	 apply_event(struct ctx *, enum ms_msg_type);	/* apply_event.c */
int	 apply_query(struct ctx *);			/* apply_query.c */
int	 apply_pay(struct ctx *);			/* settlement.c */
int	 apply_charged(struct ctx *);			/* settlement.c */
int	 apply_product(struct ctx *);			/* apply_admin.c */
int	 apply_user(struct ctx *);			/* apply_admin.c */
int	 apply_hello(struct ctx *);			/* health.c */

/* apply_query.c: the user a query or pay names, with the role check. */
int	 resolve_user(struct ctx *, const char *what, char *user, size_t len,
	    json_t **urec);

/* lookup.c */
int	 card_user(struct store *, DB_TXN *, const char *card, char *user,
	    size_t len);
/* The products kept (sku -> record) for txn, or NULL: read products.db. */
json_t	*products_kept(struct store *, DB_TXN *);
/* A slot nobody counts, as kept (1), or not known to be (0). */
int	 slot_uncounted(struct store *, DB_TXN *, const char *key);
void	 slot_uncounted_add(struct store *, DB_TXN *, const char *key);
void	 catalog_currency(struct store *, DB_TXN *, char cur[4]);
int	 currency_of(struct store *, DB_TXN *, const json_t *urec,
	    const char *user, char cur[4]);
int	 state_is_open(char state);

/* cart.c */
int	 cart_text(struct store *, DB_TXN *, const char *user, json_t *urec,
	    const char *card, int all, const char *reqid, size_t offset,
	    size_t max, struct ms_buf *out);

/* stock.c: a slot's counted stock ("robot slot" in stock.db). */
struct restock {
	const char	*robot, *slot;
	const char	*sku;		/* NULL: the slot's, which it must have */
	int64_t		 count;		/* the level it is set to, or */
	int64_t		 added;		/* with delta: what goes on it */
	int		 delta;
	const char	*ts;		/* when it was counted */
	const char	*who;		/* the role, for the audit trail */
	const char	*event;		/* "robot:seq", or NULL by hand */
	const char	*card;		/* the operator's, or NULL */
};
int	 stock_get(struct store *, DB_TXN *, const char *robot,
	    const char *slot, json_t **rec, int rmw);
/* A take: one out of a counted slot; *beyond when it had none left. */
int	 stock_take(struct store *, DB_TXN *, const char *robot,
	    const char *slot, int *beyond);
/* A matched return: one back into a counted slot. */
int	 stock_return(struct store *, DB_TXN *, const char *robot,
	    const char *slot);
/*
 * A restock: sets the level (a count), or adds to a counted one (a
 * delta: a slot not counted stays so), with its audit record.
 */
int	 stock_set(struct store *, DB_TXN *, const struct restock *);

/* watchdog.c */
void	 watchdog_arm(void);
void	 watchdog_disarm(void);

#endif
