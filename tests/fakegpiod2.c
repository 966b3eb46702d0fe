/*
 * fakegpiod2.c: a stand-in for libgpiod 2.x (the v2 API) and the kernel
 * GPIO character device behind it, for machines without GPIO hardware,
 * gpio-sim or configfs.  Built against the v2 <gpiod.h> as
 * $(BUILD)/fakegpiod-v2.so and used with LD_PRELOAD over the real
 * libgpiod, so msdetect runs its real v2 code path (src/msdetect/gpio_v2.c)
 * against it.  It exports the v2 functions msdetect calls and a few of
 * their neighbours; tests/fakegpiod.c is the same for the v1 API.
 *
 * The kernel's side (chips, levels, requests, events, debounce, scripts
 * and the FAKEGPIOD_* environment) is tests/fakegpiod_core.c.  What this
 * file adds is the v2 API over it, as strict as libgpiod and the kernel:
 *  - settings, line and request configs: a bad enum value fails EINVAL;
 *    edge detection needs the input direction and a bias needs a
 *    direction (EINVAL, as the kernel's flag checks); HTE timestamps
 *    fail EOPNOTSUPP (no HTE provider); outputs fail EOPNOTSUPP;
 *  - a request of offsets the chip does not have fails EINVAL, of a line
 *    already held (by us, another request or FAKEGPIOD_BUSY) EBUSY;
 *  - a debounce period is honoured or not as FAKEGPIOD_DEBOUNCE says,
 *    and line info reports it as the kernel would;
 *  - timestamps on the clock each line asked for (MONOTONIC by default);
 *  - gpiod_line_request_get_fd() polls readable while events are queued;
 *    reading with none queued blocks, as read(2) on the kernel's does.
 *
 * The chips' device nodes.  libgpiod 2 opens chips by path and has no
 * chip iterator: programs list /dev and keep what
 * gpiod_is_gpiochip_device() accepts.  The fake's chips are
 * /dev/gpiochipN to gpiod_chip_open() and gpiod_is_gpiochip_device(),
 * and, to stand in for devtmpfs, opendir("/dev")/readdir()/closedir()
 * are interposed so a listing of /dev shows them (as character devices,
 * before /dev's own entries, which it hides if they have a fake chip's
 * name).  Nothing is created on disk: stat(2), open(2) or scandir(3) on
 * those paths, and /sys/bus/gpio, do not see the fake chips.
 */
#define _GNU_SOURCE	/* RTLD_NEXT, readdir64 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpiod.h>

#include "fakegpiod_core.h"

struct gpiod_chip {
	struct fk_chip	*fk;
	char		 path[64];
};

struct gpiod_chip_info {
	char		 name[32];
	char		 label[64];
	size_t		 nlines;
};

struct gpiod_line_info {
	unsigned int	 offset;
	char		 consumer[32];
	bool		 debounced;
	unsigned long	 debounce_us;
};

struct gpiod_line_settings {
	enum gpiod_line_direction direction;
	enum gpiod_line_edge edge;
	enum gpiod_line_bias bias;
	enum gpiod_line_drive drive;
	bool		 active_low;
	unsigned long	 debounce_us;
	enum gpiod_line_clock clock;
	enum gpiod_line_value output;
};

struct gpiod_line_config {
	size_t		 n;
	unsigned int	 offsets[FK_REQUEST_MAX];
	struct gpiod_line_settings set[FK_REQUEST_MAX];
};

struct gpiod_request_config {
	char		 consumer[32];
	size_t		 event_buffer_size;
};

struct gpiod_line_request {
	struct fk_request *fk;
	char		 chip_name[32];
};

struct gpiod_edge_event {
	enum gpiod_edge_event_type type;
	uint64_t	 ts_ns;
	unsigned int	 offset;
	unsigned long	 seqno, line_seqno;
};

struct gpiod_edge_event_buffer {
	size_t		 cap, n;
	struct gpiod_edge_event *ev;
};

/* --- chips */

EXPORT bool
gpiod_is_gpiochip_device(const char *path)
{
	return path != NULL && fk_chip_by_path(path) != NULL;
}

EXPORT struct gpiod_chip *
gpiod_chip_open(const char *path)
{
	struct fk_chip *fk;
	struct gpiod_chip *c;

	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((fk = fk_chip_by_path(path)) == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fk = fk;
	snprintf(c->path, sizeof(c->path), "/dev/%s", fk->name);
	return c;
}

EXPORT void
gpiod_chip_close(struct gpiod_chip *chip)
{
	free(chip);	/* requests outlive their chip, as in libgpiod 2 */
}

EXPORT const char *
gpiod_chip_get_path(struct gpiod_chip *chip)
{
	return chip->path;
}

EXPORT struct gpiod_chip_info *
gpiod_chip_get_info(struct gpiod_chip *chip)
{
	struct gpiod_chip_info *i;

	if ((i = calloc(1, sizeof(*i))) == NULL)
		return NULL;
	snprintf(i->name, sizeof(i->name), "%s", chip->fk->name);
	snprintf(i->label, sizeof(i->label), "%s", chip->fk->label);
	i->nlines = chip->fk->nlines;
	return i;
}

EXPORT void
gpiod_chip_info_free(struct gpiod_chip_info *info)
{
	free(info);
}

EXPORT const char *
gpiod_chip_info_get_name(struct gpiod_chip_info *info)
{
	return info->name;
}

EXPORT const char *
gpiod_chip_info_get_label(struct gpiod_chip_info *info)
{
	return info->label;
}

EXPORT size_t
gpiod_chip_info_get_num_lines(struct gpiod_chip_info *info)
{
	return info->nlines;
}

EXPORT struct gpiod_line_info *
gpiod_chip_get_line_info(struct gpiod_chip *chip, unsigned int offset)
{
	struct gpiod_line_info *i;
	struct fk_line *l;

	if (offset >= chip->fk->nlines) {
		errno = EINVAL;
		return NULL;
	}
	if ((i = calloc(1, sizeof(*i))) == NULL)
		return NULL;
	l = &chip->fk->lines[offset];
	i->offset = offset;
	fk_line_consumer(chip->fk, offset, i->consumer, sizeof(i->consumer));
	/* the kernel reports the period only where it debounces */
	if (i->consumer[0] != '\0' && l->debounced) {
		i->debounced = true;
		i->debounce_us = (unsigned long)(l->set.debounce_ns / 1000);
	}
	return i;
}

EXPORT void
gpiod_line_info_free(struct gpiod_line_info *info)
{
	free(info);
}

EXPORT unsigned int
gpiod_line_info_get_offset(struct gpiod_line_info *info)
{
	return info->offset;
}

EXPORT bool
gpiod_line_info_is_used(struct gpiod_line_info *info)
{
	return info->consumer[0] != '\0';
}

EXPORT const char *
gpiod_line_info_get_consumer(struct gpiod_line_info *info)
{
	return info->consumer[0] != '\0' ? info->consumer : NULL;
}

EXPORT bool
gpiod_line_info_is_debounced(struct gpiod_line_info *info)
{
	return info->debounced;
}

EXPORT unsigned long
gpiod_line_info_get_debounce_period_us(struct gpiod_line_info *info)
{
	return info->debounce_us;
}

/* --- line settings, as libgpiod 2 checks them */

EXPORT void
gpiod_line_settings_reset(struct gpiod_line_settings *s)
{
	s->direction = GPIOD_LINE_DIRECTION_AS_IS;
	s->edge = GPIOD_LINE_EDGE_NONE;
	s->bias = GPIOD_LINE_BIAS_AS_IS;
	s->drive = GPIOD_LINE_DRIVE_PUSH_PULL;
	s->active_low = false;
	s->debounce_us = 0;
	s->clock = GPIOD_LINE_CLOCK_MONOTONIC;
	s->output = GPIOD_LINE_VALUE_INACTIVE;
}

EXPORT struct gpiod_line_settings *
gpiod_line_settings_new(void)
{
	struct gpiod_line_settings *s;

	if ((s = malloc(sizeof(*s))) != NULL)
		gpiod_line_settings_reset(s);
	return s;
}

EXPORT void
gpiod_line_settings_free(struct gpiod_line_settings *s)
{
	free(s);
}

EXPORT struct gpiod_line_settings *
gpiod_line_settings_copy(struct gpiod_line_settings *s)
{
	struct gpiod_line_settings *c;

	if ((c = malloc(sizeof(*c))) != NULL)
		*c = *s;
	return c;
}

/* A value outside the enum: the default, and EINVAL. */
#define SET_CHECKED(field, v, lo, hi, dflt) do {		\
	if ((int)(v) < (int)(lo) || (int)(v) > (int)(hi)) {	\
		s->field = (dflt);				\
		errno = EINVAL;					\
		return -1;					\
	}							\
	s->field = (v);						\
	return 0;						\
} while (0)

EXPORT int
gpiod_line_settings_set_direction(struct gpiod_line_settings *s,
    enum gpiod_line_direction v)
{
	SET_CHECKED(direction, v, GPIOD_LINE_DIRECTION_AS_IS,
	    GPIOD_LINE_DIRECTION_OUTPUT, GPIOD_LINE_DIRECTION_AS_IS);
}

EXPORT int
gpiod_line_settings_set_edge_detection(struct gpiod_line_settings *s,
    enum gpiod_line_edge v)
{
	SET_CHECKED(edge, v, GPIOD_LINE_EDGE_NONE, GPIOD_LINE_EDGE_BOTH,
	    GPIOD_LINE_EDGE_NONE);
}

EXPORT int
gpiod_line_settings_set_bias(struct gpiod_line_settings *s,
    enum gpiod_line_bias v)
{
	if (v == GPIOD_LINE_BIAS_UNKNOWN) {
		s->bias = GPIOD_LINE_BIAS_AS_IS;
		errno = EINVAL;
		return -1;
	}
	SET_CHECKED(bias, v, GPIOD_LINE_BIAS_AS_IS, GPIOD_LINE_BIAS_PULL_DOWN,
	    GPIOD_LINE_BIAS_AS_IS);
}

EXPORT int
gpiod_line_settings_set_drive(struct gpiod_line_settings *s,
    enum gpiod_line_drive v)
{
	SET_CHECKED(drive, v, GPIOD_LINE_DRIVE_PUSH_PULL,
	    GPIOD_LINE_DRIVE_OPEN_SOURCE, GPIOD_LINE_DRIVE_PUSH_PULL);
}

EXPORT void
gpiod_line_settings_set_active_low(struct gpiod_line_settings *s,
    bool active_low)
{
	s->active_low = active_low;
}

EXPORT void
gpiod_line_settings_set_debounce_period_us(struct gpiod_line_settings *s,
    unsigned long period)
{
	s->debounce_us = period;
}

EXPORT int
gpiod_line_settings_set_event_clock(struct gpiod_line_settings *s,
    enum gpiod_line_clock v)
{
	SET_CHECKED(clock, v, GPIOD_LINE_CLOCK_MONOTONIC, GPIOD_LINE_CLOCK_HTE,
	    GPIOD_LINE_CLOCK_MONOTONIC);
}

EXPORT int
gpiod_line_settings_set_output_value(struct gpiod_line_settings *s,
    enum gpiod_line_value v)
{
	SET_CHECKED(output, v, GPIOD_LINE_VALUE_INACTIVE,
	    GPIOD_LINE_VALUE_ACTIVE, GPIOD_LINE_VALUE_INACTIVE);
}

/* --- line and request configs */

EXPORT struct gpiod_line_config *
gpiod_line_config_new(void)
{
	return calloc(1, sizeof(struct gpiod_line_config));
}

EXPORT void
gpiod_line_config_free(struct gpiod_line_config *c)
{
	free(c);
}

EXPORT void
gpiod_line_config_reset(struct gpiod_line_config *c)
{
	c->n = 0;
}

/* Settings for offsets; an offset given again gets the new settings. */
EXPORT int
gpiod_line_config_add_line_settings(struct gpiod_line_config *c,
    const unsigned int *offsets, size_t num, struct gpiod_line_settings *s)
{
	struct gpiod_line_settings dflt;
	size_t i, j;

	if (offsets == NULL || num == 0) {
		errno = EINVAL;
		return -1;
	}
	if (s == NULL) {
		gpiod_line_settings_reset(&dflt);
		s = &dflt;
	}
	for (i = 0; i < num; i++) {
		for (j = 0; j < c->n && c->offsets[j] != offsets[i]; j++)
			;
		if (j == c->n) {
			if (c->n == FK_REQUEST_MAX) {
				errno = E2BIG;
				return -1;
			}
			c->offsets[c->n++] = offsets[i];
		}
		c->set[j] = *s;
	}
	return 0;
}

EXPORT size_t
gpiod_line_config_get_num_configured_offsets(struct gpiod_line_config *c)
{
	return c->n;
}

EXPORT struct gpiod_request_config *
gpiod_request_config_new(void)
{
	return calloc(1, sizeof(struct gpiod_request_config));
}

EXPORT void
gpiod_request_config_free(struct gpiod_request_config *c)
{
	free(c);
}

EXPORT void
gpiod_request_config_set_consumer(struct gpiod_request_config *c,
    const char *consumer)
{
	/* the kernel keeps 31 bytes of it */
	snprintf(c->consumer, sizeof(c->consumer), "%s", consumer ? consumer : "");
}

EXPORT const char *
gpiod_request_config_get_consumer(struct gpiod_request_config *c)
{
	return c->consumer[0] != '\0' ? c->consumer : NULL;
}

EXPORT void
gpiod_request_config_set_event_buffer_size(struct gpiod_request_config *c,
    size_t size)
{
	c->event_buffer_size = size;	/* queues grow in the fake */
}

/* --- requests */

/* The kernel's checks of one line's settings (gpio_v2_line_flags_validate). */
static int
settings_valid(const struct gpiod_line_settings *s)
{
	if (s->direction == GPIOD_LINE_DIRECTION_OUTPUT) {
		errno = EOPNOTSUPP;	/* the fake has no outputs */
		return 0;
	}
	if (s->clock == GPIOD_LINE_CLOCK_HTE) {
		errno = EOPNOTSUPP;	/* no hardware timestamp engine */
		return 0;
	}
	if ((s->edge != GPIOD_LINE_EDGE_NONE || s->debounce_us > 0) &&
	    s->direction != GPIOD_LINE_DIRECTION_INPUT) {
		errno = EINVAL;
		return 0;
	}
	if (s->bias != GPIOD_LINE_BIAS_AS_IS &&
	    s->direction == GPIOD_LINE_DIRECTION_AS_IS) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static enum fk_bias
fk_bias_of(enum gpiod_line_bias b)
{
	switch (b) {
	case GPIOD_LINE_BIAS_DISABLED:
		return FK_BIAS_DISABLE;
	case GPIOD_LINE_BIAS_PULL_UP:
		return FK_BIAS_PULL_UP;
	case GPIOD_LINE_BIAS_PULL_DOWN:
		return FK_BIAS_PULL_DOWN;
	default:
		return FK_BIAS_AS_IS;
	}
}

EXPORT struct gpiod_line_request *
gpiod_chip_request_lines(struct gpiod_chip *chip,
    struct gpiod_request_config *rc, struct gpiod_line_config *lc)
{
	struct fk_settings set[FK_REQUEST_MAX];
	struct gpiod_line_request *r;
	const char *consumer = rc != NULL && rc->consumer[0] ? rc->consumer : "?";
	size_t i;

	if (lc == NULL || lc->n == 0) {
		errno = EINVAL;
		return NULL;
	}
	memset(set, 0, sizeof(set));
	for (i = 0; i < lc->n; i++) {
		if (!settings_valid(&lc->set[i]))
			return NULL;
		set[i].active_low = lc->set[i].active_low;
		set[i].bias = fk_bias_of(lc->set[i].bias);
		set[i].debounce_ns = (int64_t)lc->set[i].debounce_us * 1000;
		set[i].clock = lc->set[i].clock == GPIOD_LINE_CLOCK_REALTIME ?
		    FK_CLOCK_REALTIME : FK_CLOCK_MONOTONIC;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->fk = fk_request(chip->fk, lc->offsets, set, lc->n,
	    consumer)) == NULL) {
		free(r);
		return NULL;
	}
	snprintf(r->chip_name, sizeof(r->chip_name), "%s", chip->fk->name);
	fk_log_request(chip->fk, lc->offsets, set, lc->n, consumer, 1);
	return r;
}

EXPORT void
gpiod_line_request_release(struct gpiod_line_request *r)
{
	char text[FK_REQUEST_MAX * 6];

	if (r == NULL)
		return;
	fk_offsets(text, sizeof(text), r->fk->offsets, r->fk->n);
	fk_release(r->fk);
	free(r);
	fk_log("release %s", text);
}

EXPORT const char *
gpiod_line_request_get_chip_name(struct gpiod_line_request *r)
{
	return r->chip_name;
}

EXPORT size_t
gpiod_line_request_get_num_requested_lines(struct gpiod_line_request *r)
{
	return r->fk->n;
}

EXPORT size_t
gpiod_line_request_get_requested_offsets(struct gpiod_line_request *r,
    unsigned int *offsets, size_t max)
{
	size_t i;

	for (i = 0; i < r->fk->n && i < max; i++)
		offsets[i] = r->fk->offsets[i];
	return i;
}

static int
requested(struct gpiod_line_request *r, unsigned int offset)
{
	size_t i;

	for (i = 0; i < r->fk->n; i++)
		if (r->fk->offsets[i] == offset)
			return 1;
	return 0;
}

EXPORT enum gpiod_line_value
gpiod_line_request_get_value(struct gpiod_line_request *r, unsigned int offset)
{
	if (!requested(r, offset)) {
		errno = EINVAL;
		return GPIOD_LINE_VALUE_ERROR;
	}
	return fk_value(r->fk, offset) ? GPIOD_LINE_VALUE_ACTIVE :
	    GPIOD_LINE_VALUE_INACTIVE;
}

EXPORT int
gpiod_line_request_get_values_subset(struct gpiod_line_request *r, size_t n,
    const unsigned int *offsets, enum gpiod_line_value *values)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!requested(r, offsets[i])) {
			errno = EINVAL;
			return -1;
		}
	for (i = 0; i < n; i++)
		values[i] = gpiod_line_request_get_value(r, offsets[i]);
	return 0;
}

EXPORT int
gpiod_line_request_get_values(struct gpiod_line_request *r,
    enum gpiod_line_value *values)
{
	return gpiod_line_request_get_values_subset(r, r->fk->n,
	    r->fk->offsets, values);
}

EXPORT int
gpiod_line_request_get_fd(struct gpiod_line_request *r)
{
	return r->fk->pipe[0];
}

/* 1 events are queued, 0 timeout, -1 error; a negative timeout waits. */
EXPORT int
gpiod_line_request_wait_edge_events(struct gpiod_line_request *r,
    int64_t timeout_ns)
{
	struct timespec ts;

	ts.tv_sec = timeout_ns / 1000000000;
	ts.tv_nsec = timeout_ns % 1000000000;
	return fk_wait(r->fk, timeout_ns < 0 ? NULL : &ts);
}

EXPORT int
gpiod_line_request_read_edge_events(struct gpiod_line_request *r,
    struct gpiod_edge_event_buffer *b, size_t max)
{
	struct fk_event *ev;
	int n, i;

	if (max > b->cap)
		max = b->cap;
	b->n = 0;
	/* like the library: one read(2) of what is queued, up to max */
	if ((ev = calloc(max ? max : 1, sizeof(*ev))) == NULL)
		return -1;
	if ((n = fk_read(r->fk, ev, max)) == -1) {
		free(ev);
		return -1;
	}
	for (i = 0; i < n; i++) {
		b->ev[i].type = ev[i].rising ? GPIOD_EDGE_EVENT_RISING_EDGE :
		    GPIOD_EDGE_EVENT_FALLING_EDGE;
		b->ev[i].ts_ns = (uint64_t)ev[i].ts_ns;
		b->ev[i].offset = ev[i].offset;
		b->ev[i].seqno = ev[i].seqno;
		b->ev[i].line_seqno = ev[i].line_seqno;
	}
	free(ev);
	b->n = (size_t)n;
	return n;
}

/* --- edge events */

EXPORT struct gpiod_edge_event_buffer *
gpiod_edge_event_buffer_new(size_t capacity)
{
	struct gpiod_edge_event_buffer *b;

	if (capacity == 0)
		capacity = 64;
	if (capacity > 1024)
		capacity = 1024;
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->ev = calloc(capacity, sizeof(*b->ev))) == NULL) {
		free(b);
		return NULL;
	}
	b->cap = capacity;
	return b;
}

EXPORT void
gpiod_edge_event_buffer_free(struct gpiod_edge_event_buffer *b)
{
	if (b == NULL)
		return;
	free(b->ev);
	free(b);
}

EXPORT size_t
gpiod_edge_event_buffer_get_capacity(struct gpiod_edge_event_buffer *b)
{
	return b->cap;
}

EXPORT size_t
gpiod_edge_event_buffer_get_num_events(struct gpiod_edge_event_buffer *b)
{
	return b->n;
}

EXPORT struct gpiod_edge_event *
gpiod_edge_event_buffer_get_event(struct gpiod_edge_event_buffer *b,
    unsigned long index)
{
	if (index >= b->n) {
		errno = EINVAL;
		return NULL;
	}
	return &b->ev[index];
}

EXPORT enum gpiod_edge_event_type
gpiod_edge_event_get_event_type(struct gpiod_edge_event *e)
{
	return e->type;
}

EXPORT uint64_t
gpiod_edge_event_get_timestamp_ns(struct gpiod_edge_event *e)
{
	return e->ts_ns;
}

EXPORT unsigned int
gpiod_edge_event_get_line_offset(struct gpiod_edge_event *e)
{
	return e->offset;
}

EXPORT unsigned long
gpiod_edge_event_get_global_seqno(struct gpiod_edge_event *e)
{
	return e->seqno;
}

EXPORT unsigned long
gpiod_edge_event_get_line_seqno(struct gpiod_edge_event *e)
{
	return e->line_seqno;
}

EXPORT const char *
gpiod_api_version(void)
{
	return "2.2.1-fakegpiod";
}

/*
 * --- the chips in a listing of /dev (see the top).  A DIR opened on /dev
 * gives the fake chips first, then /dev's own entries.
 */

#define LISTINGS_MAX 8

static struct listing {
	DIR		*dir;
	size_t		 next;		/* the next fake chip to give */
	struct dirent	 ent;
	struct dirent64	 ent64;
} listings[LISTINGS_MAX];
static pthread_mutex_t listings_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "fakegpiod: no %s to call\n", name);
		abort();
	}
	return f;
}

static struct listing *
listing_of(DIR *d)
{
	size_t i;

	for (i = 0; i < LISTINGS_MAX; i++)
		if (listings[i].dir == d)
			return &listings[i];
	return NULL;
}

static int
is_dev(const char *path)
{
	return strcmp(path, "/dev") == 0 || strcmp(path, "/dev/") == 0;
}

EXPORT DIR *
opendir(const char *path)
{
	DIR *(*real_opendir)(const char *) = real("opendir");
	struct listing *l;
	DIR *d;

	if ((d = real_opendir(path)) == NULL || !is_dev(path))
		return d;
	pthread_mutex_lock(&listings_mu);
	if ((l = listing_of(NULL)) != NULL) {
		l->dir = d;
		l->next = 0;
	}
	pthread_mutex_unlock(&listings_mu);
	return d;
}

/*
 * The name of the next fake chip a listing of /dev gives, or NULL once
 * they are given (or d is not such a listing); *ours says whether it is.
 */
static const char *
fake_entry(DIR *d, struct listing **ours)
{
	const char *name = NULL;

	pthread_mutex_lock(&listings_mu);
	*ours = d != NULL ? listing_of(d) : NULL;
	if (*ours != NULL && (*ours)->next < fk_nchips())
		name = fk_chip_at((*ours)->next++)->name;
	pthread_mutex_unlock(&listings_mu);
	return name;
}

/* /dev's own entry with a fake chip's name is hidden by the fake one. */
static int
shadowed(const char *name)
{
	size_t i;

	for (i = 0; i < fk_nchips(); i++)
		if (strcmp(name, fk_chip_at(i)->name) == 0)
			return 1;
	return 0;
}

/* readdir and readdir64: the same, on their own entry types. */
#define READDIR_BODY(type, real_name, entfield) do {			\
	type *(*real_fn)(DIR *) = real(real_name);			\
	struct listing *l;						\
	const char *name;						\
	type *e;							\
									\
	if ((name = fake_entry(d, &l)) != NULL) {			\
		memset(&l->entfield, 0, sizeof(l->entfield));		\
		l->entfield.d_ino = 1;					\
		l->entfield.d_type = DT_CHR;				\
		l->entfield.d_reclen = sizeof(l->entfield);		\
		snprintf(l->entfield.d_name, sizeof(l->entfield.d_name),\
		    "%s", name);					\
		return &l->entfield;					\
	}								\
	while ((e = real_fn(d)) != NULL && l != NULL &&			\
	    shadowed(e->d_name))					\
		;							\
	return e;							\
} while (0)

EXPORT struct dirent *
readdir(DIR *d)
{
	READDIR_BODY(struct dirent, "readdir", ent);
}

EXPORT struct dirent64 *
readdir64(DIR *d)
{
	READDIR_BODY(struct dirent64, "readdir64", ent64);
}

EXPORT int
closedir(DIR *d)
{
	int (*real_closedir)(DIR *) = real("closedir");
	struct listing *l;

	pthread_mutex_lock(&listings_mu);
	if ((l = listing_of(d)) != NULL)
		l->dir = NULL;
	pthread_mutex_unlock(&listings_mu);
	return real_closedir(d);
}
