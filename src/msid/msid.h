/* msid: who is at the robot.  Shared between main.c, reader.c, lines.c. */
#ifndef MSID_H
#define MSID_H

#include <stddef.h>
#include <stdint.h>

#include <nfc/nfc.h>

#include "ms.h"

/* Card technologies msid polls for (-t). */
#define TECH_A	0x01	/* ISO14443A at 106 kbps */
#define TECH_F	0x02	/* FeliCa at 212 and 424 kbps */
#define TECH_B	0x04	/* ISO14443B at 106 kbps */

/* reader.c: one libnfc device. */
struct reader {
	nfc_context	*ctx;
	nfc_device	*dev;
	const char	*connstring;	/* NULL: libnfc's default device */
	int		 techs;		/* TECH_* wanted */
	nfc_modulation	 mods[4];	/* wanted and supported, in poll order */
	size_t		 nmods;
	int		 warned_b;	/* said once that B is unsupported */
};

enum { READ_ERROR = -1, READ_NONE = 0, READ_CARD = 1 };

int	 reader_init(struct reader *, const char *connstring, int techs);
void	 reader_fini(struct reader *);
/* 0, or -1 with the reason in err. */
int	 reader_open(struct reader *, char *err, size_t errlen);
void	 reader_close(struct reader *);
/* Name of the device for messages. */
const char *reader_label(const struct reader *);
/* READ_CARD (target and plain token filled), READ_NONE or READ_ERROR. */
int	 reader_scan(struct reader *, nfc_target *, char *plain, size_t len,
	    char *err, size_t errlen);
/* READ_CARD while the target answers, READ_NONE once gone, READ_ERROR. */
int	 reader_present(struct reader *, const nfc_target *, char *err,
	    size_t errlen);
/* The plain token "tech:UIDHEX" of a target; -1 for an unknown kind. */
int	 reader_token(const nfc_target *, char *buf, size_t len);

/* lines.c: identities one per line from a tty, fifo or file (-l). */
#define LINE_TOKEN_MAX	128	/* characters of scanned text */

struct linesrc {
	struct ms_reader rd;	/* rd.fd, and rd.source the path; fd -1 closed */
};

int	 linesrc_open(struct linesrc *, const char *path, char *err, size_t);
void	 linesrc_close(struct linesrc *);
/*
 * Next scanned identity as "line:TEXT" in tok: 1, 0 when no whole line is
 * waiting, -1 at the end of a plain file (or a read error, reported).
 * A bad line is reported as "path:line: reason" and *bad set.
 */
int	 linesrc_next(struct linesrc *, char *tok, size_t len, int *bad);

#endif
