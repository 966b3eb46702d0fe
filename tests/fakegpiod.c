/*
 * fakegpiod.c: a stand-in for libgpiod 1.6 (the v1 API) and the kernel
 * GPIO character device behind it, for machines without GPIO hardware,
 * gpio-sim or configfs.  Built against the v1 <gpiod.h> as
 * $(BUILD)/fakegpiod-v1.so and used with LD_PRELOAD over the real
 * libgpiod, so msdetect runs its real v1 code path (src/msdetect/gpio_v1.c)
 * against it.  It exports the v1 functions msdetect calls; the
 * gpiod_line_bulk_* helpers are static inline in <gpiod.h> and work on
 * our lines unchanged.  tests/fakegpiod2.c is the same for the v2 API.
 *
 * The kernel's side (chips, levels, requests, events, scripts and the
 * FAKEGPIOD_* environment) is tests/fakegpiod_core.c.  What this file
 * adds is the v1 API over it:
 *  - chips found as libgpiod 1.6 finds them: gpiod_chip_open(path),
 *    _by_name, _by_number, _by_label and _lookup (a number, else a label,
 *    else a /dev path or a name), and gpiod_chip_iter_* over the chips
 *    in the order FAKEGPIOD_CHIP and FAKEGPIOD_MORE_CHIPS give them;
 *  - lines requested in bulk for both-edge events with one set of
 *    flags (ACTIVE_LOW, BIAS_*); each line has its own event descriptor,
 *    which polls readable while the line has events queued; the event
 *    type and the values read follow ACTIVE_LOW, as the kernel does;
 *  - gpiod_line_is_used() for lines held by this or another process.
 * v1 has no debounce and no clock to choose: timestamps are
 * CLOCK_MONOTONIC, as on Linux 5.7 and later.  Not emulated: output
 * lines, line info beyond "used", and whatever msdetect does not call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpiod.h>

#include "fakegpiod_core.h"

struct gpiod_line {
	struct gpiod_chip *chip;
	unsigned int	 offset;
	struct fk_request *req;		/* a request of this one line */
};

struct gpiod_chip {
	struct fk_chip	*fk;
	struct gpiod_line *lines;
};

struct gpiod_chip_iter {
	size_t		 next;
	struct gpiod_chip *last;	/* closed by the next step */
};

static struct gpiod_chip *
chip_new(struct fk_chip *fk)
{
	struct gpiod_chip *c;
	unsigned int i;

	if (fk == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->lines = calloc(fk->nlines ? fk->nlines : 1,
	    sizeof(*c->lines))) == NULL) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->fk = fk;
	for (i = 0; i < fk->nlines; i++) {
		c->lines[i].chip = c;
		c->lines[i].offset = i;
	}
	return c;
}

EXPORT struct gpiod_chip *
gpiod_chip_open(const char *path)
{
	return chip_new(fk_chip_by_path(path));
}

EXPORT struct gpiod_chip *
gpiod_chip_open_by_name(const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "/dev/%s", name);
	return gpiod_chip_open(path);
}

EXPORT struct gpiod_chip *
gpiod_chip_open_by_number(unsigned int num)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/gpiochip%u", num);
	return gpiod_chip_open(path);
}

EXPORT struct gpiod_chip *
gpiod_chip_open_by_label(const char *label)
{
	size_t i;

	for (i = 0; i < fk_nchips(); i++)
		if (strcmp(fk_chip_at(i)->label, label) == 0)
			return chip_new(fk_chip_at(i));
	errno = ENOENT;
	return NULL;
}

/* As libgpiod 1.6 does it: a number, else a label, else a path or name. */
EXPORT struct gpiod_chip *
gpiod_chip_open_lookup(const char *descr)
{
	struct gpiod_chip *c;

	if (descr[0] != '\0' && strspn(descr, "0123456789") == strlen(descr))
		return gpiod_chip_open_by_number(
		    (unsigned int)strtoul(descr, NULL, 10));
	if ((c = gpiod_chip_open_by_label(descr)) != NULL)
		return c;
	if (strncmp(descr, "/dev/", 5) == 0)
		return gpiod_chip_open(descr);
	return gpiod_chip_open_by_name(descr);
}

EXPORT const char *
gpiod_chip_name(struct gpiod_chip *chip)
{
	return chip->fk->name;
}

EXPORT const char *
gpiod_chip_label(struct gpiod_chip *chip)
{
	return chip->fk->label;
}

EXPORT unsigned int
gpiod_chip_num_lines(struct gpiod_chip *chip)
{
	return chip->fk->nlines;
}

EXPORT void
gpiod_chip_close(struct gpiod_chip *chip)
{
	unsigned int i;

	if (chip == NULL)
		return;
	/* as libgpiod 1.6: closing the chip releases its lines */
	for (i = 0; i < chip->fk->nlines; i++)
		fk_release(chip->lines[i].req);
	free(chip->lines);
	free(chip);
}

EXPORT struct gpiod_chip_iter *
gpiod_chip_iter_new(void)
{
	return calloc(1, sizeof(struct gpiod_chip_iter));
}

EXPORT struct gpiod_chip *
gpiod_chip_iter_next_noclose(struct gpiod_chip_iter *iter)
{
	iter->last = NULL;
	if (iter->next >= fk_nchips())
		return NULL;
	iter->last = chip_new(fk_chip_at(iter->next++));
	return iter->last;
}

EXPORT struct gpiod_chip *
gpiod_chip_iter_next(struct gpiod_chip_iter *iter)
{
	gpiod_chip_close(iter->last);
	return gpiod_chip_iter_next_noclose(iter);
}

EXPORT void
gpiod_chip_iter_free_noclose(struct gpiod_chip_iter *iter)
{
	free(iter);
}

EXPORT void
gpiod_chip_iter_free(struct gpiod_chip_iter *iter)
{
	if (iter != NULL)
		gpiod_chip_close(iter->last);
	free(iter);
}

EXPORT struct gpiod_line *
gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
	if (offset >= chip->fk->nlines) {
		errno = EINVAL;
		return NULL;
	}
	return &chip->lines[offset];
}

EXPORT int
gpiod_chip_get_lines(struct gpiod_chip *chip, unsigned int *offsets,
    unsigned int num, struct gpiod_line_bulk *bulk)
{
	unsigned int i;

	gpiod_line_bulk_init(bulk);
	if (num > GPIOD_LINE_BULK_MAX_LINES) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < num; i++) {
		if (offsets[i] >= chip->fk->nlines) {
			errno = EINVAL;
			return -1;
		}
		gpiod_line_bulk_add(bulk, &chip->lines[offsets[i]]);
	}
	return 0;
}

EXPORT unsigned int
gpiod_line_offset(struct gpiod_line *line)
{
	return line->offset;
}

EXPORT int
gpiod_line_update(struct gpiod_line *line)
{
	(void)line;
	return 0;	/* the fake's line info is always up to date */
}

EXPORT bool
gpiod_line_is_used(struct gpiod_line *line)
{
	char consumer[32];

	fk_line_consumer(line->chip->fk, line->offset, consumer,
	    sizeof(consumer));
	return consumer[0] != '\0';
}

EXPORT void
gpiod_line_release_bulk(struct gpiod_line_bulk *bulk)
{
	unsigned int offs[GPIOD_LINE_BULK_MAX_LINES];
	char text[GPIOD_LINE_BULK_MAX_LINES * 6];
	unsigned int i;

	for (i = 0; i < bulk->num_lines; i++) {
		offs[i] = bulk->lines[i]->offset;
		fk_release(bulk->lines[i]->req);
		bulk->lines[i]->req = NULL;
	}
	fk_offsets(text, sizeof(text), offs, bulk->num_lines);
	fk_log("release %s", text);
}

EXPORT int
gpiod_line_request_bulk_both_edges_events_flags(struct gpiod_line_bulk *bulk,
    const char *consumer, int flags)
{
	struct fk_settings set[GPIOD_LINE_BULK_MAX_LINES];
	unsigned int offs[GPIOD_LINE_BULK_MAX_LINES];
	struct gpiod_line *l;
	unsigned int i, n = bulk->num_lines;
	char who[32];

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(set, 0, sizeof(set));
	for (i = 0; i < n; i++) {
		l = bulk->lines[i];
		offs[i] = l->offset;
		set[i].active_low = (flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) != 0;
		set[i].bias = flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP ?
		    FK_BIAS_PULL_UP : flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN ?
		    FK_BIAS_PULL_DOWN : flags & GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE ?
		    FK_BIAS_DISABLE : FK_BIAS_AS_IS;
		set[i].clock = FK_CLOCK_MONOTONIC;
		/* the whole bulk or nothing: none may be held already */
		fk_line_consumer(l->chip->fk, l->offset, who, sizeof(who));
		if (who[0] != '\0') {
			errno = EBUSY;
			return -1;
		}
	}
	/* one request a line: v1 has an event descriptor a line */
	for (i = 0; i < n; i++) {
		l = bulk->lines[i];
		if ((l->req = fk_request(l->chip->fk, &offs[i], &set[i], 1,
		    consumer)) == NULL) {
			int e = errno;

			while (i-- > 0) {
				fk_release(bulk->lines[i]->req);
				bulk->lines[i]->req = NULL;
			}
			errno = e;
			return -1;
		}
	}
	fk_log_request(bulk->lines[0]->chip->fk, offs, set, n,
	    consumer ? consumer : "?", 0);
	return 0;
}

EXPORT int
gpiod_line_get_value_bulk(struct gpiod_line_bulk *bulk, int *values)
{
	unsigned int i;

	for (i = 0; i < bulk->num_lines; i++) {
		if (bulk->lines[i]->req == NULL) {
			errno = EPERM;
			return -1;
		}
		values[i] = fk_value(bulk->lines[i]->req, bulk->lines[i]->offset);
	}
	return 0;
}

EXPORT int
gpiod_line_event_get_fd(struct gpiod_line *line)
{
	if (line->req == NULL) {
		errno = EPERM;
		return -1;
	}
	return line->req->pipe[0];
}

EXPORT int
gpiod_line_event_wait_bulk(struct gpiod_line_bulk *bulk,
    const struct timespec *timeout, struct gpiod_line_bulk *event_bulk)
{
	struct pollfd pfd[GPIOD_LINE_BULK_MAX_LINES];
	unsigned int i;
	int r;

	fk_catch_up();
	for (i = 0; i < bulk->num_lines; i++) {
		if (bulk->lines[i]->req == NULL) {
			errno = EPERM;
			return -1;
		}
		pfd[i].fd = bulk->lines[i]->req->pipe[0];
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
	struct fk_event ev[16];
	int n, i;

	if (line->req == NULL) {
		errno = EPERM;
		return -1;
	}
	/* libgpiod 1.6 reads at most 16 at once */
	if ((n = fk_read(line->req, ev, num < 16 ? num : 16)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		events[i].ts.tv_sec = ev[i].ts_ns / 1000000000;
		events[i].ts.tv_nsec = ev[i].ts_ns % 1000000000;
		events[i].event_type = ev[i].rising ?
		    GPIOD_LINE_EVENT_RISING_EDGE : GPIOD_LINE_EVENT_FALLING_EDGE;
	}
	return n;
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
