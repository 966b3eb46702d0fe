/*
 * sync/outbox.h: the robot's outbox, shared by "mscart record" and
 * "mscart push".  One file, outbox.db, in the robot's environment, with
 * two databases:
 *
 *	events	"ROBOT\0" + seq (8 bytes big-endian) -> the stamped event line
 *	state	"next:ROBOT"  -> the next seq to hand out (8 bytes BE)
 *		"acked:ROBOT" -> the highest seq the server acknowledged
 *	held	"ROBOT\0" + seq -> an event the server did not apply, kept
 *		with why: {"robot","seq","code","message","at","retry",
 *		"event"}, until an administrator has it sent again
 *
 * record appends under a fully durable commit; push deletes what the
 * server acknowledged.  A lost "delivered" mark only means a resend,
 * which the server answers with "duplicate", so push commits with
 * DB_TXN_NOSYNC.
 */
#ifndef MSCART_SYNC_OUTBOX_H
#define MSCART_SYNC_OUTBOX_H

#include <stdint.h>

#include "dbenv.h"
#include "ms.h"

struct outbox {
	DB_ENV	*env;
	DB	*events;
	DB	*state;
	DB	*held;
	char	 home[1024];
	char	 robot[MS_ID_MAX + 1];
};

/* One event read back from the outbox (line is malloc'd). */
struct outbox_event {
	int64_t	 seq;
	char	*line;
	size_t	 len;
};

int	outbox_open(struct outbox *, const char *home, const char *robot,
	    char *err, size_t errlen);
void	outbox_close(struct outbox *);
void	outbox_abandon(struct outbox *);	/* after an error: no sync */
int	outbox_reopen(struct outbox *, char *err, size_t errlen);
/* Deadlocks and the like: abort the transaction and run it again. */
int	outbox_retryable(int rc);

/*
 * Retrying a failed transaction.  Every outbox transaction is begun with
 * DB_TXN_NOWAIT: a process killed inside a transaction keeps its locks
 * until someone runs recovery, and a wait for them would never end.  So
 * a busy lock is retried after a short pause, and after REOPEN_MS the
 * environment is opened again, which with DB_REGISTER runs recovery if
 * a process died.  DB_RUNRECOVERY (another opener ran recovery) also
 * reopens.  outbox_again returns 0 to try again, or the error to give
 * up with.
 */
struct outbox_retry {
	int64_t	start, reopened;
	int	tries;
};
int	outbox_again(struct outbox *, struct outbox_retry *, int rc);
int	outbox_txn_begin(struct outbox *, DB_TXN **);
/*
 * When not 0, every outbox transaction arms alarm(2) for this long.  A
 * process SIGKILLed while it holds one of Berkeley DB's region mutexes
 * (not a lock: those time out) leaves everyone else blocked in the
 * mutex for good; the SIGALRM handler of the program (push) then starts
 * it afresh, and its DB_REGISTER open recovers the environment.
 */
extern unsigned int outbox_watchdog_secs;
/*
 * For those handlers: start the program again as a child, argv, and stay
 * as its parent until it exits, passing on SIGTERM, SIGINT and SIGHUP,
 * then exit with its status.  Every descriptor from 3 up but keep (-1
 * for none) is closed first: the stuck image's DB_REGISTER slot then
 * looks dead, so the child's open recovers the environment (with the
 * same pid, an exec in place, DB_REGISTER refuses to open).  Never
 * returns; async-signal-safe.
 */
void	outbox_restart(char **argv, int keep) __attribute__((noreturn));

/* A counter ("next" or "acked"); *out = 0 when it was never written. */
int	outbox_counter_get(struct outbox *, DB_TXN *, const char *name,
	    int64_t *out, int rmw);
int	outbox_counter_put(struct outbox *, DB_TXN *, const char *name,
	    int64_t value);
int	outbox_event_put(struct outbox *, DB_TXN *, int64_t seq,
	    const char *line, size_t len);
/* The stored line of one seq, or DB_NOTFOUND. line is malloc'd. */
int	outbox_event_get(struct outbox *, DB_TXN *, int64_t seq, char **line,
	    size_t *len);

/*
 * Up to max events with seq > after, in seq order, in their own
 * transaction.  *n is how many were read.
 */
int	outbox_read_after(struct outbox *, int64_t after, struct outbox_event *,
	    size_t max, size_t *n);
/*
 * An event the server answered but did not apply (an error it gives for
 * good, or a reply push could not read): it leaves the outbox for the
 * held database, never for nowhere.
 */
struct outbox_refusal {
	int64_t	 seq;
	char	 code[32];
	char	*message;	/* malloc'd, or NULL */
};
/*
 * Mark everything up to seq delivered and drop it from the outbox; the
 * n refusals among them (in seq order, all <= seq) move to held first.
 */
int	outbox_mark_delivered(struct outbox *, int64_t seq,
	    const struct outbox_refusal *, size_t n);

/*
 * The held events.  list calls fn with each record of the robot (a JSON
 * object, see above); retry marks one (seq) or all (seq 0) to be sent
 * again and counts them in *n; due reads those marked, up to max, as
 * events (their stored lines); settle ends a resend: code NULL (the
 * server applied it) drops the record, else the new refusal replaces
 * the old one and the mark is cleared.
 */
int	outbox_held_list(struct outbox *, void (*fn)(const char *rec,
	    size_t len, void *arg), void *arg);
int	outbox_held_retry(struct outbox *, int64_t seq, size_t *n);
int	outbox_held_due(struct outbox *, struct outbox_event *, size_t max,
	    size_t *n);
int	outbox_held_settle(struct outbox *, int64_t seq, const char *code,
	    const char *message);
/* The last seq recorded and the last one acknowledged. */
int	outbox_positions(struct outbox *, int64_t *last, int64_t *acked);

#endif
