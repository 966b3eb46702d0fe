/* msdetect.h: what msdetect's own files share. */
#ifndef MSDETECT_H
#define MSDETECT_H

#include <stdint.h>

#include "gpio.h"
#include "ms.h"

#define DEBOUNCE_DEFAULT_MS	20
#define DEBOUNCE_MAX_MS		10000
#define CHIP_NAME_MAX		256

enum sensor_kind {
	SENSOR_PRESENCE,	/* active while an item sits in the slot */
	SENSOR_PULSE,		/* one active pulse per item taken */
	SENSOR_DOOR		/* active while the door is open */
};

struct pg_line {
	unsigned int	 offset;
	enum sensor_kind kind;
	char		 slot[MS_ID_MAX + 1];	/* "" for the door */
	char		 sku[MS_ID_MAX + 1];
	int		 active_low;
	enum gpio_bias	 bias;
	int64_t		 debounce_ns;
	unsigned long	 lineno;		/* where the file said so */
};

struct planogram {
	const char	*source;		/* the path it was loaded from */
	char		 chip[CHIP_NAME_MAX];
	unsigned long	 chip_lineno;
	struct pg_line	 lines[GPIO_LINES_MAX];
	size_t		 n;
};

/*
 * planogram.c: 0, or -1 after "msdetect: FILE:LINE: reason" messages.
 * The planogram keeps path (for later messages): it must outlive it.
 */
int	planogram_load(const char *path, struct planogram *);
/* Index of the line with that offset, or -1. */
int	planogram_find(const struct planogram *, unsigned int offset);
const char *sensor_kind_name(enum sensor_kind);

/*
 * replay.c: one line of an edge script, shared by -r and the fake
 * libgpiod's script format (see msdetect(1)):
 *	TIME OFFSET rising|falling	an edge TIME seconds in
 *	level OFFSET high|low		a starting level, before any edge
 * Blank lines and lines starting with '#' are REPLAY_NONE.
 */
enum replay_kind { REPLAY_NONE, REPLAY_EDGE, REPLAY_LEVEL };
struct replay_rec {
	enum replay_kind kind;
	int64_t		 t_ns;		/* REPLAY_EDGE */
	unsigned int	 offset;
	int		 high;		/* physical level after it */
};
int	replay_parse(char *line, struct replay_rec *, char *err, size_t errlen);

#endif
