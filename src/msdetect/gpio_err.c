/*
 * gpio_err.c: the messages both GPIO backends (gpio_v1.c, gpio_v2.c)
 * give, so that a planogram's mistake reads the same whichever libgpiod
 * msdetect was built with.  Each names the planogram line that asked for
 * what failed, the chip and the offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"

void
gpio_chips_add(struct ms_buf *chips, const char *name, const char *label)
{
	if (chips->len > 0)
		ms_buf_add(chips, ", ", 2);
	ms_buf_add(chips, name, strlen(name));
	if (label != NULL && *label != '\0') {
		ms_buf_add(chips, " [", 2);
		ms_buf_add(chips, label, strlen(label));
		ms_buf_add(chips, "]", 1);
	}
}

/*
 * No chip answers to the planogram's name: say which chips there are
 * (errnum 0 or ENOENT), or why the one named could not be opened.
 */
void
gpio_err_nochip(char *err, size_t errlen, const char *chip,
    struct gpio_src src, int errnum, struct ms_buf *chips)
{
	if (errnum != 0 && errnum != ENOENT)
		SET_ERR("%s:%lu: %s: %s", src.file, src.line, chip,
		    strerror(errnum));
	else if (chips->len == 0 || chips->failed)
		SET_ERR("%s:%lu: %s: no such GPIO chip (%s)", src.file,
		    src.line, chip, chips->failed ? "out of memory listing "
		    "the chips" : "there are no GPIO chips here");
	else
		SET_ERR("%s:%lu: %s: no such GPIO chip (there are %s)",
		    src.file, src.line, chip, chips->p);
	free(chips->p);
	memset(chips, 0, sizeof(*chips));
}

int
gpio_check_offsets(char *err, size_t errlen, const char *chipname,
    unsigned int nlines, const struct gpio_line_cfg *cfg, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cfg[i].offset >= nlines) {
			if (nlines == 0)
				SET_ERR("%s:%lu: %s line %u: the chip has no "
				    "lines", cfg[i].src.file, cfg[i].src.line,
				    chipname, cfg[i].offset);
			else
				SET_ERR("%s:%lu: %s line %u: the chip has %u "
				    "lines (0-%u)", cfg[i].src.file,
				    cfg[i].src.line, chipname, cfg[i].offset,
				    nlines, nlines - 1);
			return -1;
		}
	return 0;
}

void
gpio_err_busy(char *err, size_t errlen, const char *chipname,
    const struct gpio_line_cfg *c)
{
	SET_ERR("%s:%lu: %s line %u is busy (held by another driver or "
	    "process)", c->src.file, c->src.line, chipname, c->offset);
}

/* Any other failure with one line: "what" failed with errnum. */
void
gpio_err_line(char *err, size_t errlen, const char *chipname,
    const struct gpio_line_cfg *c, const char *what, int errnum)
{
	SET_ERR("%s:%lu: %s line %u: %s: %s", c->src.file, c->src.line,
	    chipname, c->offset, what, strerror(errnum));
}
