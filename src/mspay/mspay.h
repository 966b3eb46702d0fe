/*
 * mspay: post settlements to a payment gateway, each charged exactly once.
 * mspay.c reads charge lines and runs the transfers; gateway.c knows how
 * to ask each gateway and what its answers mean; amount.c is Stripe's
 * minor units; reconcile.c decides when the gateway must be searched
 * before a settlement goes again; ledger.c is the payroll-deduction file;
 * pace.c is how fast requests may start (--rate, and the gateway's rate
 * limit as its 429s show it).
 */
#ifndef MSPAY_H
#define MSPAY_H

#include <stdint.h>

#include <jansson.h>

enum gateway {
	GW_LEDGER,
	GW_STRIPE,
	GW_WEBHOOK
};

enum stripe_api {
	API_CHARGES,
	API_PAYMENT_INTENTS
};

/* What one attempt's answer means. */
enum verdict {
	V_SUCCEEDED,	/* charged */
	V_DECLINED,	/* a definite no from the payment network */
	V_FAILED,	/* a definite error; nothing was charged */
	V_RETRY,	/* no definite answer yet: ask again, same key */
	V_UNKNOWN	/* no definite answer and asking again will not help now */
};

struct outcome {
	enum verdict	 verdict;
	int64_t		 retry_after_ms;	/* from Retry-After, or -1 */
	char		 gateway_id[128];
	char		 code[64];
	char		 message[512];
	int64_t		 reply_amount;		/* the object's amount, or -1 */
	char		 reply_currency[8];	/* its currency, or "" */
};

/* The parts of a charge line mspay uses; pointers into the JSON. */
struct charge {
	json_t		*msg;
	unsigned long	 lineno;
	const char	*settlement;
	const char	*user;
	const char	*customer;
	const char	*key;
	const char	*currency;
	const char	*description;
	const char	*payment_method;	/* or NULL */
	int64_t		 amount;		/* ISO 4217 minor units */
	int64_t		 gw_amount;		/* what the gateway is sent */
	int64_t		 attempt;		/* 0 when the line has none */
	int64_t		 first_attempt, last_attempt;	/* ms, or -1 */
};

/* An HTTP reply as gateway.c sees it. */
struct reply {
	long		 status;	/* 0 when there was no HTTP answer */
	const char	*body;
	size_t		 len;
	int		 should_retry;	/* Stripe-Should-Retry: -1 absent, 0, 1 */
	int64_t		 retry_after_ms;/* Retry-After, -1 absent */
};

/* What searching the gateway for a settlement found. */
struct found {
	int		 succeeded, pending, failed;
	struct outcome	 paid;		/* the first succeeded object */
	struct outcome	 declined;	/* the last failed one */
};

/* gateway.c: a 429 for the account's rate, not a lock on one object. */
int	 reply_rate_limited(const struct reply *);

/* The Stripe API version the parser was written for. */
#define STRIPE_VERSION	"2024-06-20"

/* amount.c */
int	 stripe_amount(const char *currency, int64_t iso, int64_t *out,
	    char *err, size_t errlen);
int	 stripe_amount_check(const struct charge *, const struct outcome *,
	    char *err, size_t errlen);

/* reconcile.c */
int	 reconcile_needs_search(const struct charge *, int64_t now,
	    int64_t key_lifetime_ms);
int	 reconcile_may_resend(const struct charge *, int64_t searched,
	    int64_t lag_ms, char *err, size_t errlen);
int	 reconcile_outcome(const struct found *, struct outcome *);
char	*search_url(const char *base, const char *object,
	    const char *settlement);

/* gateway.c */
char	*stripe_body(const struct charge *, enum stripe_api);
char	*webhook_body(const struct charge *);
int	 webhook_signature(const char *secret, size_t secretlen, long long ts,
	    const char *body, char *out, size_t outlen);
void	 stripe_classify(const struct reply *, enum stripe_api, struct outcome *);
void	 webhook_classify(const struct reply *, struct outcome *);
void	 stripe_search_classify(const struct reply *, struct found *,
	    struct outcome *);
void	 outcome_set(struct outcome *, enum verdict, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 text_clean(char *dst, size_t dstlen, const char *src);

/* pace.c: one per run; see there. */
#define PACE_SLOTS	20
struct pace {
	double		 cap;		/* --rate, or 0 */
	double		 found;		/* the gateway's limit, or 0: no 429 yet */
	double		 tokens;
	int64_t		 filled;	/* us: tokens counted up to here */
	int64_t		 first;		/* us: the first start */
	int64_t		 cut;		/* us: found last lowered */
	int64_t		 hold_until;	/* us: no new cut before, but ... */
	unsigned long	 since_cut, limited;	/* answers since the cut, 429s */
	unsigned long	 total_limited, cuts;
	int64_t		 start_id[PACE_SLOTS], admit_id[PACE_SLOTS];
	unsigned	 starts[PACE_SLOTS], admitted[PACE_SLOTS];
};
void	 pace_init(struct pace *, double cap);
double	 pace_rate(const struct pace *);
int64_t	 pace_delay(struct pace *);
int64_t	 pace_start(struct pace *);
void	 pace_answer(struct pace *, int64_t started, int limited,
	    int64_t retry_after_ms);

/* ledger.c */
struct ledger;
/* journal: its path, or NULL for mspay-ledger.journal beside the file */
struct ledger	*ledger_open(const char *path, const char *journal, char *err,
		    size_t errlen);
/* Stage one charge; *out tells a replay or a conflict at once. */
int	 ledger_add(struct ledger *, const struct charge *, struct outcome *);
/* Write and fsync what was staged; -1 if that failed (nothing is known). */
int	 ledger_commit(struct ledger *, char *err, size_t errlen);
void	 ledger_close(struct ledger *);

#endif
