/*
 * msdetect: GPIO sensor edges -> take, return, door, alarm and
 * session-end events, attributed to the card msid identified.
 *
 * stdin carries msid's lines; each is copied to stdout unchanged and in
 * order, and msdetect's own events are written between them, in time
 * order: attribute.c holds both on one timeline and decides who is
 * charged.  Here: one poll(2) loop waits on stdin, the GPIO lines (or
 * the -r replay file) and the next timer (debounce, the timeline, -T),
 * and the debounce that turns edges into events.
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msdetect.h"
#include "version.h"

#define EDGES_MAX	1024	/* edges read from the chip at once */
#define REPLAY_BATCH	4096	/* replay lines between looks at stdin */
#define LAT_BUCKET_NS	100	/* latency histogram: 0.1 us buckets */
#define LAT_BUCKETS	100000	/* up to 10 ms, then one overflow bucket */

struct line_state {
	int		 stable;	/* the debounced level */
	int		 level;		/* the latest level seen */
	int64_t		 changed_ns;	/* when level last changed */
	int64_t		 read_ns;	/* when that edge was read */
	int64_t		 debounce_ns;	/* ours: 0 if the kernel debounces */
};

static struct planogram pg;
static struct line_state ls[GPIO_LINES_MAX];
static const char *pg_path;
static struct gpio *gpio;
static int64_t idle_exit_ns = -1;			/* -T */
static int verbose;					/* -v */
static int exit_status = MS_EX_OK;

/*
 * Time.  Edges carry CLOCK_MONOTONIC timestamps (the kernel's); "now"
 * is the same clock, except while -f replays a file as fast as it can:
 * then the clock stands at the time of the last edge replayed.
 */
static int clock_frozen;
static int64_t clock_vnow, clock_skew;
/* No pending line is due before this (it may be earlier than need be). */
static int64_t next_due = INT64_MIN;
static int64_t wall_ref_ms, mono_ref_ns;

/* Statistics for -v. */
static unsigned long long n_edges, n_events;
static uint32_t *lat_hist;

static int64_t
clock_now(void)
{
	return clock_frozen ? clock_vnow : ms_mono_ns() + clock_skew;
}

static void
clock_sync_wall(void)
{
	wall_ref_ms = ms_now_ms();
	mono_ref_ns = clock_now();
}

/* A time on msdetect's clock as the wall-clock ts of an event. */
void
ts_format(int64_t ts_ns, char buf[MS_TIME_LEN])
{
	static int64_t cached_sec = INT64_MIN;
	static char cached[MS_TIME_LEN];
	int64_t d = ts_ns - mono_ref_ns, ms, sec, frac;

	/* round toward the past, so an edge never looks later than it was */
	ms = wall_ref_ms + (d >= 0 ? d / 1000000 : -((-d + 999999) / 1000000));
	sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	frac = ms - sec * 1000;
	/* the date and time of day change once a second */
	if (sec != cached_sec) {
		ms_time_format(sec * 1000, cached);
		cached_sec = sec;
	}
	memcpy(buf, cached, MS_TIME_LEN);
	buf[20] = (char)('0' + frac / 100);
	buf[21] = (char)('0' + frac / 10 % 10);
	buf[22] = (char)('0' + frac % 10);
}

/* The inverse: a wall-clock time in ms (a ts read) on msdetect's clock. */
static int64_t
ts_mono(int64_t ms)
{
	return mono_ref_ns + (ms - wall_ref_ms) * 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: msdetect [-dDfhv] [-a seconds] [-r file] "
	    "[-T seconds] [-t seconds]\n"
	    "                [-w seconds] -c planogram\n");
}

/*
 * Write one of our events, formatted here rather than through jansson:
 * this is the hot path of a replay.  Every string in it is an
 * identifier, a time or the card (which attribute.c keeps JSON-escaped),
 * so nothing else needs escaping.  tests/msdetect*.t check the lines
 * against the wire format.  read_ns is when the cause was read (-v).
 */
void
event_write(int64_t read_ns, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int64_t lat;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		ms_errx(MS_EX_FAIL, "internal error: event too long");
	ms_write_raw(stdout, buf, (size_t)n, 1);
	n_events++;
	if (lat_hist != NULL && read_ns > 0) {
		lat = (ms_mono_ns() - read_ns) / LAT_BUCKET_NS;
		lat_hist[lat < 0 ? 0 : lat > LAT_BUCKETS ? LAT_BUCKETS : lat]++;
	}
}

/* The level of line i has been stable for its debounce time. */
static void
commit(size_t i, int64_t read_ns)
{
	const struct pg_line *l = &pg.lines[i];
	struct line_state *s = &ls[i];

	s->stable = s->level;
	switch (l->kind) {
	case SENSOR_PRESENCE:
		tl_item(l, !s->stable, s->changed_ns, read_ns);
		break;
	case SENSOR_PULSE:
		if (s->stable)
			tl_item(l, 1, s->changed_ns, read_ns);
		break;
	case SENSOR_DOOR:
		tl_door(s->stable, s->changed_ns, read_ns);
		break;
	}
}

static int
pending(size_t i)
{
	return ls[i].level != ls[i].stable;
}

/*
 * Commit every line whose new level has held for its debounce time by
 * now, oldest change first, so events come out in the order they
 * happened.
 */
static void
settle(int64_t now, int64_t read_ns)
{
	int64_t due;
	size_t i;
	int best;

	if (now < next_due)
		return;
	for (;;) {
		best = -1;
		next_due = INT64_MAX;
		for (i = 0; i < pg.n; i++) {
			if (!pending(i))
				continue;
			due = ls[i].changed_ns + ls[i].debounce_ns;
			if (now >= due && (best == -1 ||
			    ls[i].changed_ns < ls[best].changed_ns))
				best = (int)i;
			else if (due < next_due)
				next_due = due;
		}
		if (best == -1)
			return;
		commit((size_t)best, read_ns ? read_ns : ls[best].read_ns);
	}
}

/* One edge: the logical level of line i became level at ts_ns. */
static void
edge(size_t i, int level, int64_t ts_ns, int64_t read_ns)
{
	struct line_state *s = &ls[i];

	n_edges++;
	if (level == s->level)
		return;		/* a repeated report, nothing changed */
	/* the previous change held long enough before this one */
	if (pending(i) && ts_ns - s->changed_ns >= s->debounce_ns)
		commit(i, read_ns);
	s->level = level;
	s->changed_ns = ts_ns;
	s->read_ns = read_ns;
	if (pending(i) && ts_ns + s->debounce_ns < next_due)
		next_due = ts_ns + s->debounce_ns;
}

/* The planogram's index for each line offset, -1 for none. */
static int16_t line_index[65536];

static void
index_build(void)
{
	size_t i;

	memset(line_index, 0xff, sizeof(line_index));
	for (i = 0; i < pg.n; i++)
		line_index[pg.lines[i].offset] = (int16_t)i;
	next_due = INT64_MIN;	/* look at every line again */
}

static int
index_of(unsigned int offset)
{
	return offset < 65536 ? line_index[offset] : -1;
}

static int
any_pending(void)
{
	size_t i;

	for (i = 0; i < pg.n; i++)
		if (pending(i))
			return 1;
	return 0;
}

/* The oldest change still settling in our debounce; INT64_MAX if none. */
static int64_t
oldest_pending(void)
{
	int64_t t = INT64_MAX;
	size_t i;

	for (i = 0; i < pg.n; i++)
		if (pending(i) && ls[i].changed_ns < t)
			t = ls[i].changed_ns;
	return t;
}

/* ns until the next debounce or timeline deadline; -1 if none. */
static int64_t
next_deadline(int64_t now)
{
	int64_t best = -1, d;
	size_t i;

	for (i = 0; i < pg.n; i++)
		if (pending(i)) {
			d = ls[i].changed_ns + ls[i].debounce_ns - now;
			if (best == -1 || d < best)
				best = d;
		}
	d = tl_next(now, oldest_pending());
	if (d != -1 && (best == -1 || d < best))
		best = d;
	return best == -1 ? -1 : best < 0 ? 0 : best;
}

/*
 * A line from stdin, read at now: onto the timeline, to be passed on.
 * An identify or a depart is placed at its ts; with -r, whose times are
 * not the wall clock, at now.
 */
static void
input_line(struct ms_reader *in, int64_t now, int replay)
{
	char err[256];
	enum tl_line_kind kind = TL_OTHER;
	const char *card = NULL;
	int64_t t = INT64_MIN, ms;
	json_t *j;
	int rc = 0;

	j = ms_json_parse_line(in->line, in->len, err, sizeof(err));
	if (j == NULL)
		rc = -1;
	else if (ms_msg_type(j) == MS_MSG_DEPART) {
		kind = TL_DEPART;
		rc = ms_validate_depart(j, err, sizeof(err));
	} else if (ms_msg_type(j) == MS_MSG_IDENTIFY) {
		kind = TL_IDENTIFY;
		rc = ms_validate_identify(j, err, sizeof(err));
	}
	if (rc == -1) {
		ms_warn_at(in->source, in->lineno, "%s (passed on, not used)",
		    err);
		exit_status = MS_EX_FAIL;
		kind = TL_OTHER;
	} else if (kind != TL_OTHER) {
		card = json_string_value(json_object_get(j, "card"));
		if (replay)
			t = now;
		else if (ms_time_parse(json_string_value(json_object_get(j,
		    "ts")), &ms) == 0)
			t = ts_mono(ms);
	}
	tl_line(in->line, in->len, kind, card, t, now);
	json_decref(j);
}
/*
 * The replay source (-r): edges from a file or FIFO, paced by their
 * times, or as fast as they can be read with -f.
 */
struct replay {
	struct ms_reader r;
	int		 fast;
	int		 started;	/* the first edge has been seen */
	int64_t		 t0_ns, base_ns, last_ns;
	int		 have;		/* rec holds an edge not yet due */
	struct replay_rec rec;
	int64_t		 due_ns;
};

static void
replay_initial_levels(void)
{
	size_t i;
	int high;

	for (i = 0; i < pg.n; i++) {
		high = pg.lines[i].bias == GPIO_BIAS_PULL_UP;
		ls[i].stable = ls[i].level = high ^ pg.lines[i].active_low;
		ls[i].changed_ns = clock_now();
		ls[i].debounce_ns = pg.lines[i].debounce_ns;
	}
}

/* Read the next usable edge into rp->rec; 1 if one is there, 0 if not yet. */
static int
replay_next(struct replay *rp)
{
	char err[256];
	int rc, k;

	while (!rp->have) {
		rc = ms_reader_line(&rp->r, 1, err, sizeof(err));
		if (rc == MS_READ_AGAIN || rc == MS_READ_EOF)
			return 0;
		if (rc == MS_READ_ERROR)
			ms_errx(MS_EX_FAIL, "%s: %s", rp->r.source, err);
		if (rc == MS_READ_BAD ||
		    replay_parse(rp->r.line, &rp->rec, err, sizeof(err)) == -1) {
			ms_warn_at(rp->r.source, rp->r.lineno, "%s", err);
			exit_status = MS_EX_FAIL;
			continue;
		}
		if (rp->rec.kind == REPLAY_NONE)
			continue;
		if ((k = index_of(rp->rec.offset)) == -1) {
			ms_warn_at(rp->r.source, rp->r.lineno, "line offset %u "
			    "is not in the planogram", rp->rec.offset);
			exit_status = MS_EX_FAIL;
			continue;
		}
		if (rp->rec.kind == REPLAY_LEVEL) {
			if (rp->started) {
				ms_warn_at(rp->r.source, rp->r.lineno, "a level "
				    "line after the first edge");
				exit_status = MS_EX_FAIL;
				continue;
			}
			ls[k].stable = ls[k].level =
			    rp->rec.high ^ pg.lines[k].active_low;
			continue;
		}
		if (!rp->started) {
			rp->started = 1;
			rp->t0_ns = rp->rec.t_ns;
			rp->base_ns = clock_now();
		} else if (rp->rec.t_ns < rp->last_ns) {
			ms_warn_at(rp->r.source, rp->r.lineno, "time goes "
			    "backwards");
			exit_status = MS_EX_FAIL;
			continue;
		}
		rp->last_ns = rp->rec.t_ns;
		rp->due_ns = rp->base_ns + (rp->rec.t_ns - rp->t0_ns);
		rp->have = 1;
	}
	return 1;
}

/* Apply the edges that are due; with -f, up to a batch of them. */
static void
replay_run(struct replay *rp)
{
	int64_t read_ns;
	int n = 0, k;

	while (n < REPLAY_BATCH && replay_next(rp)) {
		read_ns = lat_hist != NULL ? ms_mono_ns() : 0;	/* for -v only */
		if (rp->fast) {
			if (rp->due_ns > clock_vnow)
				clock_vnow = rp->due_ns;
		} else if (rp->due_ns > clock_now())
			return;
		k = index_of(rp->rec.offset);
		rp->have = 0;
		if (k == -1)
			continue;	/* a reload took the line away */
		/* what was due before this edge happens first */
		settle(rp->due_ns, read_ns);
		edge((size_t)k, rp->rec.high ^ pg.lines[k].active_low,
		    rp->due_ns, read_ns);
		settle(clock_now(), read_ns);
		tl_release(clock_now(), oldest_pending(), read_ns);
		n++;
	}
}

static int
edge_ts_cmp(const void *a, const void *b)
{
	const struct gpio_edge *x = a, *y = b;

	return (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
}

/* Read and apply every edge the chip has queued; -1 on a GPIO error. */
static int
gpio_run(void)
{
	static struct gpio_edge ev[EDGES_MAX];
	char err[256];
	int64_t read_ns;
	int n, i, k;

	do {
		if ((n = gpio_read(gpio, ev, EDGES_MAX, err, sizeof(err))) == -1) {
			ms_warnx("%s: %s", pg.chip, err);
			return -1;
		}
		read_ns = ms_mono_ns();
		/* lines are read one after another: put their edges in time order */
		qsort(ev, (size_t)n, sizeof(ev[0]), edge_ts_cmp);
		for (i = 0; i < n; i++)
			if ((k = index_of(ev[i].offset)) != -1)
				edge((size_t)k, ev[i].level, ev[i].ts_ns, read_ns);
	} while (n == EDGES_MAX);
	return 0;
}

/*
 * Request the planogram's lines.  The kernel debounces a line if it can
 * (libgpiod 2); where it does not, msdetect does, with the same time.
 */
static struct gpio *
open_chip(const struct planogram *p, struct gpio_line_status *st)
{
	struct gpio_line_cfg cfg[GPIO_LINES_MAX];
	struct gpio_src chip_src = { p->source, p->chip_lineno };
	char err[1024];
	struct gpio *g;
	size_t i;

	for (i = 0; i < p->n; i++) {
		cfg[i].offset = p->lines[i].offset;
		cfg[i].active_low = p->lines[i].active_low;
		cfg[i].bias = p->lines[i].bias;
		cfg[i].debounce_us = (uint32_t)(p->lines[i].debounce_ns / 1000);
		cfg[i].src.file = p->source;
		cfg[i].src.line = p->lines[i].lineno;
	}
	if ((g = gpio_open(p->chip, chip_src, "msdetect", cfg, p->n, st, err,
	    sizeof(err))) == NULL)
		ms_warnx("%s", err);
	return g;
}

/* Our own debounce for line i of p: none where the kernel does it. */
static int64_t
own_debounce(const struct planogram *p, size_t i,
    const struct gpio_line_status *st)
{
	return st != NULL && st[i].kernel_debounce ? 0 : p->lines[i].debounce_ns;
}

/*
 * The timeline waits for the longest debounce the kernel does: its edges
 * come that long after the time they carry.
 */
static void
kernel_debounce_update(void)
{
	size_t i;

	tl_cfg.kernel_debounce_ns = 0;
	for (i = 0; gpio != NULL && i < pg.n; i++)
		if (ls[i].debounce_ns == 0 &&
		    pg.lines[i].debounce_ns > tl_cfg.kernel_debounce_ns)
			tl_cfg.kernel_debounce_ns = pg.lines[i].debounce_ns;
}

static int
same_request(const struct planogram *a, const struct planogram *b)
{
	size_t i;

	if (strcmp(a->chip, b->chip) != 0 || a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->lines[i].offset != b->lines[i].offset ||
		    a->lines[i].active_low != b->lines[i].active_low ||
		    a->lines[i].bias != b->lines[i].bias ||
		    a->lines[i].debounce_ns != b->lines[i].debounce_ns)
			return 0;
	return 1;
}

/*
 * SIGHUP: load the planogram again.  Edges already queued are applied
 * under the old one first; a line that stays keeps its state, so a
 * change in flight is not lost; a bad file changes nothing.
 */
static void
reload(void)
{
	struct planogram np;
	struct line_state nls[GPIO_LINES_MAX];
	struct gpio_line_status st[GPIO_LINES_MAX];
	struct gpio *ng = NULL;
	int64_t now;
	size_t i;
	int k;

	if (planogram_load(pg_path, &np) == -1) {
		ms_warnx("%s: not reloaded, keeping the planogram in use",
		    pg_path);
		return;
	}
	if (gpio != NULL && gpio_run() == -1)
		ms_errx(MS_EX_FAIL, "%s: cannot read edges before reloading",
		    pg.chip);
	if (gpio != NULL && !same_request(&pg, &np)) {
		gpio_close(gpio);
		if ((ng = open_chip(&np, st)) == NULL) {
			/* put the old request back, or give up */
			if ((gpio = open_chip(&pg, st)) == NULL)
				ms_errx(MS_EX_FAIL, "%s: lost the GPIO lines",
				    pg.chip);
			for (i = 0; i < pg.n; i++) {
				ls[i].debounce_ns = own_debounce(&pg, i, st);
				if (st[i].level != ls[i].level)
					edge(i, st[i].level, clock_now(),
					    ms_mono_ns());
			}
			kernel_debounce_update();
			ms_warnx("%s: not reloaded, keeping the planogram in use",
			    pg_path);
			return;
		}
	}
	/* a line that goes away still reports what it was settling */
	for (i = 0; i < pg.n; i++)
		if (planogram_find(&np, pg.lines[i].offset) == -1 && pending(i))
			commit(i, ms_mono_ns());
	now = clock_now();
	for (i = 0; i < np.n; i++) {
		k = planogram_find(&pg, np.lines[i].offset);
		if (k != -1) {
			/* the same sensor: keep what it was doing */
			nls[i] = ls[k];
			/* a request kept as it was keeps its debounce */
			if (gpio == NULL || ng != NULL)
				nls[i].debounce_ns = own_debounce(&np, i,
				    ng != NULL ? st : NULL);
			if (np.lines[i].active_low != pg.lines[k].active_low) {
				nls[i].stable = !nls[i].stable;
				nls[i].level = !nls[i].level;
			}
		} else {
			int high = np.lines[i].bias == GPIO_BIAS_PULL_UP;

			nls[i].stable = nls[i].level = ng != NULL ? st[i].level :
			    high ^ np.lines[i].active_low;
			nls[i].debounce_ns = own_debounce(&np, i,
			    ng != NULL ? st : NULL);
			nls[i].changed_ns = now;
			nls[i].read_ns = 0;
			continue;
		}
		/* what changed while the lines were being requested again */
		if (ng != NULL && st[i].level != nls[i].level) {
			nls[i].level = st[i].level;
			nls[i].changed_ns = now;
			nls[i].read_ns = ms_mono_ns();
		}
	}
	if (ng != NULL)
		gpio = ng;
	pg = np;
	memcpy(ls, nls, sizeof(ls));
	index_build();
	kernel_debounce_update();
	if (verbose)
		ms_warnx("%s: reloaded, %zu lines", pg_path, pg.n);
}

static void
print_stats(void)
{
	unsigned long long total = 0, acc = 0;
	double med = -1, p99 = -1;
	size_t b;

	if (lat_hist == NULL)
		return;
	for (b = 0; b <= LAT_BUCKETS; b++)
		total += lat_hist[b];
	for (b = 0; b <= LAT_BUCKETS && total > 0; b++) {
		acc += lat_hist[b];
		if (med < 0 && acc * 2 >= total)
			med = (b + 1) * LAT_BUCKET_NS / 1000.0;
		if (p99 < 0 && acc * 100 >= total * 99)
			p99 = (b + 1) * LAT_BUCKET_NS / 1000.0;
	}
	ms_warnx("%llu edges, %llu events; edge read to event written: "
	    "median %.1f us, p99 %.1f us", n_edges, n_events, med, p99);
}

int
main(int argc, char *argv[])
{
	struct ms_reader in;
	struct replay rp;
	struct pollfd pfd[2 + GPIO_LINES_MAX];
	int gpiofds[GPIO_LINES_MAX];
	struct gpio_line_status st[GPIO_LINES_MAX];
	const char *replay_path = NULL;
	int64_t now, now0, t, last_input_ns;
	unsigned long long edges_before;
	int64_t loop_ns;
	size_t i, ngpiofd = 0, npfd, n_kernel_debounce = 0;
	size_t n_own_debounce = 0;
	int ch, fast = 0, rc;
	struct timespec wait_ts;
	sigset_t sigs, waitmask;
	char err[256];

	ms_setprog(argv[0]);
	ms_version_option(argc, argv);
	while ((ch = getopt(argc, argv, "a:c:dDfhr:T:t:vw:")) != -1) {
		switch (ch) {
		case 'c':
			pg_path = optarg;
			break;
		case 'd':
			/* the default now; kept for the pipelines that say it */
			tl_cfg.end_on_depart = 1;
			break;
		case 'D':
			tl_cfg.end_on_depart = 0;
			break;
		case 'f':
			fast = 1;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'r':
			replay_path = optarg;
			break;
		case 'a':
		case 'T':
		case 't':
		case 'w':
			if (ms_parse_seconds(optarg, &t) == -1 ||
			    t > INT64_C(1000000000) ||
			    (ch == 'w' && t > 3600 * 1000)) {
				ms_warnx("-%c: bad number of seconds \"%s\"", ch,
				    optarg);
				usage();
				return MS_EX_USAGE;
			}
			if (ch == 'a')
				tl_cfg.margin_ns = t * 1000000;
			else if (ch == 'T')
				idle_exit_ns = t * 1000000;
			else if (ch == 't')
				tl_cfg.session_ns = t * 1000000;
			else
				tl_cfg.window_ns = t * 1000000;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || pg_path == NULL || (fast && replay_path == NULL)) {
		if (pg_path == NULL)
			ms_warnx("a planogram (-c) is needed");
		else if (argc == 0)
			ms_warnx("-f goes with -r");
		usage();
		return MS_EX_USAGE;
	}
	if (planogram_load(pg_path, &pg) == -1)
		return MS_EX_FAIL;
	tl_cfg.pg = &pg;	/* a reload changes what it points to */
	index_build();
	if (verbose && (lat_hist = calloc(LAT_BUCKETS + 1,
	    sizeof(*lat_hist))) == NULL)
		ms_err(MS_EX_FAIL, "calloc");
	ms_sig_install(1);

	memset(&rp, 0, sizeof(rp));
	if (replay_path != NULL) {
		/* a FIFO: wait here for its writer */
		int fd = open(replay_path, O_RDONLY);

		if (fd == -1 && errno == EINTR && ms_sig_stop)
			return MS_EX_OK;	/* stopped before the writer came */
		if (fd == -1)
			ms_err(MS_EX_FAIL, "%s", replay_path);
		ms_reader_init(&rp.r, fd, replay_path);
		rp.fast = fast;
		clock_frozen = fast;
		/* edges and lines are stamped when read: none comes late */
		tl_cfg.window_ns = 0;
		tl_cfg.edge_late_ns = 0;
		clock_vnow = ms_mono_ns();
		replay_initial_levels();
	} else {
		if ((gpio = open_chip(&pg, st)) == NULL)
			return MS_EX_FAIL;
		for (i = 0; i < pg.n; i++) {
			ls[i].stable = ls[i].level = st[i].level;
			ls[i].changed_ns = clock_now();
			ls[i].debounce_ns = own_debounce(&pg, i, st);
			n_kernel_debounce += st[i].kernel_debounce;
			n_own_debounce += ls[i].debounce_ns > 0;
		}
		kernel_debounce_update();
	}
	clock_sync_wall();
	if (verbose && replay_path != NULL)
		ms_warnx("ready: %zu lines, %s", pg.n, replay_path);
	else if (verbose)
		ms_warnx("ready: %zu lines, %s, debounced by the kernel: %zu, "
		    "by msdetect: %zu", pg.n, gpio_backend(), n_kernel_debounce,
		    n_own_debounce);

	/*
	 * Signals are let in only while waiting in ppoll(), so one that
	 * comes just before the wait still ends it at once.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGHUP);

	ms_reader_init(&in, STDIN_FILENO, "-");
	last_input_ns = clock_now();
	tl_start(last_input_ns);
	while (!ms_sig_stop && !ms_write_failed()) {
		loop_ns = ms_mono_ns();
		if (ms_sig_reload) {
			ms_sig_reload = 0;
			reload();
		}
		if (!rp.fast)
			clock_sync_wall();
		/*
		 * Whatever happened before now0 is read below, from both
		 * inputs, before anything is written: however long msdetect
		 * was stopped, a take is never written before a card that
		 * came ahead of it was seen.
		 */
		now0 = clock_now();
		/* stdin: every whole line that is waiting */
		while (!in.eof) {
			rc = ms_reader_line(&in, 1, err, sizeof(err));
			if (rc == MS_READ_AGAIN)
				break;
			if (rc == MS_READ_LINE) {
				input_line(&in, clock_now(), gpio == NULL);
				continue;
			}
			if (rc == MS_READ_BAD) {
				ms_warn_at(in.source, in.lineno, "%s", err);
				exit_status = MS_EX_FAIL;
				continue;
			}
			if (rc == MS_READ_ERROR) {
				ms_warnx("stdin: %s", err);
				exit_status = MS_EX_FAIL;
				in.eof = 1;
			}
			last_input_ns = clock_now();	/* EOF starts -T */
			break;
		}
		edges_before = n_edges;
		if (gpio != NULL) {
			if (gpio_run() == -1) {
				exit_status = MS_EX_FAIL;
				break;
			}
		} else {
			replay_run(&rp);
			if (rp.fast && !rp.have && rp.r.eof && clock_frozen) {
				/* the file is over: real time goes on from here */
				clock_frozen = 0;
				clock_skew = clock_vnow - ms_mono_ns();
			}
		}
		now = clock_now();
		settle(now, loop_ns);
		/* a replay's inputs are stamped when read, so all is known */
		tl_release(gpio != NULL ? now0 : now, oldest_pending(), loop_ns);
		if (n_edges != edges_before)
			last_input_ns = now;

		/* done? */
		if (in.eof && !any_pending()) {
			if (gpio == NULL && rp.r.eof && !rp.have)
				break;
			if (idle_exit_ns >= 0 && now - last_input_ns >= idle_exit_ns)
				break;
		}

		/* wait for input or the next deadline */
		npfd = 0;
		if (!in.eof) {
			pfd[npfd].fd = STDIN_FILENO;
			pfd[npfd++].events = POLLIN;
		}
		t = next_deadline(now);
		if (gpio != NULL) {
			ngpiofd = gpio_pollfds(gpio, gpiofds, GPIO_LINES_MAX);
			for (i = 0; i < ngpiofd; i++) {
				pfd[npfd].fd = gpiofds[i];
				pfd[npfd++].events = POLLIN;
			}
		} else if (rp.have) {
			int64_t d = rp.due_ns - now;

			if (rp.fast || d < 0)
				d = 0;
			if (t == -1 || d < t)
				t = d;
		} else if (!rp.r.eof) {
			pfd[npfd].fd = rp.r.fd;
			pfd[npfd++].events = POLLIN;
		}
		if (in.eof && idle_exit_ns >= 0) {
			int64_t d = last_input_ns + idle_exit_ns - now;

			if (d < 0)
				d = 0;
			if (t == -1 || d < t)
				t = d;
		}
		if (ms_reader_ready(&in) && !in.eof)
			t = 0;
		if (replay_path != NULL && ms_reader_ready(&rp.r) && !rp.r.eof &&
		    !rp.have)
			t = 0;
		if (t > INT64_C(86400000000000))
			t = INT64_C(86400000000000);
		wait_ts.tv_sec = t / 1000000000;
		wait_ts.tv_nsec = t % 1000000000;
		if (ppoll(pfd, npfd, t == -1 ? NULL : &wait_ts, &waitmask) == -1 &&
		    errno != EINTR)
			ms_err(MS_EX_FAIL, "poll");
	}

	/* stopping: what is still settling counts, then the session ends */
	now = clock_now();
	settle(INT64_MAX / 2, 0);
	tl_finish(now);
	if (verbose)
		print_stats();
	gpio_close(gpio);
	if (replay_path != NULL) {
		close(rp.r.fd);
		ms_reader_free(&rp.r);
	}
	ms_reader_free(&in);
	free(lat_hist);
	if (ms_close_stdout() == -1)
		exit_status = MS_EX_FAIL;
	return exit_status;
}
