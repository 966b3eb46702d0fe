/*
 * gpio_v1.c: the gpio.h interface on libgpiod 1.x (the v1 API that
 * Debian 12 ships).  All of msdetect's libgpiod calls live here.
 *
 * The lines are requested for both-edge events with the planogram's bias
 * and active-low flags, so the kernel reports logical levels.  v1 has no
 * debounce in the kernel: msdetect debounces every line itself.  The
 * event timestamps are the kernel's CLOCK_MONOTONIC ones (Linux 5.7 and
 * later; older kernels stamped v1 events with CLOCK_REALTIME).
 *
 * The caller polls the lines' event descriptors together with stdin;
 * gpio_read() then asks libgpiod which lines have events
 * (gpiod_line_event_wait_bulk with a zero timeout) and reads them in
 * bulk, at most 16 per call.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpiod.h>

#include "gpio.h"
#include "ms.h"

#define READ_CHUNK 16		/* libgpiod 1.6 reads at most 16 at once */

struct gpio {
	struct gpiod_chip	*chip;
	struct gpiod_line_bulk	 bulk;
	size_t			 n;
};

static int
request_flags(const struct gpio_line_cfg *c)
{
	int flags = 0;

	if (c->active_low)
		flags |= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
	switch (c->bias) {
	case GPIO_BIAS_DISABLE:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
		break;
	case GPIO_BIAS_PULL_UP:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
		break;
	case GPIO_BIAS_PULL_DOWN:
		flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
		break;
	case GPIO_BIAS_AS_IS:
		break;
	}
	return flags;
}

/*
 * The chip the planogram names: a number N is /dev/gpiochipN, a path is
 * that device, a name is /dev/NAME, and anything else (or a name with no
 * device) is a label, like "pinctrl-rp1".  The same order as gpio_v2.c.
 */
static struct gpiod_chip *
chip_lookup(const char *want)
{
	struct gpiod_chip *c;
	long num;
	int saved;

	if (ms_parse_long(want, 0, INT_MAX, &num) == 0)
		return gpiod_chip_open_by_number((unsigned int)num);
	if (want[0] == '/')
		return gpiod_chip_open(want);
	saved = ENOENT;
	if (strchr(want, '/') == NULL) {
		if ((c = gpiod_chip_open_by_name(want)) != NULL)
			return c;
		saved = errno;
	}
	if ((c = gpiod_chip_open_by_label(want)) == NULL && errno == ENOENT)
		errno = saved;	/* say why the name failed, if it did */
	return c;
}

/* Every chip there is, for the message when none matched. */
static void
chips_list(struct ms_buf *chips)
{
	struct gpiod_chip_iter *it;
	struct gpiod_chip *c;

	if ((it = gpiod_chip_iter_new()) == NULL)
		return;
	gpiod_foreach_chip(it, c)
		gpio_chips_add(chips, gpiod_chip_name(c), gpiod_chip_label(c));
	gpiod_chip_iter_free(it);
}

/* A group's request failed: name its line another holder has, if any. */
static void
request_failed(struct gpiod_chip *chip, struct gpiod_line_bulk *bulk,
    const struct gpio_line_cfg *cfg, const size_t *idx, size_t n, int errnum,
    char *err, size_t errlen)
{
	struct gpiod_line *line;
	size_t i;

	for (i = 0; errnum == EBUSY && i < n; i++) {
		line = gpiod_line_bulk_get_line(bulk, (unsigned int)idx[i]);
		if (gpiod_line_update(line) == 0 && gpiod_line_is_used(line)) {
			gpio_err_busy(err, errlen, gpiod_chip_name(chip),
			    &cfg[idx[i]]);
			return;
		}
	}
	if (errnum == EBUSY)
		gpio_err_busy(err, errlen, gpiod_chip_name(chip), &cfg[idx[0]]);
	else
		gpio_err_line(err, errlen, gpiod_chip_name(chip), &cfg[idx[0]],
		    "request", errnum);
}

/*
 * A v1 bulk request takes one set of flags for all its lines, so lines
 * are grouped by flags, one request per group; they share one bulk for
 * waiting and reading.  v1 has no debounce in the kernel.
 */
struct gpio *
gpio_open(const char *chipname, struct gpio_src chip_src,
    const char *consumer, const struct gpio_line_cfg *cfg, size_t n,
    struct gpio_line_status *st, char *err, size_t errlen)
{
	struct gpio *g;
	struct gpiod_line_bulk group;
	struct ms_buf chips = { 0 };
	unsigned int offsets[GPIO_LINES_MAX];
	int done[GPIO_LINES_MAX] = { 0 };
	int vals[GPIO_LINES_MAX];
	size_t idx[GPIO_LINES_MAX];
	size_t i, j, k;

	if (n == 0 || n > GPIO_LINES_MAX) {
		SET_ERR("%s:%lu: %s: %zu lines (1 to %d can be watched)",
		    chip_src.file, chip_src.line, chipname, n, GPIO_LINES_MAX);
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		SET_ERR("%s", strerror(errno));
		return NULL;
	}
	if ((g->chip = chip_lookup(chipname)) == NULL) {
		int e = errno;

		chips_list(&chips);
		gpio_err_nochip(err, errlen, chipname, chip_src, e, &chips);
		free(g);
		return NULL;
	}
	if (gpio_check_offsets(err, errlen, gpiod_chip_name(g->chip),
	    gpiod_chip_num_lines(g->chip), cfg, n) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		offsets[i] = cfg[i].offset;
	if (gpiod_chip_get_lines(g->chip, offsets, (unsigned int)n,
	    &g->bulk) == -1) {
		SET_ERR("%s:%lu: %s: lines: %s", chip_src.file, chip_src.line,
		    gpiod_chip_name(g->chip), strerror(errno));
		goto fail;
	}
	g->n = n;
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		gpiod_line_bulk_init(&group);
		for (j = i, k = 0; j < n; j++) {
			if (done[j] ||
			    request_flags(&cfg[j]) != request_flags(&cfg[i]))
				continue;
			gpiod_line_bulk_add(&group,
			    gpiod_line_bulk_get_line(&g->bulk, (unsigned int)j));
			idx[k++] = j;
			done[j] = 1;
		}
		if (gpiod_line_request_bulk_both_edges_events_flags(&group,
		    consumer, request_flags(&cfg[i])) == -1) {
			/* closing the chip releases the groups before */
			request_failed(g->chip, &g->bulk, cfg, idx, k, errno,
			    err, errlen);
			goto fail;
		}
	}
	if (gpiod_line_get_value_bulk(&g->bulk, vals) == -1) {
		SET_ERR("%s:%lu: %s: values: %s", chip_src.file, chip_src.line,
		    gpiod_chip_name(g->chip), strerror(errno));
		goto fail;
	}
	for (i = 0; i < n; i++) {
		st[i].level = vals[i] != 0;
		st[i].kernel_debounce = 0;
	}
	return g;
fail:
	gpiod_chip_close(g->chip);
	free(g);
	return NULL;
}

size_t
gpio_pollfds(struct gpio *g, int *fds, size_t max)
{
	size_t i, k = 0;
	int fd;

	for (i = 0; i < g->n && k < max; i++) {
		fd = gpiod_line_event_get_fd(
		    gpiod_line_bulk_get_line(&g->bulk, (unsigned int)i));
		if (fd != -1)
			fds[k++] = fd;
	}
	return k;
}

int
gpio_read(struct gpio *g, struct gpio_edge *out, size_t max, char *err,
    size_t errlen)
{
	struct gpiod_line_bulk ready;
	struct gpiod_line_event ev[READ_CHUNK];
	struct gpiod_line *line;
	const struct timespec zero = { 0, 0 };
	size_t k = 0;
	unsigned int i;
	int r, j, want;

	gpiod_line_bulk_init(&ready);
	r = gpiod_line_event_wait_bulk(&g->bulk, &zero, &ready);
	if (r == -1) {
		if (errno == EINTR)
			return 0;
		SET_ERR("wait for events: %s", strerror(errno));
		return -1;
	}
	if (r == 0)
		return 0;
	for (i = 0; i < gpiod_line_bulk_num_lines(&ready) && k < max; i++) {
		line = gpiod_line_bulk_get_line(&ready, i);
		/* drain the line, so no older edge is left behind */
		do {
			want = max - k < READ_CHUNK ? (int)(max - k) : READ_CHUNK;
			r = gpiod_line_event_read_multiple(line, ev,
			    (unsigned int)want);
			if (r == -1) {
				SET_ERR("line %u: read events: %s",
				    gpiod_line_offset(line), strerror(errno));
				return -1;
			}
			for (j = 0; j < r; j++) {
				out[k].offset = gpiod_line_offset(line);
				out[k].level = ev[j].event_type ==
				    GPIOD_LINE_EVENT_RISING_EDGE;
				out[k].ts_ns = (int64_t)ev[j].ts.tv_sec *
				    1000000000 + ev[j].ts.tv_nsec;
				k++;
			}
		} while (r == READ_CHUNK && k < max &&
		    gpiod_line_event_wait(line, &zero) == 1);
	}
	return (int)k;
}

void
gpio_close(struct gpio *g)
{
	if (g == NULL)
		return;
	gpiod_line_release_bulk(&g->bulk);
	gpiod_chip_close(g->chip);
	free(g);
}

const char *
gpio_backend(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "libgpiod %s (v1 API)", gpiod_version_string());
	return buf;
}
