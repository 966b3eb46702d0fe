/*
 * gpio.h: the little msdetect needs from a GPIO chip.  One backend per
 * libgpiod API sits behind it: gpio_v1.c for libgpiod 1.x (Debian 12),
 * gpio_v2.c for libgpiod 2.x (Debian 13).  The Makefile compiles the one
 * that matches the libgpiod it builds against, so each backend is written
 * against its own API only; gpio_err.c holds the messages both give.
 *
 * Both backends find a chip the same way (a path, a number N for
 * /dev/gpiochipN, a name in /dev, else a label), request the lines for
 * edge events on both edges, and hand back edges stamped on
 * CLOCK_MONOTONIC.  An error names where the planogram asked for what
 * failed: "plan:7: gpiochip0 line 70: the chip has 54 lines (0-53)".
 */
#ifndef MSDETECT_GPIO_H
#define MSDETECT_GPIO_H

#include <stddef.h>
#include <stdint.h>

#include "ms.h"

enum gpio_bias {
	GPIO_BIAS_AS_IS = 0,
	GPIO_BIAS_DISABLE,
	GPIO_BIAS_PULL_UP,
	GPIO_BIAS_PULL_DOWN
};

/* Where a file asked for something, for messages: "file:line: ". */
struct gpio_src {
	const char	*file;
	unsigned long	 line;
};

struct gpio_line_cfg {
	unsigned int	 offset;
	int		 active_low;
	enum gpio_bias	 bias;
	uint32_t	 debounce_us;	/* wanted from the kernel; 0 for none */
	struct gpio_src	 src;		/* the planogram line that says so */
};

/* What gpio_open() found for each line. */
struct gpio_line_status {
	int		 level;		/* 1 active, 0 inactive */
	int		 kernel_debounce; /* the kernel debounces the line */
};

/* One edge: the logical level after it and the kernel's timestamp. */
struct gpio_edge {
	unsigned int	 offset;
	int		 level;		/* 1 active, 0 inactive */
	int64_t		 ts_ns;		/* CLOCK_MONOTONIC */
};

#define GPIO_LINES_MAX	64

struct gpio;

/*
 * Find the chip (chip_src says where it was named) and request the n
 * lines for both-edge events, with each line's bias, active-low setting
 * and, where the kernel offers it, its debounce.  st[i] gets line i's
 * level and whether the kernel took its debounce (never with v1: the
 * caller then debounces the line itself).  NULL with a whole message in
 * err ("plan:2: gpiochip9: no such GPIO chip (...)").
 */
struct gpio	*gpio_open(const char *chip, struct gpio_src chip_src,
		    const char *consumer, const struct gpio_line_cfg *, size_t n,
		    struct gpio_line_status *st, char *err, size_t errlen);
/* File descriptors to poll(2) for POLLIN; returns how many (<= max). */
size_t		 gpio_pollfds(struct gpio *, int *fds, size_t max);
/*
 * Read the edges already queued, without blocking; returns how many were
 * stored (0 if none), or -1 with a reason.  An edge the kernel debounced
 * is stamped, like any other, with the time of the line's last change.
 */
int		 gpio_read(struct gpio *, struct gpio_edge *out, size_t max,
		    char *err, size_t errlen);
void		 gpio_close(struct gpio *);
/* "libgpiod 1.6.3 (v1 API)", "libgpiod 2.2.1 (v2 API)" */
const char	*gpio_backend(void);

/*
 * gpio_err.c: the messages both backends give, into err.  The list of
 * chips for gpio_err_nochip() is built with gpio_chips_add() as the
 * backend walks the chips ("gpiochip0 [pinctrl-bcm2711], ..."); it frees
 * the list.
 */
void	gpio_chips_add(struct ms_buf *, const char *name, const char *label);
void	gpio_err_nochip(char *err, size_t errlen, const char *chip,
	    struct gpio_src, int errnum, struct ms_buf *chips);
/* -1 with a message if an offset is beyond the chip's nlines lines. */
int	gpio_check_offsets(char *err, size_t errlen, const char *chipname,
	    unsigned int nlines, const struct gpio_line_cfg *, size_t n);
void	gpio_err_busy(char *err, size_t errlen, const char *chipname,
	    const struct gpio_line_cfg *);
void	gpio_err_line(char *err, size_t errlen, const char *chipname,
	    const struct gpio_line_cfg *, const char *what, int errnum);

#endif
