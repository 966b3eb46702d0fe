/*
 * fakegpiod_core.h: the kernel side that both fake libgpiods share
 * (tests/fakegpiod.c for the v1 API, tests/fakegpiod2.c for v2): chips
 * with lines that have a physical level, requests holding lines, edge
 * events queued per request, the kernel's debounce, and the scripts
 * (FAKEGPIOD_SCRIPT, FAKEGPIOD_FIFO) that move the levels.  What it
 * emulates and which environment it reads is said in fakegpiod_core.c.
 */
#ifndef FAKEGPIOD_CORE_H
#define FAKEGPIOD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))
#define FK_REQUEST_MAX	64	/* lines in one request, as the kernel's */

enum fk_bias { FK_BIAS_AS_IS, FK_BIAS_DISABLE, FK_BIAS_PULL_UP,
	FK_BIAS_PULL_DOWN };
enum fk_clock { FK_CLOCK_MONOTONIC, FK_CLOCK_REALTIME };
/* FAKEGPIOD_DEBOUNCE: what the kernel does with a debounce period. */
enum fk_debounce { FK_DEBOUNCE_YES, FK_DEBOUNCE_EINVAL, FK_DEBOUNCE_IGNORE };

struct fk_settings {
	int		 active_low;
	enum fk_bias	 bias;
	int64_t		 debounce_ns;	/* 0: none */
	enum fk_clock	 clock;
};

struct fk_event {
	unsigned int	 offset;
	int		 rising;	/* the logical level went up */
	int64_t		 ts_ns;		/* on the line's clock */
	unsigned long	 seqno;		/* in the request */
	unsigned long	 line_seqno;	/* on the line */
};

struct fk_request;

struct fk_line {
	int		 phys;		/* -1 floating, 0 low, 1 high */
	char		 consumer[32];	/* "" while free */
	struct fk_request *req;		/* NULL unless we requested it */
	struct fk_settings set;
	int		 debounced;	/* the kernel debounces it */
	int		 reported;	/* the logical level last reported */
	int64_t		 due_ns;	/* debounce: report then; 0 if not */
	unsigned long	 seqno;
};

struct fk_chip {
	char		 name[32];	/* gpiochipN: /dev/gpiochipN */
	char		 label[64];
	unsigned int	 nlines;
	struct fk_line	*lines;
};

struct fk_request {
	struct fk_chip	*chip;
	int		 pipe[2];	/* readable while events are queued */
	struct fk_event	*q;
	size_t		 qhead, qlen, qcap;
	unsigned long	 seqno;
	size_t		 n;
	unsigned int	 offsets[FK_REQUEST_MAX];
};

size_t		 fk_nchips(void);
struct fk_chip	*fk_chip_at(size_t);
/* "/dev/gpiochip0"; NULL with errno ENOENT (ENODEV: a file, not a chip). */
struct fk_chip	*fk_chip_by_path(const char *path);
enum fk_debounce fk_debounce_mode(void);

/*
 * Request n lines of chip with their settings, all or none: NULL with
 * errno EINVAL (no such offset, or a debounce the kernel refuses) or
 * EBUSY (a line is held, by us or by another).
 */
struct fk_request *fk_request(struct fk_chip *, const unsigned int *offsets,
		    const struct fk_settings *, size_t n, const char *consumer);
void		 fk_release(struct fk_request *);
/* The logical level of a requested line. */
int		 fk_value(struct fk_request *, unsigned int offset);
/* Like read(2) on the kernel's descriptor: blocks until one event. */
int		 fk_read(struct fk_request *, struct fk_event *, size_t max);
/* Like poll(2) on it: 1 events queued, 0 timeout (NULL: forever), -1. */
int		 fk_wait(struct fk_request *, const struct timespec *timeout);
/*
 * Apply what the script and the debounce had due by now, as the kernel,
 * which is not stopped with the program, would have.  fk_read and fk_wait
 * do it first; a fake that polls the descriptors itself calls it.
 */
void		 fk_catch_up(void);
/* A line's holder ("" if free), under the lock. */
void		 fk_line_consumer(struct fk_chip *, unsigned int offset,
		    char *buf, size_t len);

/* FAKEGPIOD_LOG: one line, and a request's lines grouped by flags. */
void		 fk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void		 fk_log_request(const struct fk_chip *, const unsigned int *,
		    const struct fk_settings *, size_t n, const char *consumer,
		    int with_kernel_settings);
void		 fk_offsets(char *buf, size_t len, const unsigned int *, size_t n);

#endif
