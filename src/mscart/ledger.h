/* ledger.h: the message loop of apply/serve/settle/import and its pieces. */
#ifndef MSCART_LEDGER_H
#define MSCART_LEDGER_H

#include "store.h"

/* A string or integer field of a JSON object (NULL or 0 when missing). */
static inline const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static inline json_int_t
num(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

enum role_kind { ROLE_ADMIN, ROLE_ROBOT, ROLE_TERMINAL };

struct role {
	enum role_kind	kind;
	char		id[MS_ID_MAX + 1];	/* robot or user id */
	char		who[MS_ID_MAX + 32];	/* for the audit trail: the role,
					   and an admin's command and login
					   (admin:void@alice) */
};

int	role_parse(const char *, struct role *);
/* An admin role for the audit trail: "admin:HOW@LOGIN", or "admin:HOW". */
void	role_admin(struct role *, const char *how);

struct loop_opts {
	const struct role *role;
	unsigned long	 allowed;	/* bit (1 << type) per accepted type */
	int		 quiet;		/* errors to stderr, no replies */
	int		 warn;		/* errors to stderr too */
	int		 batch_max;	/* lines per transaction */
	int		*stopped;	/* set to 1 if a signal stopped the loop
					   before the end of its input */
	int		 outcomes;	/* serve: a pay with "wait" is followed
					   by its outcome (settlement_watch) */
	long		*charged;	/* settle: charged results applied, by
					   CHARGED_* (NULL: not counted) */
	const char	*writer;	/* a command whose every line writes
					   (import, settle): on a site that is
					   not the master it reads nothing */
};

/* The results of charged messages a settlement run counts. */
enum { CHARGED_PAID, CHARGED_DECLINED, CHARGED_FAILED, CHARGED_UNKNOWN,
	CHARGED_NRESULTS };

#define TYPE_BIT(t)	(1UL << (t))
#define ALLOW_ALL	(~0UL)

/*
 * Read NDJSON messages from fd, apply them in group-committed batches and
 * write one reply per line after the commit.  Returns the number of
 * refused lines, or -1 on a fatal error.  A batch stuck for
 * MSCART_WATCHDOG seconds (60; 0 for no limit) behind a killed process's
 * Berkeley DB mutex makes the process say so and exit 75.
 */
long	ledger_loop(struct store *, int fd, const char *source,
	    const struct loop_opts *);

/* A cart message for an owner ("u:USER" or "c:CARD"), with every item. */
int	cart_build(struct store *, DB_TXN *, const char *user, const char *card,
	    int all, json_t **cart);
/* The same with the first max open items only (an identify's ack). */
int	cart_build_page(struct store *, DB_TXN *, const char *user,
	    const char *card, size_t max, json_t **cart);

/*
 * Run fn in a transaction, retrying deadlocks and reopening after
 * DB_RUNRECOVERY.  fn must be safe to run again from the start.
 */
int	run_txn(struct store *, int (*fn)(struct store *, DB_TXN *, void *),
	    void *arg);
/* The same, but the transaction is aborted at the end: a dry run. */
int	run_txn_dry(struct store *, int (*fn)(struct store *, DB_TXN *,
	    void *), void *arg);


/*
 * Settlements (settlement.c).  The retry schedule after a decline: again
 * no sooner than SETTLE_RETRY_MS later, and after SETTLE_DECLINES_MAX
 * declines in a row not until the payment reference changes.
 */
#define SETTLE_RETRY_MS		(3LL * 24 * 3600 * 1000)
#define SETTLE_DECLINES_MAX	3
int	settlement_open(struct store *, DB_TXN *, const char *who,
	    const char *user, const char *currency, json_t **sett);
void	settlement_freeze(json_t *sett, const json_t *user);
int	settlement_end(struct store *, DB_TXN *, const char *who, json_t *sett,
	    const char *state, const char *code, const char *message);
int	settlement_hold(const json_t *user, int64_t now, int64_t retry_ms,
	    char *why, size_t len);
json_t	*settlement_message(const json_t *stored);
/*
 * What a device is told of its payment (an outcome message): paid,
 * declined, failed or review with a reason a person can act on, or
 * pending while the settlement is open.  id: the pay's id, or NULL.
 */
json_t	*settlement_outcome(const json_t *stored, const json_t *id);
int	user_default_currency(struct store *, DB_TXN *, const char *user,
	    char cur[4]);

/*
 * Notes for mscart status (health.c), in meta.db: a value under key
 * (stolen), in a transaction of its own; a robot's last contact, now,
 * and the outbox backlog it reported (-1: none reported), in the
 * caller's transaction.
 */
int	health_note(struct store *, const char *key, json_t *value);
int	health_robot_contact(struct store *, DB_TXN *, const char *robot,
	    int64_t backlog);
/* A settlement run (settle) ended, well or not, with these results. */
int	health_settle_run(struct store *, int ok, const long *charged);

/*
 * mscart report's groups (cmd_admin.c): a line added to the groups of
 * one "by" (product, robot, user, day, month), as report counts it, and
 * one set of such groups added to another.
 */
void	report_group_line(const char *by, json_t *groups, json_t *line);
void	report_merge(json_t *dst, json_t *src);
/*
 * Add to groups what the lines mscart archive moved out of the ledger
 * counted by "by", for a report of lines taken in [from, to)
 * (archive.c).  Archived lines are counted whole or not at all: a period
 * that cuts into them is said on stderr.
 */
int	archive_report_add(struct store *, const char *by, int64_t from,
	    int64_t to, json_t *groups);

/* Move the takes an unknown card made onto its new user (apply_admin.c). */
int	card_claim_lines(struct store *, DB_TXN *, const char *who,
	    const char *card, const char *user);

#endif
