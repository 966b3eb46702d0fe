/*
 * gpio.h: the little msdetect needs from a GPIO chip.  One backend per
 * libgpiod API sits behind it (gpio_v1.c for libgpiod 1.x); a v2 backend
 * (gpio_v2.c, libgpiod 2.x) can be added beside it without touching the
 * rest of msdetect.
 */
#ifndef MSDETECT_GPIO_H
#define MSDETECT_GPIO_H

#include <stddef.h>
#include <stdint.h>

enum gpio_bias {
	GPIO_BIAS_AS_IS = 0,
	GPIO_BIAS_DISABLE,
	GPIO_BIAS_PULL_UP,
	GPIO_BIAS_PULL_DOWN
};

struct gpio_line_cfg {
	unsigned int	 offset;
	int		 active_low;
	enum gpio_bias	 bias;
};

/* One edge: the logical level after it and the kernel's timestamp. */
struct gpio_edge {
	unsigned int	 offset;
	int		 level;		/* 1 active, 0 inactive */
	int64_t		 ts_ns;		/* CLOCK_MONOTONIC */
};

#define GPIO_LINES_MAX	64

struct gpio;

/* Request the lines for both-edge events; levels[i] gets line i's value. */
struct gpio	*gpio_open(const char *chip, const char *consumer,
		    const struct gpio_line_cfg *, size_t n, int *levels,
		    char *err, size_t errlen);
/* File descriptors to poll(2) for POLLIN; returns how many (<= max). */
size_t		 gpio_pollfds(struct gpio *, int *fds, size_t max);
/*
 * Read the edges already queued, without blocking; returns how many were
 * stored (0 if none), or -1 with a reason.
 */
int		 gpio_read(struct gpio *, struct gpio_edge *out, size_t max,
		    char *err, size_t errlen);
void		 gpio_close(struct gpio *);
/* "libgpiod 1.6.3 (v1 API)" */
const char	*gpio_backend(void);

#endif
