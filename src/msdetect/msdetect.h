/* msdetect.h: what msdetect's own files share. */
#ifndef MSDETECT_H
#define MSDETECT_H

#include <stdint.h>

#include "gpio.h"
#include "ms.h"

#define DEBOUNCE_DEFAULT_MS	20
#define DEBOUNCE_MAX_MS		10000
#define CHIP_NAME_MAX		256

enum sensor_kind {
	SENSOR_PRESENCE,	/* active while an item sits in the slot */
	SENSOR_PULSE,		/* one active pulse per item taken */
	SENSOR_DOOR		/* active while the door is open */
};

struct pg_line {
	unsigned int	 offset;
	enum sensor_kind kind;
	char		 slot[MS_ID_MAX + 1];	/* "" for the door */
	char		 sku[MS_ID_MAX + 1];
	int		 active_low;
	enum gpio_bias	 bias;
	int64_t		 debounce_ns;
	unsigned long	 lineno;		/* where the file said so */
};

#define OPERATORS_MAX		32	/* operator cards in a planogram */

struct planogram {
	const char	*source;		/* the path it was loaded from */
	char		 chip[CHIP_NAME_MAX];
	unsigned long	 chip_lineno;
	struct pg_line	 lines[GPIO_LINES_MAX];
	size_t		 n;
	/* cards whose session is an operator's refill, not a customer's */
	char		 operators[OPERATORS_MAX][MS_CARD_MAX];
	size_t		 nops;
};

/*
 * planogram.c: 0, or -1 after "msdetect: FILE:LINE: reason" messages.
 * The planogram keeps path (for later messages): it must outlive it.
 */
int	planogram_load(const char *path, struct planogram *);
/* Index of the line with that offset, or -1. */
int	planogram_find(const struct planogram *, unsigned int offset);
const char *sensor_kind_name(enum sensor_kind);
int	planogram_is_operator(const struct planogram *, const char *card);

/*
 * replay.c: one line of an edge script, shared by -r and the fake
 * libgpiod's script format (see msdetect(1)):
 *	TIME OFFSET rising|falling	an edge TIME seconds in
 *	level OFFSET high|low		a starting level, before any edge
 * Blank lines and lines starting with '#' are REPLAY_NONE.
 */
enum replay_kind { REPLAY_NONE, REPLAY_EDGE, REPLAY_LEVEL };
struct replay_rec {
	enum replay_kind kind;
	int64_t		 t_ns;		/* REPLAY_EDGE */
	unsigned int	 offset;
	int		 high;		/* physical level after it */
};
int	replay_parse(char *line, struct replay_rec *, char *err, size_t errlen);

/*
 * attribute.c: the timeline.  Lines from stdin and settled sensor events
 * are held there, written in time order, and each take or return is
 * charged to the session open at its time (see msdetect(1), Sessions).
 * Times are on msdetect's clock (CLOCK_MONOTONIC, or the replay's).
 */
#define TL_WINDOW_DEFAULT_NS	INT64_C(1000000000)	/* -w 1 */
/*
 * How long after its time an edge may still be on its way into the
 * queue msdetect reads (the kernel stamps it in the interrupt and queues
 * it just after); the queue is read to its end every time round.
 */
#define TL_EDGE_LATE_DEFAULT_NS	INT64_C(10000000)	/* 10 ms */
#define TL_MARGIN_DEFAULT_NS	INT64_C(250000000)	/* -a 0.25 */
#define TL_SESSION_DEFAULT_NS	INT64_C(20000000000)	/* -t 20 */

struct tl_config {
	int64_t		 window_ns;	/* -w: how late a stdin line may come */
	int64_t		 edge_late_ns;	/* how late an edge may be queued */
	int64_t		 margin_ns;	/* -a: too close to a change of card */
	int64_t		 session_ns;	/* -t: idle time that ends a session */
	int64_t		 kernel_debounce_ns; /* the longest the kernel does */
	int		 end_on_depart;	/* not -D */
	const struct planogram *pg;	/* its operator cards, or NULL */
};
extern struct tl_config tl_cfg;

enum tl_line_kind { TL_OTHER, TL_IDENTIFY, TL_DEPART };

/* The timeline starts at now: nothing is placed before it. */
void	tl_start(int64_t now);

/*
 * A line read from stdin at now, to be passed on: an identify or depart
 * of card at t (its ts), or another line (t INT64_MIN: as early as its
 * place in stdin allows).
 */
void	tl_line(const char *line, size_t len, enum tl_line_kind,
	    const char *card, int64_t t, int64_t now);
/* A take or return on l, or the door opening or closing, at t. */
void	tl_item(const struct pg_line *l, int take, int64_t t, int64_t read_ns);
void	tl_door(int open, int64_t t, int64_t read_ns);
/*
 * Write what can no longer be preceded by anything: pending is the
 * oldest change still settling in msdetect's own debounce (INT64_MAX if
 * none); read_ns when the input that made it due was read (-v).
 */
void	tl_release(int64_t now, int64_t pending, int64_t read_ns);
/* ns until tl_release has something to do (0: now), -1 for nothing. */
int64_t	tl_next(int64_t now, int64_t pending);
int	tl_holding(void);
/* Stopping: write everything held, then end the session (eof). */
void	tl_finish(int64_t now);

/* msdetect.c: the clock and the output, for attribute.c. */
void	ts_format(int64_t ts_ns, char buf[MS_TIME_LEN]);
void	event_write(int64_t read_ns, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
