/*
 * gpio_v1.c: the gpio.h interface on libgpiod 1.x (the v1 API that
 * Debian 12 ships).  All of msdetect's libgpiod calls live here.
 *
 * The lines are requested in one bulk for both-edge events with the
 * planogram's bias and active-low flags, so the kernel reports logical
 * levels.  The caller polls the lines' event descriptors together with
 * stdin; gpio_read() then asks libgpiod which lines have events
 * (gpiod_line_event_wait_bulk with a zero timeout) and reads them in
 * bulk, at most 16 per call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpiod.h>

#include "gpio.h"
#include "ms.h"

#ifdef GPIOD_LINE_BULK_MAX_LINES	/* only the v1 header has it */

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
 * A v1 bulk request takes one set of flags for all its lines, so lines
 * are grouped by flags, one request per group; they share one bulk for
 * waiting and reading.
 */
struct gpio *
gpio_open(const char *chipname, const char *consumer,
    const struct gpio_line_cfg *cfg, size_t n, int *levels, char *err,
    size_t errlen)
{
	struct gpio *g;
	struct gpiod_line_bulk group;
	unsigned int offsets[GPIO_LINES_MAX];
	int done[GPIO_LINES_MAX] = { 0 };
	int vals[GPIO_LINES_MAX];
	size_t i, j, k;

	if (n == 0 || n > GPIO_LINES_MAX) {
		SET_ERR("%s: %zu lines (1 to %d can be watched)", chipname, n,
		    GPIO_LINES_MAX);
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		SET_ERR("%s", strerror(errno));
		return NULL;
	}
	if ((g->chip = gpiod_chip_open_lookup(chipname)) == NULL) {
		SET_ERR("%s: %s", chipname, strerror(errno));
		free(g);
		return NULL;
	}
	for (i = 0; i < n; i++)
		offsets[i] = cfg[i].offset;
	if (gpiod_chip_get_lines(g->chip, offsets, (unsigned int)n,
	    &g->bulk) == -1) {
		SET_ERR("%s: lines: %s", chipname, strerror(errno));
		goto fail;
	}
	g->n = n;
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		gpiod_line_bulk_init(&group);
		for (j = i; j < n; j++) {
			if (done[j] ||
			    request_flags(&cfg[j]) != request_flags(&cfg[i]))
				continue;
			gpiod_line_bulk_add(&group,
			    gpiod_line_bulk_get_line(&g->bulk, (unsigned int)j));
			done[j] = 1;
		}
		if (gpiod_line_request_bulk_both_edges_events_flags(&group,
		    consumer, request_flags(&cfg[i])) == -1) {
			SET_ERR("%s: line %u: request: %s", chipname,
			    cfg[i].offset, strerror(errno));
			/* release what was requested before this group */
			for (k = 0; k < i; k++)
				if (done[k]) {
					struct gpiod_line_bulk one;

					gpiod_line_bulk_init(&one);
					gpiod_line_bulk_add(&one,
					    gpiod_line_bulk_get_line(&g->bulk,
					    (unsigned int)k));
					gpiod_line_release_bulk(&one);
				}
			goto fail;
		}
	}
	if (gpiod_line_get_value_bulk(&g->bulk, vals) == -1) {
		SET_ERR("%s: values: %s", chipname, strerror(errno));
		gpiod_line_release_bulk(&g->bulk);
		goto fail;
	}
	for (i = 0; i < n; i++)
		levels[i] = vals[i] != 0;
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

#endif /* GPIOD_LINE_BULK_MAX_LINES */
