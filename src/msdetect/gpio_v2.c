/*
 * gpio_v2.c: the gpio.h interface on libgpiod 2.x (the v2 API that
 * Debian 13 ships).  All of msdetect's libgpiod calls live here when it
 * is built against libgpiod 2; gpio_v1.c is the same for 1.x.
 *
 * libgpiod 2 opens a chip by its path only and has no chip iterator, so
 * the chip is found here: a number N is /dev/gpiochipN, a path is that
 * device, a name is /dev/NAME, and anything else (or a name with no such
 * device) is a label, looked for among the devices in /dev, as
 * gpiodetect(1) finds them.
 *
 * All lines go in one request, each with its own settings: input, both
 * edges, the planogram's bias and active-low, the kernel's debounce when
 * the planogram asks for one, and event timestamps on CLOCK_MONOTONIC
 * (asked for, not left to the kernel's default).  A kernel that refuses
 * the debounce, or accepts it and does not report the line debounced,
 * leaves the debounce to msdetect.  The kernel stamps a debounced edge
 * when the level has held for the period; the period is taken off, so
 * the edge carries the time of the line's last change, as an edge that
 * msdetect debounces does.
 */
#define _GNU_SOURCE	/* strverscmp */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpiod.h>

#include "gpio.h"

#define EVENTS_READ	1024	/* edges read from the request at once */

struct gpio {
	struct gpiod_chip	*chip;
	struct gpiod_line_request *req;
	struct gpiod_edge_event_buffer *buf;
	size_t			 n;
	unsigned int		 offsets[GPIO_LINES_MAX];
	int64_t			 kernel_debounce_ns[GPIO_LINES_MAX];
};

static int
path_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* The GPIO chip devices in /dev, gpiochip2 before gpiochip10; NULL if none. */
static char **
chip_devices(size_t *np)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX], **v = NULL, **nv;
	size_t n = 0;

	*np = 0;
	if ((d = opendir("/dev")) == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "gpiochip", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		if (!gpiod_is_gpiochip_device(path))
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL ||
		    (nv[n] = strdup(path)) == NULL) {
			v = nv != NULL ? nv : v;
			break;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), path_cmp);
	*np = n;
	return v;
}

static void
chip_devices_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* The chip whose label is label, or NULL. */
static struct gpiod_chip *
open_by_label(const char *label)
{
	struct gpiod_chip *c = NULL;
	struct gpiod_chip_info *info;
	char **dev;
	size_t i, n;
	int match;

	dev = chip_devices(&n);
	for (i = 0; i < n && c == NULL; i++) {
		if ((c = gpiod_chip_open(dev[i])) == NULL)
			continue;
		if ((info = gpiod_chip_get_info(c)) == NULL)
			match = 0;
		else {
			match = strcmp(gpiod_chip_info_get_label(info),
			    label) == 0;
			gpiod_chip_info_free(info);
		}
		if (!match) {
			gpiod_chip_close(c);
			c = NULL;
		}
	}
	chip_devices_free(dev, n);
	return c;
}

/* The same order as gpio_v1.c: a number, a path, a name, a label. */
static struct gpiod_chip *
chip_lookup(const char *want)
{
	struct gpiod_chip *c;
	char path[PATH_MAX];
	long num;
	int saved = ENOENT;

	if (ms_parse_long(want, 0, INT_MAX, &num) == 0) {
		snprintf(path, sizeof(path), "/dev/gpiochip%ld", num);
		return gpiod_chip_open(path);
	}
	if (want[0] == '/')
		return gpiod_chip_open(want);
	if (strchr(want, '/') == NULL &&
	    strlen(want) < sizeof(path) - sizeof("/dev/")) {
		snprintf(path, sizeof(path), "/dev/%s", want);
		if ((c = gpiod_chip_open(path)) != NULL)
			return c;
		saved = errno;
	}
	if ((c = open_by_label(want)) == NULL)
		errno = saved;	/* say why the name failed, if it did */
	return c;
}

/* Every chip there is, for the message when none matched. */
static void
chips_list(struct ms_buf *chips)
{
	struct gpiod_chip *c;
	struct gpiod_chip_info *info;
	char **dev;
	size_t i, n;

	dev = chip_devices(&n);
	for (i = 0; i < n; i++) {
		if ((c = gpiod_chip_open(dev[i])) == NULL)
			continue;
		if ((info = gpiod_chip_get_info(c)) != NULL) {
			gpio_chips_add(chips, gpiod_chip_info_get_name(info),
			    gpiod_chip_info_get_label(info));
			gpiod_chip_info_free(info);
		}
		gpiod_chip_close(c);
	}
	chip_devices_free(dev, n);
}

static enum gpiod_line_bias
v2_bias(enum gpio_bias b)
{
	switch (b) {
	case GPIO_BIAS_DISABLE:
		return GPIOD_LINE_BIAS_DISABLED;
	case GPIO_BIAS_PULL_UP:
		return GPIOD_LINE_BIAS_PULL_UP;
	case GPIO_BIAS_PULL_DOWN:
		return GPIOD_LINE_BIAS_PULL_DOWN;
	case GPIO_BIAS_AS_IS:
		break;
	}
	return GPIOD_LINE_BIAS_AS_IS;
}

/*
 * One request for all the lines, with or without the debounce periods
 * the planogram asks for; NULL with errno.
 */
static struct gpiod_line_request *
request(struct gpiod_chip *chip, const char *consumer,
    const struct gpio_line_cfg *cfg, size_t n, int with_debounce)
{
	struct gpiod_line_settings *ls = NULL;
	struct gpiod_line_config *lc;
	struct gpiod_request_config *rc;
	struct gpiod_line_request *req = NULL;
	size_t i;
	int e;

	lc = gpiod_line_config_new();
	rc = gpiod_request_config_new();
	if (lc == NULL || rc == NULL)
		goto done;
	gpiod_request_config_set_consumer(rc, consumer);
	gpiod_request_config_set_event_buffer_size(rc, EVENTS_READ);
	for (i = 0; i < n; i++) {
		if ((ls = gpiod_line_settings_new()) == NULL)
			goto done;
		if (gpiod_line_settings_set_direction(ls,
		    GPIOD_LINE_DIRECTION_INPUT) == -1 ||
		    gpiod_line_settings_set_edge_detection(ls,
		    GPIOD_LINE_EDGE_BOTH) == -1 ||
		    gpiod_line_settings_set_bias(ls, v2_bias(cfg[i].bias)) == -1 ||
		    gpiod_line_settings_set_event_clock(ls,
		    GPIOD_LINE_CLOCK_MONOTONIC) == -1)
			goto done;
		gpiod_line_settings_set_active_low(ls, cfg[i].active_low != 0);
		if (with_debounce)
			gpiod_line_settings_set_debounce_period_us(ls,
			    cfg[i].debounce_us);
		if (gpiod_line_config_add_line_settings(lc, &cfg[i].offset, 1,
		    ls) == -1)
			goto done;
		gpiod_line_settings_free(ls);
		ls = NULL;
	}
	req = gpiod_chip_request_lines(chip, rc, lc);
done:
	e = errno;
	if (ls != NULL)
		gpiod_line_settings_free(ls);
	if (lc != NULL)
		gpiod_line_config_free(lc);
	if (rc != NULL)
		gpiod_request_config_free(rc);
	errno = e;
	return req;
}

/* The request failed: name the line another holder has, if any. */
static void
request_failed(struct gpiod_chip *chip, const char *chipname,
    struct gpio_src chip_src, const struct gpio_line_cfg *cfg, size_t n,
    int errnum, char *err, size_t errlen)
{
	struct gpiod_line_info *info;
	size_t i;
	int used;

	for (i = 0; errnum == EBUSY && i < n; i++) {
		if ((info = gpiod_chip_get_line_info(chip, cfg[i].offset)) == NULL)
			continue;
		used = gpiod_line_info_is_used(info);
		gpiod_line_info_free(info);
		if (used) {
			gpio_err_busy(err, errlen, chipname, &cfg[i]);
			return;
		}
	}
	SET_ERR("%s:%lu: %s: requesting the lines: %s", chip_src.file,
	    chip_src.line, chipname, strerror(errnum));
}

/* The debounce period the kernel reports for a line, in ns; 0 if none. */
static int64_t
kernel_debounce(struct gpiod_chip *chip, unsigned int offset)
{
	struct gpiod_line_info *info;
	int64_t ns = 0;

	if ((info = gpiod_chip_get_line_info(chip, offset)) == NULL)
		return 0;
	if (gpiod_line_info_is_debounced(info))
		ns = (int64_t)gpiod_line_info_get_debounce_period_us(info) * 1000;
	gpiod_line_info_free(info);
	return ns;
}

struct gpio *
gpio_open(const char *chipname, struct gpio_src chip_src,
    const char *consumer, const struct gpio_line_cfg *cfg, size_t n,
    struct gpio_line_status *st, char *err, size_t errlen)
{
	struct gpio *g;
	struct gpiod_chip_info *info;
	struct ms_buf chips = { 0 };
	enum gpiod_line_value vals[GPIO_LINES_MAX];
	char name[64];
	size_t i;
	int debounce = 0, e;

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
		e = errno;
		chips_list(&chips);
		gpio_err_nochip(err, errlen, chipname, chip_src, e, &chips);
		free(g);
		return NULL;
	}
	if ((info = gpiod_chip_get_info(g->chip)) == NULL) {
		SET_ERR("%s:%lu: %s: %s", chip_src.file, chip_src.line,
		    chipname, strerror(errno));
		goto fail;
	}
	snprintf(name, sizeof(name), "%s", gpiod_chip_info_get_name(info));
	e = gpio_check_offsets(err, errlen, name,
	    (unsigned int)gpiod_chip_info_get_num_lines(info), cfg, n);
	gpiod_chip_info_free(info);
	if (e == -1)
		goto fail;

	for (i = 0; i < n; i++)
		debounce |= cfg[i].debounce_us > 0;
	g->req = request(g->chip, consumer, cfg, n, debounce);
	/* a kernel that will not debounce refuses the request: do without */
	if (g->req == NULL && errno == EINVAL && debounce)
		g->req = request(g->chip, consumer, cfg, n, debounce = 0);
	if (g->req == NULL) {
		request_failed(g->chip, name, chip_src, cfg, n, errno, err,
		    errlen);
		goto fail;
	}
	g->n = n;
	for (i = 0; i < n; i++) {
		g->offsets[i] = cfg[i].offset;
		if (debounce && cfg[i].debounce_us > 0)
			g->kernel_debounce_ns[i] = kernel_debounce(g->chip,
			    cfg[i].offset);
		st[i].kernel_debounce = g->kernel_debounce_ns[i] > 0;
	}
	if (gpiod_line_request_get_values_subset(g->req, n, g->offsets,
	    vals) == -1) {
		SET_ERR("%s:%lu: %s: values: %s", chip_src.file, chip_src.line,
		    name, strerror(errno));
		goto fail;
	}
	for (i = 0; i < n; i++)
		st[i].level = vals[i] == GPIOD_LINE_VALUE_ACTIVE;
	if ((g->buf = gpiod_edge_event_buffer_new(EVENTS_READ)) == NULL) {
		SET_ERR("%s", strerror(errno));
		goto fail;
	}
	return g;
fail:
	gpio_close(g);
	return NULL;
}

size_t
gpio_pollfds(struct gpio *g, int *fds, size_t max)
{
	if (max == 0)
		return 0;
	fds[0] = gpiod_line_request_get_fd(g->req);
	return fds[0] == -1 ? 0 : 1;
}

/* What the kernel's stamp of an edge on offset needs taken off. */
static int64_t
stamp_offset(const struct gpio *g, unsigned int offset)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->offsets[i] == offset)
			return g->kernel_debounce_ns[i];
	return 0;
}

int
gpio_read(struct gpio *g, struct gpio_edge *out, size_t max, char *err,
    size_t errlen)
{
	struct gpiod_edge_event *ev;
	size_t k = 0, want;
	int r, j;

	while (k < max) {
		/* read(2) on the request would block: look first */
		r = gpiod_line_request_wait_edge_events(g->req, 0);
		if (r == -1 && errno == EINTR)
			break;
		if (r == -1) {
			SET_ERR("wait for events: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		want = max - k < EVENTS_READ ? max - k : EVENTS_READ;
		r = gpiod_line_request_read_edge_events(g->req, g->buf, want);
		if (r == -1) {
			SET_ERR("read events: %s", strerror(errno));
			return -1;
		}
		for (j = 0; j < r; j++, k++) {
			ev = gpiod_edge_event_buffer_get_event(g->buf,
			    (unsigned long)j);
			out[k].offset = gpiod_edge_event_get_line_offset(ev);
			out[k].level = gpiod_edge_event_get_event_type(ev) ==
			    GPIOD_EDGE_EVENT_RISING_EDGE;
			out[k].ts_ns =
			    (int64_t)gpiod_edge_event_get_timestamp_ns(ev) -
			    stamp_offset(g, out[k].offset);
		}
		if ((size_t)r < want)
			break;
	}
	return (int)k;
}

void
gpio_close(struct gpio *g)
{
	if (g == NULL)
		return;
	if (g->buf != NULL)
		gpiod_edge_event_buffer_free(g->buf);
	if (g->req != NULL)
		gpiod_line_request_release(g->req);
	if (g->chip != NULL)
		gpiod_chip_close(g->chip);
	free(g);
}

const char *
gpio_backend(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "libgpiod %s (v2 API)", gpiod_api_version());
	return buf;
}
