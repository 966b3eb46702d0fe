/*
 * fakegpiod_core.c: the kernel's side of the fake libgpiods, for
 * machines without GPIO hardware, gpio-sim or configfs.  tests/fakegpiod.c
 * (the libgpiod 1.6 API) and tests/fakegpiod2.c (libgpiod 2.x) put their
 * API over it; each is built into its own LD_PRELOAD library.
 *
 * What it stands in for: GPIO chips (gpiochipN, /dev/gpiochipN) with a
 * label and a number of lines; each line has a physical level that a
 * script changes.  A line is held by one request at a time; asking for
 * a held line fails EBUSY, for an offset the chip does not have EINVAL,
 * as the kernel does.  Each change on a requested line is queued on its
 * request as a rising or falling edge of the logical level (active-low
 * inverts it), stamped with the time of the change on the clock the
 * request asked for (CLOCK_MONOTONIC unless CLOCK_REALTIME); the
 * request's descriptor (a pipe) polls readable while events are queued.
 * A line nobody set floats high when pulled up and low otherwise.  With
 * a debounce period the kernel reports a change only once the level has
 * held that long, stamped when the period ends (as gpiolib-cdev does),
 * and never reports a bounce that came back to where it was.
 * Not emulated: the kernel's event queue limit (queues grow), outputs,
 * line info events and watches, HTE timestamps, the real devices' files
 * (only the functions the fakes export and, in the v2 fake, a listing of
 * /dev know the chips), and any particular board.
 *
 * Environment:
 *   FAKEGPIOD_CHIP=NAME     the chip the scripts drive (default gpiochip0).
 *   FAKEGPIOD_LABEL=LABEL   its label (default fakegpiod).
 *   FAKEGPIOD_LINES=N       its lines (default 64).
 *   FAKEGPIOD_MORE_CHIPS="NAME:LABEL:LINES ..."
 *                           more chips, whose lines stay as they are.
 *   FAKEGPIOD_BUSY=N,N...   lines of the driven chip another driver holds
 *                           (consumer "other-driver"): requests fail EBUSY.
 *   FAKEGPIOD_DEBOUNCE=yes|einval|ignore
 *                           what the kernel does with a debounce period:
 *                           honour it (default), refuse the request with
 *                           EINVAL, or accept it and not debounce (line
 *                           info then says the line is not debounced).
 *                           Only the v2 API can ask for one.
 *   FAKEGPIOD_SCRIPT=FILE   a timed script, read when a chip is first
 *                           opened, in the same format as msdetect -r:
 *                               level OFFSET high|low      (a start level)
 *                               TIME OFFSET rising|falling (an edge)
 *                           TIME is in seconds (up to 9 decimals) after
 *                           the first line request; edges are applied at
 *                           that moment and stamped with it.  The kernel
 *                           is not stopped with the program: an edge due
 *                           while it was (SIGSTOP) is applied, stamped
 *                           with its own time, before the program next
 *                           waits for or reads events.  '#' starts
 *                           a comment line.
 *   FAKEGPIOD_FIFO=PATH     a live script: a FIFO (mkfifo) opened at the
 *                           first line request; each line written to it,
 *                               OFFSET rising|falling
 *                           is applied as soon as it arrives, stamped
 *                           with the time it arrived.  Lines "level
 *                           OFFSET high|low" set a level with no event.
 *                           Several writers may come and go.
 *   FAKEGPIOD_LOG=FILE      append a line per request, e.g. "request 3,4
 *                           flags=active-low,pull-up consumer=msdetect
 *                           chip=gpiochip0" (one per set of flags), with
 *                           v2 "debounce 3,4 20000us" and "clock 3,4
 *                           monotonic", and "release 3,4" per release.
 *                           With a script: "script start SEC.NSEC", the
 *                           wall clock (CLOCK_REALTIME) at its time 0, so
 *                           a test can put other inputs on the script's
 *                           time line, and "script TIME OFFSET EDGE"
 *                           once each edge is applied (a test waits for
 *                           it; TIME as SEC.NSEC).  Edges on lines nobody
 *                           requested are applied and logged too: markers.
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
#include <unistd.h>

#include "fakegpiod_core.h"
#include "msdetect.h"	/* replay_parse: the edge-script format */

#define CHIPS_MAX 16

struct timed_edge {
	int64_t		 t_ns;
	unsigned int	 offset;
	int		 high;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t due_cv;		/* a debounce period was started */
static pthread_once_t world_once = PTHREAD_ONCE_INIT;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static struct fk_chip chips[CHIPS_MAX];
static size_t nchips;
static enum fk_debounce debounce_mode = FK_DEBOUNCE_YES;
static struct timed_edge *script;
static size_t nscript;
static int64_t script_base_ns;
/*
 * When the script's next edge is due (INT64_MAX: none).  A script edge is
 * stamped with its due time even when the thread applies it late (a busy
 * machine), so a debounce period ends only once every edge due before
 * its end has been applied: as a kernel that saw the edges in time.
 */
static int64_t script_next_ns = INT64_MAX;
static size_t script_i;			/* the next script edge to apply */
static int threads_started;		/* the script's time has begun */

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
fk_log(const char *fmt, ...)
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

void
fk_offsets(char *buf, size_t len, const unsigned int *offsets, size_t n)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%u",
		    i ? "," : "", offsets[i]);
}

static void
flags_text(const struct fk_settings *s, char *buf, size_t len)
{
	static const char *bias[] = { "", ",bias-disable", ",pull-up",
	    ",pull-down" };

	snprintf(buf, len, "%s%s", s->active_low ? ",active-low" : "",
	    bias[s->bias]);
	if (buf[0] == '\0')
		snprintf(buf, len, ",none");
}

/*
 * One log line per group of lines that share what key() says, in the
 * order of each group's first line.
 */
static void
log_groups(const char *what, const unsigned int *offsets,
    const struct fk_settings *set, size_t n, const char *tail,
    void (*key)(const struct fk_settings *, char *, size_t))
{
	unsigned int g[FK_REQUEST_MAX];
	char ki[64], kj[64], offs[FK_REQUEST_MAX * 6];
	int done[FK_REQUEST_MAX] = { 0 };
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		key(&set[i], ki, sizeof(ki));
		if (ki[0] == '\0')
			continue;
		for (j = i, k = 0; j < n; j++) {
			key(&set[j], kj, sizeof(kj));
			if (!done[j] && strcmp(ki, kj) == 0) {
				g[k++] = offsets[j];
				done[j] = 1;
			}
		}
		fk_offsets(offs, sizeof(offs), g, k);
		if (strcmp(what, "request") == 0)
			fk_log("request %s flags=%s%s", offs, ki + 1, tail);
		else
			fk_log("%s %s %s", what, offs, ki);
	}
}

static void
debounce_text(const struct fk_settings *s, char *buf, size_t len)
{
	if (s->debounce_ns > 0)
		snprintf(buf, len, "%lldus", (long long)(s->debounce_ns / 1000));
	else
		buf[0] = '\0';
}

static void
clock_text(const struct fk_settings *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s->clock == FK_CLOCK_REALTIME ? "realtime" :
	    "monotonic");
}

void
fk_log_request(const struct fk_chip *c, const unsigned int *offsets,
    const struct fk_settings *set, size_t n, const char *consumer,
    int with_kernel_settings)
{
	char tail[128];

	snprintf(tail, sizeof(tail), " consumer=%s chip=%s", consumer, c->name);
	log_groups("request", offsets, set, n, tail, flags_text);
	if (!with_kernel_settings)
		return;
	log_groups("debounce", offsets, set, n, "", debounce_text);
	log_groups("clock", offsets, set, n, "", clock_text);
}

static int
logical(const struct fk_line *l)
{
	int phys = l->phys;

	if (phys == -1)
		phys = l->set.bias == FK_BIAS_PULL_UP;
	return phys ^ (l->set.active_low != 0);
}

/* Queue an edge of line l, stamped ts_ns on CLOCK_MONOTONIC.  Holds mu. */
static void
queue(struct fk_line *l, int64_t ts_ns)
{
	struct fk_request *r = l->req;
	struct fk_event *nq, *ev;
	size_t i;

	if (r->qlen == r->qcap) {
		size_t ncap = r->qcap ? r->qcap * 2 : 64;

		if ((nq = malloc(ncap * sizeof(*nq))) == NULL)
			abort();
		for (i = 0; i < r->qlen; i++)
			nq[i] = r->q[(r->qhead + i) % r->qcap];
		free(r->q);
		r->q = nq;
		r->qcap = ncap;
		r->qhead = 0;
	}
	ev = &r->q[(r->qhead + r->qlen) % r->qcap];
	ev->offset = (unsigned int)(l - r->chip->lines);
	ev->rising = logical(l);
	ev->ts_ns = ts_ns;
	if (l->set.clock == FK_CLOCK_REALTIME)
		ev->ts_ns += clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	ev->seqno = ++r->seqno;
	ev->line_seqno = ++l->seqno;
	l->reported = ev->rising;
	if (r->qlen++ == 0)
		(void)write(r->pipe[1], "e", 1);
}

/*
 * Set a line of the driven chip (chips[0]); queue an edge if it is
 * requested and event is set, or start its debounce period.  Holds mu.
 */
static void
apply(unsigned int offset, int high, int64_t ts_ns, int event)
{
	struct fk_line *l = &chips[0].lines[offset];

	l->phys = high;
	if (l->req == NULL)
		return;
	if (!event)
		l->reported = logical(l);
	else if (l->debounced) {
		l->due_ns = ts_ns + l->set.debounce_ns;
		pthread_cond_signal(&due_cv);
	} else
		queue(l, ts_ns);
}

/*
 * Report each debounced line whose level has held for its period by now;
 * the next period's end, or INT64_MAX.  Holds mu.
 */
static int64_t
debounce_due(int64_t now)
{
	int64_t next = INT64_MAX;
	size_t c;
	unsigned int i;
	struct fk_line *l;

	for (c = 0; c < nchips; c++)
		for (i = 0; i < chips[c].nlines; i++) {
			l = &chips[c].lines[i];
			if (l->due_ns == 0)
				continue;
			if (l->due_ns >= script_next_ns)
				continue;	/* woken when it moves */
			if (l->due_ns <= now) {
				if (l->req != NULL && logical(l) != l->reported)
					queue(l, l->due_ns);
				l->due_ns = 0;
			} else if (l->due_ns < next)
				next = l->due_ns;
		}
	return next;
}

static void *
debounce_thread(void *arg)
{
	struct timespec ts;
	int64_t next;

	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		next = debounce_due(clock_ns(CLOCK_MONOTONIC));
		if (next == INT64_MAX)
			pthread_cond_wait(&due_cv, &mu);
		else {
			ts.tv_sec = next / 1000000000;
			ts.tv_nsec = next % 1000000000;
			pthread_cond_timedwait(&due_cv, &mu, &ts);
		}
	}
	return NULL;
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
	if (r->kind != REPLAY_NONE && r->offset >= chips[0].nlines) {
		fprintf(stderr, "fakegpiod: %s:%lu: no line %u on %s\n",
		    path, lineno, r->offset, chips[0].name);
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
			chips[0].lines[r.offset].phys = r.high;
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
chip_add(const char *name, const char *label, long nlines)
{
	struct fk_chip *c;
	unsigned int i;

	if (nchips == CHIPS_MAX || nlines < 0 || nlines > 65536) {
		fprintf(stderr, "fakegpiod: chip %s: too many chips or lines\n",
		    name);
		return;
	}
	c = &chips[nchips++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->nlines = (unsigned int)nlines;
	if ((c->lines = calloc(nlines ? nlines : 1, sizeof(*c->lines))) == NULL)
		abort();
	for (i = 0; i < c->nlines; i++)
		c->lines[i].phys = -1;
}

static const char *
env(const char *name, const char *dflt)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? s : dflt;
}

static void
world_init(void)
{
	pthread_condattr_t ca;
	char *more, *w, *save = NULL, *p, *e;
	unsigned long off;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&due_cv, &ca);
	chip_add(env("FAKEGPIOD_CHIP", "gpiochip0"),
	    env("FAKEGPIOD_LABEL", "fakegpiod"),
	    strtol(env("FAKEGPIOD_LINES", "64"), NULL, 10));
	if ((more = strdup(env("FAKEGPIOD_MORE_CHIPS", ""))) == NULL)
		abort();
	for (w = strtok_r(more, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *label = strchr(w, ':'), *lines;

		if (label == NULL || (lines = strchr(label + 1, ':')) == NULL) {
			fprintf(stderr, "fakegpiod: FAKEGPIOD_MORE_CHIPS: \"%s\" "
			    "is not NAME:LABEL:LINES\n", w);
			continue;
		}
		*label++ = '\0';
		*lines++ = '\0';
		chip_add(w, label, strtol(lines, NULL, 10));
	}
	free(more);
	for (p = (char *)env("FAKEGPIOD_BUSY", ""); *p; p = *e ? e + 1 : e) {
		off = strtoul(p, &e, 10);
		if (e == p || off >= chips[0].nlines) {
			fprintf(stderr, "fakegpiod: FAKEGPIOD_BUSY: bad line\n");
			break;
		}
		snprintf(chips[0].lines[off].consumer,
		    sizeof(chips[0].lines[off].consumer), "other-driver");
	}
	p = (char *)env("FAKEGPIOD_DEBOUNCE", "yes");
	debounce_mode = strcmp(p, "einval") == 0 ? FK_DEBOUNCE_EINVAL :
	    strcmp(p, "ignore") == 0 ? FK_DEBOUNCE_IGNORE : FK_DEBOUNCE_YES;
	if ((p = getenv("FAKEGPIOD_SCRIPT")) != NULL && *p)
		load_script(p);
}

size_t
fk_nchips(void)
{
	pthread_once(&world_once, world_init);
	return nchips;
}

struct fk_chip *
fk_chip_at(size_t i)
{
	return i < fk_nchips() ? &chips[i] : NULL;
}

struct fk_chip *
fk_chip_by_path(const char *path)
{
	size_t i;

	for (i = 0; i < fk_nchips(); i++)
		if (strncmp(path, "/dev/", 5) == 0 &&
		    strcmp(path + 5, chips[i].name) == 0)
			return &chips[i];
	errno = access(path, F_OK) == 0 ? ENODEV : ENOENT;
	return NULL;
}

enum fk_debounce
fk_debounce_mode(void)
{
	pthread_once(&world_once, world_init);
	return debounce_mode;
}

/*
 * Apply every script edge due by now, each stamped with its own time, and
 * log it.  Holds mu.  Every edge due at once: woken late (or stopped with
 * the program), the kernel must not let the reader see half a burst it
 * would have queued whole.
 */
static void
script_due(int64_t now)
{
	const struct timed_edge *e;
	int64_t at;

	while (script_i < nscript &&
	    (at = script_base_ns + script[script_i].t_ns) <= now) {
		/* the debounce periods that ended before it, first */
		script_next_ns = at;
		(void)debounce_due(at);
		e = &script[script_i++];
		apply(e->offset, e->high, at, 1);
		fk_log("script %lld.%09lld %u %s",
		    (long long)(e->t_ns / 1000000000),
		    (long long)(e->t_ns % 1000000000), e->offset,
		    e->high ? "rising" : "falling");
	}
	script_next_ns = script_i < nscript ?
	    script_base_ns + script[script_i].t_ns : INT64_MAX;
	pthread_cond_signal(&due_cv);
}

static void *
script_thread(void *arg)
{
	struct timespec ts;
	int64_t at;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		at = script_next_ns;
		pthread_mutex_unlock(&mu);
		if (at == INT64_MAX)
			break;
		ts.tv_sec = at / 1000000000;
		ts.tv_nsec = at % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		pthread_mutex_lock(&mu);
		script_due(clock_ns(CLOCK_MONOTONIC));
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/*
 * The kernel goes on while the program is stopped (SIGSTOP, a busy
 * machine): our threads do not.  So before the program looks at its
 * events, everything that was due by now happens, stamped when it was
 * due, as the kernel would have queued it.
 */
void
fk_catch_up(void)
{
	int64_t now;

	pthread_mutex_lock(&mu);
	if (threads_started) {
		now = clock_ns(CLOCK_MONOTONIC);
		script_due(now);
		(void)debounce_due(now);
	}
	pthread_mutex_unlock(&mu);
}

/* One line of the live FIFO, without its newline. */
static void
fifo_line(const char *path, unsigned long lineno, const char *text)
{
	char buf[512 + 3];
	char *line = buf, *t;
	struct replay_rec r;

	/* live edges have no time: "OFFSET EDGE" is "0 OFFSET EDGE" */
	snprintf(buf, sizeof(buf), "0 %s\n", text);
	t = buf + 2 + strspn(buf + 2, " \t");
	if (strncmp(t, "level", 5) == 0 || *t == '#' || *t == '\n' ||
	    *t == '\r' || *t == '\0')
		line = buf + 2;	/* a level, a comment or a blank line */
	if (script_line(path, lineno, line, &r) == -1 || r.kind == REPLAY_NONE)
		return;
	pthread_mutex_lock(&mu);
	if (r.kind == REPLAY_LEVEL)
		apply(r.offset, r.high, 0, 0);
	else
		apply(r.offset, r.high, clock_ns(CLOCK_MONOTONIC), 1);
	pthread_mutex_unlock(&mu);
}

/*
 * The live FIFO is read with read(2), not stdio: this thread blocks in
 * its read for good, and glibc 2.41 (Debian 13) locks every stdio
 * stream at exit(), so a FILE held here would keep the program from
 * ever exiting.
 */
static void *
fifo_thread(void *arg)
{
	const char *path = arg;
	char buf[512];
	size_t have = 0;
	unsigned long lineno = 0;
	ssize_t n;
	int fd;

	/* O_RDWR: never blocks on open and never sees end of file */
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		fprintf(stderr, "fakegpiod: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0 ||
	    (n == -1 && errno == EINTR)) {
		char *p = buf, *nl;

		if (n == -1)
			continue;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
			*nl = '\0';
			fifo_line(path, ++lineno, p);
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
		if (have == sizeof(buf) - 1) {	/* a line too long: drop it */
			fprintf(stderr, "fakegpiod: %s:%lu: line too long\n",
			    path, ++lineno);
			have = 0;
		}
	}
	return NULL;
}

static void
threads_start(void)
{
	pthread_t t;
	const char *fifo = getenv("FAKEGPIOD_FIFO");
	sigset_t all, old;
	int64_t wall;

	pthread_mutex_lock(&mu);
	script_base_ns = clock_ns(CLOCK_MONOTONIC);
	wall = clock_ns(CLOCK_REALTIME);
	if (nscript > 0) {
		script_next_ns = script_base_ns + script[0].t_ns;
		fk_log("script start %lld.%09lld", (long long)(wall / 1000000000),
		    (long long)(wall % 1000000000));
	}
	threads_started = 1;
	pthread_mutex_unlock(&mu);
	/* the kernel takes no signals from the program: nor do our threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, debounce_thread, NULL) == 0)
		pthread_detach(t);
	if (nscript > 0 && pthread_create(&t, NULL, script_thread, NULL) == 0)
		pthread_detach(t);
	if (fifo != NULL && *fifo &&
	    pthread_create(&t, NULL, fifo_thread, (void *)fifo) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

struct fk_request *
fk_request(struct fk_chip *c, const unsigned int *offsets,
    const struct fk_settings *set, size_t n, const char *consumer)
{
	struct fk_request *r;
	struct fk_line *l;
	size_t i;

	if (n == 0 || n > FK_REQUEST_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (offsets[i] >= c->nlines || (set[i].debounce_ns > 0 &&
		    fk_debounce_mode() == FK_DEBOUNCE_EINVAL)) {
			errno = EINVAL;
			return NULL;
		}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&mu);
	for (i = 0; i < n; i++)
		if (c->lines[offsets[i]].consumer[0] != '\0') {
			pthread_mutex_unlock(&mu);
			close(r->pipe[0]);
			close(r->pipe[1]);
			free(r);
			errno = EBUSY;
			return NULL;
		}
	r->chip = c;
	r->n = n;
	for (i = 0; i < n; i++) {
		l = &c->lines[offsets[i]];
		r->offsets[i] = offsets[i];
		l->req = r;
		l->set = set[i];
		l->debounced = set[i].debounce_ns > 0 &&
		    fk_debounce_mode() == FK_DEBOUNCE_YES;
		l->reported = logical(l);
		l->due_ns = 0;
		snprintf(l->consumer, sizeof(l->consumer), "%s",
		    consumer && *consumer ? consumer : "?");
	}
	pthread_mutex_unlock(&mu);
	pthread_once(&threads_once, threads_start);
	return r;
}

void
fk_release(struct fk_request *r)
{
	struct fk_line *l;
	size_t i;

	if (r == NULL)
		return;
	pthread_mutex_lock(&mu);
	for (i = 0; i < r->n; i++) {
		l = &r->chip->lines[r->offsets[i]];
		l->req = NULL;
		l->consumer[0] = '\0';
		l->debounced = 0;
		l->due_ns = 0;
		memset(&l->set, 0, sizeof(l->set));
	}
	pthread_mutex_unlock(&mu);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r->q);
	free(r);
}

int
fk_value(struct fk_request *r, unsigned int offset)
{
	int v;

	pthread_mutex_lock(&mu);
	v = logical(&r->chip->lines[offset]);
	pthread_mutex_unlock(&mu);
	return v;
}

int
fk_wait(struct fk_request *r, const struct timespec *timeout)
{
	struct pollfd pfd;
	int rc;

	fk_catch_up();
	pfd.fd = r->pipe[0];
	pfd.events = POLLIN;
	rc = ppoll(&pfd, 1, timeout, NULL);
	return rc > 0 ? 1 : rc;
}

int
fk_read(struct fk_request *r, struct fk_event *out, size_t max)
{
	struct pollfd pfd;
	size_t n = 0;
	char b;

	fk_catch_up();
	for (;;) {
		pthread_mutex_lock(&mu);
		while (n < max && r->qlen > 0) {
			out[n++] = r->q[r->qhead];
			r->qhead = (r->qhead + 1) % r->qcap;
			r->qlen--;
		}
		if (r->qlen == 0)
			while (read(r->pipe[0], &b, 1) > 0)
				;
		pthread_mutex_unlock(&mu);
		if (n > 0 || max == 0)
			return (int)n;
		pfd.fd = r->pipe[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1)
			return -1;
	}
}

void
fk_line_consumer(struct fk_chip *c, unsigned int offset, char *buf,
    size_t len)
{
	pthread_mutex_lock(&mu);
	snprintf(buf, len, "%s", offset < c->nlines ?
	    c->lines[offset].consumer : "");
	pthread_mutex_unlock(&mu);
}
