/*
 * fakegpiod.c: a stand-in for libgpiod 1.6 (the v1 API) and the kernel
 * GPIO character device behind it, for machines without GPIO hardware,
 * gpio-sim or configfs.  Built as $(BUILD)/fakegpiod.so and used with
 * LD_PRELOAD over the real libgpiod, so msdetect runs its real libgpiod
 * code path (src/msdetect/gpio_v1.c) against it.  It exports exactly
 * the v1 functions msdetect calls; the gpiod_line_bulk_* helpers are
 * static inline in <gpiod.h> and work on our lines unchanged.
 *
 * What it stands in for: one chip whose lines have a physical level.
 * A script changes the levels; each change on a line requested for
 * edge events is queued as a GPIOD_LINE_EVENT_RISING_EDGE/FALLING_EDGE
 * event with a CLOCK_MONOTONIC timestamp, as the kernel does; with
 * GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW the event type and the values read
 * are inverted, as the kernel does.  A line nobody set floats to high
 * when requested with BIAS_PULL_UP and to low otherwise.  Each requested
 * line has its own event descriptor (a pipe) that polls readable while
 * the line has events queued.  Not emulated: the kernel's 16-event
 * queue limit, hardware debounce, output lines, line info and watches.
 *
 * Environment:
 *   FAKEGPIOD_CHIP=NAME    the chip's name (default gpiochip0); opening
 *                          any other name (or /dev/NAME) fails ENOENT.
 *   FAKEGPIOD_LINES=N      lines on the chip (default 64).
 *   FAKEGPIOD_SCRIPT=FILE  a timed script, read when the chip is first
 *                          opened, in the same format as msdetect -r:
 *                              level OFFSET high|low      (a start level)
 *                              TIME OFFSET rising|falling (an edge)
 *                          TIME is in seconds (up to 9 decimals) after
 *                          the first line request; edges are applied at
 *                          that moment and stamped with it.  '#' starts
 *                          a comment line.
 *   FAKEGPIOD_FIFO=PATH    a live script: a FIFO (mkfifo) opened at the
 *                          first line request; each line written to it,
 *                              OFFSET rising|falling
 *                          is applied as soon as it arrives, stamped
 *                          with the time it arrived.  Lines "level
 *                          OFFSET high|low" set a level with no event.
 *                          Several writers may come and go.
 *   FAKEGPIOD_LOG=FILE     append one line per request and release, e.g.
 *                          "request 3,4 flags=active-low,pull-up
 *                          consumer=msdetect", for tests to check.
 * Bad script lines are reported on stderr as
 * "fakegpiod: FILE:LINE: reason" and skipped.
 */
#define _GNU_SOURCE	/* pipe2, ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpiod.h>

#include "msdetect.h"	/* replay_parse: the edge-script format */

#define EXPORT __attribute__((visibility("default")))

struct gpiod_line {
	struct gpiod_chip *chip;
	unsigned int	 offset;
	int		 phys;		/* -1 floating, 0 low, 1 high */
	int		 requested;
	int		 flags;
	char		 consumer[32];
	int		 pipe[2];	/* readable while events are queued */
	struct gpiod_line_event *q;
	size_t		 qhead, qlen, qcap;
};

struct gpiod_chip {
	int		 open;
};

struct timed_edge {
	int64_t		 t_ns;
	unsigned int	 offset;
	int		 high;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t world_once = PTHREAD_ONCE_INIT;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static struct gpiod_line *lines;
static unsigned int nlines = 64;
static const char *chip_name = "gpiochip0";
static struct timed_edge *script;
static size_t nscript;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_line(const char *fmt, ...)
{
	const char *path = getenv("FAKEGPIOD_LOG");
	va_list ap;
	FILE *fp;

	if (path == NULL || (fp = fopen(path, "a")) == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputc('\n', fp);
	fclose(fp);
}

static int
logical(const struct gpiod_line *l)
{
	int phys = l->phys;

	if (phys == -1)
		phys = (l->flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) != 0;
	return phys ^ ((l->flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) != 0);
}

/* Set a line's level; queue an event if it is requested.  Holds mu. */
static void
apply(unsigned int offset, int high, int64_t ts_ns, int event)
{
	struct gpiod_line *l = &lines[offset];
	struct gpiod_line_event *nq, *ev;
	size_t i;

	l->phys = high;
	if (!event || !l->requested)
		return;
	if (l->qlen == l->qcap) {
		size_t ncap = l->qcap ? l->qcap * 2 : 64;

		if ((nq = malloc(ncap * sizeof(*nq))) == NULL)
			abort();
		for (i = 0; i < l->qlen; i++)
			nq[i] = l->q[(l->qhead + i) % l->qcap];
		free(l->q);
		l->q = nq;
		l->qcap = ncap;
		l->qhead = 0;
	}
	ev = &l->q[(l->qhead + l->qlen) % l->qcap];
	ev->ts.tv_sec = ts_ns / 1000000000;
	ev->ts.tv_nsec = ts_ns % 1000000000;
	ev->event_type = logical(l) ? GPIOD_LINE_EVENT_RISING_EDGE :
	    GPIOD_LINE_EVENT_FALLING_EDGE;
	if (l->qlen++ == 0)
		(void)write(l->pipe[1], "e", 1);
}

/*
 * One script line in msdetect's own edge-script format (replay.c, the
 * parser msdetect -r uses): -1 with a message for a bad line.
 */
static int
script_line(const char *path, unsigned long lineno, char *line,
    struct replay_rec *r)
{
	char err[160];

	line[strcspn(line, "\r\n")] = '\0';
	if (replay_parse(line, r, err, sizeof(err)) == -1) {
		fprintf(stderr, "fakegpiod: %s:%lu: %s\n", path, lineno, err);
		return -1;
	}
	if (r->kind != REPLAY_NONE && r->offset >= nlines) {
		fprintf(stderr, "fakegpiod: %s:%lu: no line %u on the chip\n",
		    path, lineno, r->offset);
		return -1;
	}
	return 0;
}

static void
load_script(const char *path)
{
	FILE *fp;
	char buf[256];
	unsigned long lineno = 0;
	struct replay_rec r;
	size_t cap = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "fakegpiod: %s: %s\n", path, strerror(errno));
		return;
	}
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		if (script_line(path, ++lineno, buf, &r) == -1 ||
		    r.kind == REPLAY_NONE)
			continue;
		if (r.kind == REPLAY_LEVEL) {
			lines[r.offset].phys = r.high;
			continue;
		}
		if (nscript == cap) {
			cap = cap ? cap * 2 : 256;
			if ((script = realloc(script, cap * sizeof(*script))) == NULL)
				abort();
		}
		script[nscript].t_ns = r.t_ns;
		script[nscript].offset = r.offset;
		script[nscript].high = r.high;
		nscript++;
	}
	fclose(fp);
}

static void
world_init(void)
{
	const char *s;
	unsigned int i;

	if ((s = getenv("FAKEGPIOD_CHIP")) != NULL && *s)
		chip_name = s;
	if ((s = getenv("FAKEGPIOD_LINES")) != NULL && atoi(s) > 0 &&
	    atoi(s) <= 65536)
		nlines = (unsigned int)atoi(s);
	if ((lines = calloc(nlines, sizeof(*lines))) == NULL)
		abort();
	for (i = 0; i < nlines; i++) {
		lines[i].offset = i;
		lines[i].phys = -1;
		lines[i].pipe[0] = lines[i].pipe[1] = -1;
	}
	if ((s = getenv("FAKEGPIOD_SCRIPT")) != NULL && *s)
		load_script(s);
}

static int64_t script_base_ns;

static void *
script_thread(void *arg)
{
	struct timespec ts;
	int64_t at;
	size_t i;

	(void)arg;
	for (i = 0; i < nscript; i++) {
		at = script_base_ns + script[i].t_ns;
		ts.tv_sec = at / 1000000000;
		ts.tv_nsec = at % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		pthread_mutex_lock(&mu);
		apply(script[i].offset, script[i].high, at, 1);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *
fifo_thread(void *arg)
{
	const char *path = arg;
	char buf[256 + 2];
	unsigned long lineno = 0;
	struct replay_rec r;
	int fd;
	FILE *fp;

	/* O_RDWR: never blocks on open and never sees end of file */
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		fprintf(stderr, "fakegpiod: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (fgets(buf + 2, sizeof(buf) - 2, fp) != NULL) {
		char *line = buf, *t;

		/* live edges have no time: "OFFSET EDGE" is "0 OFFSET EDGE" */
		buf[0] = '0';
		buf[1] = ' ';
		t = buf + 2 + strspn(buf + 2, " \t");
		if (strncmp(t, "level", 5) == 0 || *t == '#' || *t == '\n' ||
		    *t == '\r' || *t == '\0')
			line = buf + 2;	/* a level, a comment or a blank line */

		if (script_line(path, ++lineno, line, &r) == -1 ||
		    r.kind == REPLAY_NONE)
			continue;
		pthread_mutex_lock(&mu);
		if (r.kind == REPLAY_LEVEL)
			apply(r.offset, r.high, 0, 0);
		else
			apply(r.offset, r.high, mono_ns(), 1);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void
threads_start(void)
{
	pthread_t t;
	const char *fifo = getenv("FAKEGPIOD_FIFO");
	sigset_t all, old;

	script_base_ns = mono_ns();
	/* the kernel takes no signals from the program: nor do our threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (nscript > 0 && pthread_create(&t, NULL, script_thread, NULL) == 0)
		pthread_detach(t);
	if (fifo != NULL && *fifo &&
	    pthread_create(&t, NULL, fifo_thread, (void *)fifo) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int
name_matches(const char *s)
{
	if (s == NULL)
		return 0;
	if (strncmp(s, "/dev/", 5) == 0)
		s += 5;
	return strcmp(s, chip_name) == 0;
}

static struct gpiod_chip *
chip_open(const char *s)
{
	struct gpiod_chip *c;

	pthread_once(&world_once, world_init);
	if (!name_matches(s)) {
		errno = ENOENT;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->open = 1;
	return c;
}

EXPORT struct gpiod_chip *
gpiod_chip_open(const char *path)
{
	return chip_open(path);
}

EXPORT struct gpiod_chip *
gpiod_chip_open_by_name(const char *name)
{
	return chip_open(name);
}

EXPORT struct gpiod_chip *
gpiod_chip_open_lookup(const char *descr)
{
	return chip_open(descr);
}

EXPORT unsigned int
gpiod_chip_num_lines(struct gpiod_chip *chip)
{
	(void)chip;
	return nlines;
}

EXPORT struct gpiod_line *
gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
	(void)chip;
	if (offset >= nlines) {
		errno = EINVAL;
		return NULL;
	}
	lines[offset].chip = chip;
	return &lines[offset];
}

EXPORT int
gpiod_chip_get_lines(struct gpiod_chip *chip, unsigned int *offsets,
    unsigned int num, struct gpiod_line_bulk *bulk)
{
	unsigned int i;

	gpiod_line_bulk_init(bulk);
	for (i = 0; i < num; i++) {
		if (offsets[i] >= nlines || num > GPIOD_LINE_BULK_MAX_LINES) {
			errno = EINVAL;
			return -1;
		}
		lines[offsets[i]].chip = chip;
		gpiod_line_bulk_add(bulk, &lines[offsets[i]]);
	}
	return 0;
}

EXPORT unsigned int
gpiod_line_offset(struct gpiod_line *line)
{
	return line->offset;
}

static void
release(struct gpiod_line *l)
{
	char b[64];

	if (!l->requested)
		return;
	while (read(l->pipe[0], b, sizeof(b)) > 0)
		;
	close(l->pipe[0]);
	close(l->pipe[1]);
	l->pipe[0] = l->pipe[1] = -1;
	l->requested = 0;
	l->flags = 0;
	l->qlen = l->qhead = 0;
}

EXPORT void
gpiod_line_release_bulk(struct gpiod_line_bulk *bulk)
{
	char offs[512] = "";
	unsigned int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < bulk->num_lines; i++) {
		snprintf(offs + strlen(offs), sizeof(offs) - strlen(offs),
		    "%s%u", i ? "," : "", bulk->lines[i]->offset);
		release(bulk->lines[i]);
	}
	pthread_mutex_unlock(&mu);
	logf_line("release %s", offs);
}

EXPORT void
gpiod_chip_close(struct gpiod_chip *chip)
{
	unsigned int i;

	if (chip == NULL)
		return;
	pthread_mutex_lock(&mu);
	for (i = 0; i < nlines; i++)
		if (lines[i].chip == chip) {
			release(&lines[i]);
			lines[i].chip = NULL;
		}
	pthread_mutex_unlock(&mu);
	free(chip);
}

EXPORT int
gpiod_line_request_bulk_both_edges_events_flags(struct gpiod_line_bulk *bulk,
    const char *consumer, int flags)
{
	char offs[512] = "", fl[128] = "";
	unsigned int i;
	struct gpiod_line *l;

	pthread_mutex_lock(&mu);
	for (i = 0; i < bulk->num_lines; i++)
		if (bulk->lines[i]->requested) {
			pthread_mutex_unlock(&mu);
			errno = EBUSY;
			return -1;
		}
	for (i = 0; i < bulk->num_lines; i++) {
		l = bulk->lines[i];
		if (pipe2(l->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
			while (i-- > 0)
				release(bulk->lines[i]);
			pthread_mutex_unlock(&mu);
			return -1;
		}
		l->requested = 1;
		l->flags = flags;
		l->qlen = l->qhead = 0;
		snprintf(l->consumer, sizeof(l->consumer), "%s",
		    consumer ? consumer : "?");
		snprintf(offs + strlen(offs), sizeof(offs) - strlen(offs),
		    "%s%u", i ? "," : "", l->offset);
	}
	pthread_mutex_unlock(&mu);
	if (flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW)
		strcat(fl, ",active-low");
	if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
		strcat(fl, ",pull-up");
	if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
		strcat(fl, ",pull-down");
	if (flags & GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
		strcat(fl, ",bias-disable");
	logf_line("request %s flags=%s consumer=%s", offs,
	    fl[0] ? fl + 1 : "none", consumer ? consumer : "?");
	pthread_once(&threads_once, threads_start);
	return 0;
}

EXPORT int
gpiod_line_get_value_bulk(struct gpiod_line_bulk *bulk, int *values)
{
	unsigned int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < bulk->num_lines; i++) {
		if (!bulk->lines[i]->requested) {
			pthread_mutex_unlock(&mu);
			errno = EPERM;
			return -1;
		}
		values[i] = logical(bulk->lines[i]);
	}
	pthread_mutex_unlock(&mu);
	return 0;
}

EXPORT int
gpiod_line_event_get_fd(struct gpiod_line *line)
{
	if (!line->requested) {
		errno = EPERM;
		return -1;
	}
	return line->pipe[0];
}

EXPORT int
gpiod_line_event_wait_bulk(struct gpiod_line_bulk *bulk,
    const struct timespec *timeout, struct gpiod_line_bulk *event_bulk)
{
	struct pollfd pfd[GPIOD_LINE_BULK_MAX_LINES];
	unsigned int i;
	int r;

	for (i = 0; i < bulk->num_lines; i++) {
		pfd[i].fd = bulk->lines[i]->pipe[0];
		pfd[i].events = POLLIN;
	}
	r = ppoll(pfd, bulk->num_lines, timeout, NULL);
	if (r <= 0)
		return r;
	if (event_bulk != NULL) {
		gpiod_line_bulk_init(event_bulk);
		for (i = 0; i < bulk->num_lines; i++)
			if (pfd[i].revents & POLLIN)
				gpiod_line_bulk_add(event_bulk, bulk->lines[i]);
	}
	return 1;
}

EXPORT int
gpiod_line_event_wait(struct gpiod_line *line, const struct timespec *timeout)
{
	struct gpiod_line_bulk b;

	gpiod_line_bulk_init(&b);
	gpiod_line_bulk_add(&b, line);
	return gpiod_line_event_wait_bulk(&b, timeout, NULL);
}

EXPORT int
gpiod_line_event_read_multiple(struct gpiod_line *line,
    struct gpiod_line_event *events, unsigned int num)
{
	struct pollfd pfd;
	unsigned int n = 0;
	char b;

	if (!line->requested) {
		errno = EPERM;
		return -1;
	}
	for (;;) {
		pthread_mutex_lock(&mu);
		while (n < num && line->qlen > 0) {
			events[n++] = line->q[line->qhead];
			line->qhead = (line->qhead + 1) % line->qcap;
			line->qlen--;
		}
		if (line->qlen == 0)
			while (read(line->pipe[0], &b, 1) > 0)
				;
		pthread_mutex_unlock(&mu);
		if (n > 0 || num == 0)
			return (int)n;
		/* like read(2) on the kernel's descriptor: block for one */
		pfd.fd = line->pipe[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1)
			return -1;
	}
}

EXPORT int
gpiod_line_event_read(struct gpiod_line *line, struct gpiod_line_event *event)
{
	return gpiod_line_event_read_multiple(line, event, 1) == 1 ? 0 : -1;
}

EXPORT const char *
gpiod_version_string(void)
{
	return "1.6.3-fakegpiod";
}
