/*
 * libms: the pieces every ms tool shares.  One header for the whole
 * library keeps the include lines short; each section names the .c file
 * that implements it.
 */
#ifndef MS_H
#define MS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes, the same for every tool (see ms(7)). */
enum {
	MS_EX_OK = 0,
	MS_EX_FAIL = 1,
	MS_EX_USAGE = 2,
	MS_EX_TEMPFAIL = 75
};

/*
 * A reason into the caller's err buffer (of errlen bytes), if it gave
 * one: for functions with "char *err, size_t errlen" parameters.
 */
#define SET_ERR(...) do { if (err) snprintf(err, errlen, __VA_ARGS__); } while (0)

/*
 * buf.c: a string that grows as bytes are added (NUL-terminated).  Start
 * from { 0 }; once an allocation fails, failed stays set and nothing more
 * is added.  The caller frees p.
 */
struct ms_buf {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};
void	ms_buf_add(struct ms_buf *, const void *, size_t);

/* diag.c: "prog: message" on stderr. */
extern const char *ms_prog;
void	ms_setprog(const char *argv0);
void	ms_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	ms_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	ms_errx(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	ms_err(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
/* "prog: source:line: message" */
void	ms_warn_at(const char *source, unsigned long line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Checked numeric option: whole string, base 10, within [min, max]. */
int	ms_parse_long(const char *s, long min, long max, long *out);
/* Checked decimal seconds ("2", "0.25") into milliseconds. */
int	ms_parse_seconds(const char *s, int64_t *ms);

/*
 * ndjson.c: reading.  The reader works on a file descriptor with its own
 * buffer so that poll(2) loops and group commit can ask whether a whole
 * line is already waiting.  Lines longer than maxlen are rejected whole
 * (the rest up to the newline is skipped), never truncated or split.
 */
#define MS_LINE_MAX_DEFAULT (64 * 1024)

struct ms_reader {
	int		 fd;
	const char	*source;	/* for messages: "-" or a path */
	unsigned long	 lineno;	/* number of the line last returned */
	size_t		 maxlen;	/* longest accepted line, without '\n' */
	char		*buf;
	size_t		 cap, start, end;
	int		 skipping;	/* inside an oversized line */
	int		 eof;		/* read(2) returned 0 */
	int		 error;		/* errno of a failed read, or 0 */
	/* the line last returned by ms_reader_line(), NUL-terminated */
	char		*line;
	size_t		 len;
};

enum ms_read_result {
	MS_READ_LINE = 1,	/* r->line, r->len hold the next line */
	MS_READ_EOF = 0,	/* no more input */
	MS_READ_BAD = -1,	/* a line was consumed and rejected; see err */
	MS_READ_AGAIN = -2,	/* nonblocking: no whole line buffered yet */
	MS_READ_ERROR = -3	/* read(2) failed; errno in r->error */
};

void	ms_reader_init(struct ms_reader *, int fd, const char *source);
void	ms_reader_free(struct ms_reader *);
/* Next raw line; blocks in read(2) unless nonblock is set. */
int	ms_reader_line(struct ms_reader *, int nonblock, char *err, size_t errlen);
/* True if a whole line (or EOF) can be returned without blocking. */
int	ms_reader_ready(const struct ms_reader *);
/* Bytes to read before the descriptor's, as if read(2) had returned them. */
int	ms_reader_prefill(struct ms_reader *, const void *data, size_t len);
/* One read(2) of what is available; use after poll(2) says readable. */
int	ms_reader_fill(struct ms_reader *);
/* Next line parsed as a JSON object (MS_READ_BAD with a reason otherwise). */
int	ms_reader_next(struct ms_reader *, int nonblock, json_t **out,
	    char *err, size_t errlen);
/*
 * s as a JSON string literal, quotes included, NUL-terminated in buf:
 * its length, or -1 if it does not fit in len bytes.
 */
int	ms_json_quote(char *buf, size_t len, const char *s);
/* Parse one line: valid UTF-8, no duplicate keys, an object, no NUL. */
json_t	*ms_json_parse_line(const char *line, size_t len, char *err, size_t errlen);

/* ndjson.c: writing.  Compact object + '\n'.  A failed write is sticky. */
int	ms_write_json(FILE *, const json_t *, int flush);
int	ms_write_raw(FILE *, const char *line, size_t len, int flush);
/* Flush and check stdout at exit: 0 if every write succeeded. */
int	ms_write_failed(void);
int	ms_close_stdout(void);

/*
 * msg.c: validation against ms-events(5).  Each validator returns 0 or
 * -1 with a reason such as 'take: field "slot" must be a string'.
 */
enum ms_msg_type {
	MS_MSG_UNKNOWN = 0,
	MS_MSG_IDENTIFY, MS_MSG_DEPART, MS_MSG_TAKE, MS_MSG_RETURN,
	MS_MSG_DOOR, MS_MSG_ALARM, MS_MSG_SESSION_END,
	MS_MSG_QUERY, MS_MSG_CART, MS_MSG_PAY, MS_MSG_SETTLEMENT,
	MS_MSG_ACK, MS_MSG_ERROR, MS_MSG_CHARGE, MS_MSG_CHARGED,
	MS_MSG_PRODUCT, MS_MSG_USER, MS_MSG_OUTCOME, MS_MSG_RESTOCK,
	MS_MSG_HELLO,
	MS_MSG_NTYPES
};

#define MS_ID_MAX	64	/* robot, user, sku, slot, request ids */
#define MS_NAME_MAX	200	/* product and user names */
#define MS_TEXT_MAX	1000	/* messages, descriptions */
#define MS_KEY_MAX	255	/* idempotency keys (Stripe's limit) */
#define MS_CARDS_MAX	16	/* cards per user */
#define MS_ITEMS_MAX	10000	/* items in one cart reply */
#define MS_WAIT_MAX	600	/* a pay's wait for its outcome, seconds */
#define MS_CART_PAGE	100	/* items in a query's cart, at most */
#define MS_ACK_ITEMS	20	/* items in an identify ack's cart, at most */
#define MS_STOCK_MAX	100000	/* items counted in one slot, at most */

enum ms_msg_type ms_msg_type(const json_t *);	/* from its "type" */
const char	*ms_msg_type_name(enum ms_msg_type);
int		 ms_msg_is_event(enum ms_msg_type);	/* robot events */
/* Validate any message by its "type". */
int	ms_msg_validate(const json_t *, char *err, size_t errlen);
int	ms_validate_identify(const json_t *, char *, size_t);
int	ms_validate_depart(const json_t *, char *, size_t);
int	ms_validate_take(const json_t *, char *, size_t);
int	ms_validate_return(const json_t *, char *, size_t);
int	ms_validate_door(const json_t *, char *, size_t);
int	ms_validate_alarm(const json_t *, char *, size_t);
int	ms_validate_session_end(const json_t *, char *, size_t);
int	ms_validate_restock(const json_t *, char *, size_t);
int	ms_validate_query(const json_t *, char *, size_t);
int	ms_validate_cart(const json_t *, char *, size_t);
int	ms_validate_pay(const json_t *, char *, size_t);
int	ms_validate_settlement(const json_t *, char *, size_t);
int	ms_validate_ack(const json_t *, char *, size_t);
int	ms_validate_error(const json_t *, char *, size_t);
int	ms_validate_charge(const json_t *, char *, size_t);
int	ms_validate_charged(const json_t *, char *, size_t);
int	ms_validate_product(const json_t *, char *, size_t);
int	ms_validate_outcome(const json_t *, char *, size_t);
int	ms_validate_hello(const json_t *, char *, size_t);
int	ms_validate_user(const json_t *, char *, size_t);
/* Characters (not bytes) of a UTF-8 string. */
size_t	ms_utf8_chars(const char *);
/* Drop a character that a byte limit cut in the middle, at the end of s. */
void	ms_utf8_cut(char *s);
/* An identifier: 1..MS_ID_MAX of [A-Za-z0-9._@-], not starting with '-'. */
int	ms_id_valid(const char *);
/* "robot:seq" of a recorded event into buf; -1 if it has none. */
int	ms_event_id(const json_t *, char *buf, size_t len);

/* mstime.c: RFC 3339 UTC with milliseconds: 2026-11-28T11:00:00.123Z */
#define MS_TIME_LEN 25	/* with the NUL */
int64_t	ms_now_ms(void);		/* wall clock, ms since the epoch */
int64_t	ms_mono_ms(void);		/* CLOCK_MONOTONIC, ms */
int64_t	ms_mono_ns(void);		/* CLOCK_MONOTONIC, ns */
void	ms_time_format(int64_t ms, char buf[MS_TIME_LEN]);
int	ms_time_parse(const char *, int64_t *ms);

/*
 * money.c: integer minor units.  Amounts on the wire are 0..MS_AMOUNT_MAX
 * (exactly representable as a double, so any JSON reader keeps them).
 */
#define MS_AMOUNT_MAX	INT64_C(999999999999999)
int	ms_amount_valid(int64_t);
/* a + b or a * n into *out; -1 (and *out untouched) on overflow. */
int	ms_money_add(int64_t a, int64_t b, int64_t *out);
int	ms_money_sub(int64_t a, int64_t b, int64_t *out);
int	ms_money_mul(int64_t a, int64_t n, int64_t *out);
/* ISO 4217 minor-unit exponent (JPY 0, USD 2, BHD 3), -1 if unknown. */
int	ms_currency_exponent(const char *code);
int	ms_currency_valid(const char *code);
/* "1,234.50 USD", "300 JPY"; -1 on an unknown currency. */
int	ms_money_format(int64_t amount, const char *code, char *buf, size_t len);

/* card.c: tokens "tech:UPPERHEX", "line:text", "hmac:UPPERHEX(64)". */
#define MS_CARD_MAX 160
int	ms_card_valid(const char *tok, char *err, size_t errlen);
int	ms_card_make(char *buf, size_t len, const char *tech,
	    const uint8_t *uid, size_t uidlen);
/* hmac:HEX of HMAC-SHA256(key, "tech:UIDHEX"); buf >= 70 bytes. */
int	ms_card_hmac(char *buf, size_t len, const uint8_t *key, size_t keylen,
	    const char *plain_token);
int	ms_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
	    size_t len, char hex[65]);
/*
 * Read a secret (key) file.  Refused when group or others may read it.
 * Trailing newlines are stripped.  *out is malloc'd; the caller gives it
 * back with ms_secret_free().
 */
int	ms_read_secret(const char *path, char **out, size_t *outlen,
	    char *err, size_t errlen);
/* Wipe a secret's len bytes and free it (NULL is fine). */
void	ms_secret_free(char *secret, size_t len);

/* sig.c */
extern volatile sig_atomic_t ms_sig_stop;	/* SIGINT, SIGTERM */
extern volatile sig_atomic_t ms_sig_reload;	/* SIGHUP */
/* Install handlers without SA_RESTART (so blocking calls see EINTR),
 * and ignore SIGPIPE so a closed pipe is a write error. */
void	ms_sig_install(int want_reload);
/*
 * poll(2) that a stop or reload signal always ends, even one that came
 * just before the wait (the flags are checked with those signals blocked,
 * and ppoll lets them in): -1 with EINTR then.  timeout in ms, -1 none.
 */
struct pollfd;
int	ms_sig_poll(struct pollfd *, unsigned long nfds, int timeout_ms);

#endif
