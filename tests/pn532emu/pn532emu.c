/*
 * pn532emu.c: the PN532 chip and the cards in its field.
 *
 * Frames (PN532 user manual, section 6.2): the host sends
 *	00 00 FF LEN LCS D4 CMD data... DCS 00
 * with LEN counting TFI..data and LCS, DCS two's-complement checksums.
 * The chip acknowledges with 00 00 FF 00 FF 00 and then answers
 *	00 00 FF LEN LCS D5 CMD+1 data... DCS 00
 * A host ACK frame while a command is outstanding aborts it; a host NACK
 * asks for the last answer again.  Anything before a start code (the
 * 55 55 00 00... wake-up preamble, line noise) is skipped.
 *
 * Only what libnfc 1.8 sends to open, initialise and poll a PN532 as an
 * initiator is answered; any other command gets the chip's syntax error
 * frame and a note on stderr.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pn532emu.h"

#define SET_ERR(...) do { if (err) snprintf(err, errlen, __VA_ARGS__); } while (0)

#define FRAME_MAX	300	/* normal frames carry at most 255 bytes */

/* PN532 command codes (user manual, table 7.1). */
enum {
	CMD_DIAGNOSE = 0x00,
	CMD_GET_FIRMWARE_VERSION = 0x02,
	CMD_READ_REGISTER = 0x06,
	CMD_WRITE_REGISTER = 0x08,
	CMD_SET_PARAMETERS = 0x12,
	CMD_SAM_CONFIGURATION = 0x14,
	CMD_POWER_DOWN = 0x16,
	CMD_RF_CONFIGURATION = 0x32,
	CMD_IN_DATA_EXCHANGE = 0x40,
	CMD_IN_COMMUNICATE_THRU = 0x42,
	CMD_IN_DESELECT = 0x44,
	CMD_IN_LIST_PASSIVE_TARGET = 0x4A,
	CMD_IN_RELEASE = 0x52,
	CMD_IN_SELECT = 0x54,
	CMD_IN_AUTO_POLL = 0x60
};

/* Status bytes: 0x00 success, 0x01 the target did not answer. */
enum { ST_OK = 0x00, ST_TIMEOUT = 0x01 };

enum card_kind {
	CARD_CLASSIC,		/* MIFARE Classic: SAK 08 */
	CARD_ULTRALIGHT,	/* MIFARE Ultralight: ATQA 00 44, SAK 00 */
	CARD_ISO4A,		/* ISO14443-4 type A (DESFire): SAK 20, ATS */
	CARD_FELICA,
	CARD_ISO14443B
};

struct card {
	int		 present;
	enum card_kind	 kind;
	uint8_t		 uid[10];
	size_t		 uidlen;
	int		 felica_212, felica_424;
	int		 announced;	/* "select" note printed */
	int		 selected;	/* activated by the host since it entered */
};

struct pn532emu {
	char		*link;
	char		 pty[128];
	int		 master, slave;
	pn532emu_note_fn *note;
	void		*note_arg;
	int		 trace;
	int		 muted;
	int		 corrupt;	/* answers still to corrupt */
	long		 wait_left;	/* commands until the "waited" note */

	uint8_t		 in[4096];
	size_t		 inlen;
	uint8_t		 last[FRAME_MAX + 16];	/* last answer, for a NACK */
	size_t		 lastlen;

	/* chip state */
	uint8_t		 regs[65536];
	uint8_t		 params;		/* SetParameters flags */
	uint8_t		 mxrty_passive;		/* RFConfiguration item 5 */
	int		 field_on;

	/* a command answered later: InListPassiveTarget waiting for a
	 * card, or InAutoPoll waiting for its polling period to end */
	uint8_t		 pending[FRAME_MAX];
	size_t		 pendinglen;
	int64_t		 pending_deadline;	/* -1: until a card comes */

	struct card	 card;
};

int64_t
pn532emu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
notef(struct pn532emu *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
notef(struct pn532emu *e, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (e->note != NULL)
		e->note(e->note_arg, line);
}

static void
trace_bytes(const struct pn532emu *e, const char *dir, const uint8_t *b,
    size_t n)
{
	if (!e->trace)
		return;
	fprintf(stderr, "pn532emu: %s", dir);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02X", b[i]);
	fputc('\n', stderr);
}

static const char *
card_tech(const struct card *c)
{
	switch (c->kind) {
	case CARD_FELICA:
		return "felica";
	case CARD_ISO14443B:
		return "iso14443b";
	default:
		return "iso14443a";
	}
}

static void
card_token(const struct card *c, char *buf, size_t len)
{
	size_t n;

	n = (size_t)snprintf(buf, len, "%s:", card_tech(c));
	for (size_t i = 0; i < c->uidlen && n + 3 <= len; i++, n += 2)
		snprintf(buf + n, 3, "%02X", c->uid[i]);
}

/* ---- pty ---------------------------------------------------------- */

static int
pty_open(struct pn532emu *e, char *err, size_t errlen)
{
	struct termios t;
	const char *name;
	char tmp[4096];

	if ((e->master = posix_openpt(O_RDWR | O_NOCTTY)) == -1 ||
	    grantpt(e->master) == -1 || unlockpt(e->master) == -1 ||
	    (name = ptsname(e->master)) == NULL) {
		SET_ERR("posix_openpt: %s", strerror(errno));
		goto fail;
	}
	snprintf(e->pty, sizeof(e->pty), "%s", name);
	/*
	 * Keep the slave open ourselves: with no slave open, reads on the
	 * master fail with EIO between libnfc's sessions.  Raw mode before
	 * libnfc opens it, so no byte is ever cooked or echoed.
	 */
	if ((e->slave = open(e->pty, O_RDWR | O_NOCTTY)) == -1 ||
	    tcgetattr(e->slave, &t) == -1) {
		SET_ERR("%s: %s", e->pty, strerror(errno));
		goto fail;
	}
	cfmakeraw(&t);
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	if (tcsetattr(e->slave, TCSANOW, &t) == -1) {
		SET_ERR("%s: tcsetattr: %s", e->pty, strerror(errno));
		goto fail;
	}
	fcntl(e->master, F_SETFL, fcntl(e->master, F_GETFL) | O_NONBLOCK);
	fcntl(e->master, F_SETFD, FD_CLOEXEC);
	fcntl(e->slave, F_SETFD, FD_CLOEXEC);
	/* replace the link atomically */
	snprintf(tmp, sizeof(tmp), "%s.new", e->link);
	unlink(tmp);
	if (symlink(e->pty, tmp) == -1 || rename(tmp, e->link) == -1) {
		SET_ERR("%s: %s", e->link, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	e->inlen = 0;
	e->pendinglen = 0;
	return 0;
fail:
	if (e->master != -1)
		close(e->master);
	if (e->slave != -1)
		close(e->slave);
	e->master = e->slave = -1;
	e->pty[0] = '\0';
	return -1;
}

static void
pty_close(struct pn532emu *e)
{
	if (e->master != -1)
		close(e->master);
	if (e->slave != -1)
		close(e->slave);
	e->master = e->slave = -1;
	e->pty[0] = '\0';
	unlink(e->link);
	e->inlen = 0;
	e->pendinglen = 0;
}

struct pn532emu *
pn532emu_new(const char *link, pn532emu_note_fn *note, void *arg, char *err,
    size_t errlen)
{
	struct pn532emu *e;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->link = strdup(link)) == NULL) {
		SET_ERR("out of memory");
		free(e);
		return NULL;
	}
	e->master = e->slave = -1;
	e->note = note;
	e->note_arg = arg;
	e->mxrty_passive = 0xFF;
	if (pty_open(e, err, errlen) == -1) {
		free(e->link);
		free(e);
		return NULL;
	}
	return e;
}

void
pn532emu_free(struct pn532emu *e)
{
	if (e == NULL)
		return;
	pty_close(e);
	free(e->link);
	free(e);
}

int
pn532emu_fd(const struct pn532emu *e)
{
	return e->master;
}

const char *
pn532emu_pty(const struct pn532emu *e)
{
	return e->pty;
}

void
pn532emu_set_trace(struct pn532emu *e, int on)
{
	e->trace = on;
}

int
pn532emu_timeout(const struct pn532emu *e)
{
	int64_t left;

	if (e->pendinglen == 0 || e->pending_deadline < 0)
		return -1;
	left = e->pending_deadline - pn532emu_now_ms();
	return left < 0 ? 0 : (int)left;
}

/* ---- frames out ----------------------------------------------------- */

static void
send_bytes(struct pn532emu *e, const uint8_t *b, size_t n)
{
	size_t off = 0;
	ssize_t w;

	if (e->master == -1)
		return;
	trace_bytes(e, ">", b, n);
	while (off < n) {
		w = write(e->master, b + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN) {
			/* a full pty buffer: the host is not reading; wait */
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void
send_ack(struct pn532emu *e)
{
	static const uint8_t ack[] = { 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00 };

	send_bytes(e, ack, sizeof(ack));
}

/* The answer to command `cmd' carrying `data'. */
static void
send_answer(struct pn532emu *e, uint8_t cmd, const uint8_t *data, size_t n)
{
	uint8_t *f = e->last;
	uint8_t sum;
	size_t len = n + 2, i = 0;

	if (len > 255)
		return;
	f[i++] = 0x00;
	f[i++] = 0x00;
	f[i++] = 0xFF;
	f[i++] = (uint8_t)len;
	f[i++] = (uint8_t)(0x100 - len);
	f[i++] = 0xD5;
	f[i++] = (uint8_t)(cmd + 1);
	sum = 0xD5 + (uint8_t)(cmd + 1);
	for (size_t k = 0; k < n; k++) {
		f[i++] = data[k];
		sum += data[k];
	}
	f[i++] = (uint8_t)(0x100 - sum);
	f[i++] = 0x00;
	if (e->corrupt > 0) {
		/* a flipped bit in the data checksum: line noise */
		e->corrupt--;
		f[i - 2] ^= 0x5A;
		notef(e, "corrupted %02X %lld", cmd, (long long)pn532emu_now_ms());
	}
	e->lastlen = i;
	send_bytes(e, f, i);
	if (e->wait_left > 0 && --e->wait_left == 0)
		notef(e, "waited %lld", (long long)pn532emu_now_ms());
}

static void
send_syntax_error(struct pn532emu *e)
{
	static const uint8_t ef[] = { 0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00 };

	send_bytes(e, ef, sizeof(ef));
}

/* ---- the cards ------------------------------------------------------ */

static int
card_is_typea(const struct card *c)
{
	return c->kind == CARD_CLASSIC || c->kind == CARD_ULTRALIGHT ||
	    c->kind == CARD_ISO4A;
}

/* Target data as InListPassiveTarget gives it, Tg byte first. */
static size_t
card_target_data(const struct pn532emu *e, const struct card *c, int felica_rc,
    uint8_t *out)
{
	static const uint8_t pmm[8] = { 0x01, 0x20, 0x22, 0x04, 0x27, 0x67, 0x4D, 0x00 };
	static const uint8_t ats[] = { 0x06, 0x75, 0x77, 0x81, 0x02, 0x80 };
	uint8_t sizebits = c->uidlen == 4 ? 0x00 : c->uidlen == 7 ? 0x40 : 0x80;
	size_t n = 0;

	out[n++] = 0x01;	/* Tg */
	switch (c->kind) {
	case CARD_CLASSIC:
	case CARD_ULTRALIGHT:
	case CARD_ISO4A:
		out[n++] = c->kind == CARD_ISO4A ? 0x03 : 0x00;	/* ATQA */
		out[n++] = (c->kind == CARD_CLASSIC ? 0x04 :
		    c->kind == CARD_ULTRALIGHT ? 0x04 : 0x04) | sizebits;
		out[n++] = c->kind == CARD_CLASSIC ? 0x08 :
		    c->kind == CARD_ULTRALIGHT ? 0x00 : 0x20;	/* SAK */
		out[n++] = (uint8_t)c->uidlen;
		memcpy(out + n, c->uid, c->uidlen);
		n += c->uidlen;
		/* the chip sends RATS itself when PARAM_AUTO_RATS (0x10) is set */
		if (c->kind == CARD_ISO4A && (e->params & 0x10)) {
			memcpy(out + n, ats, sizeof(ats));
			n += sizeof(ats);
		}
		break;
	case CARD_FELICA:
		out[n++] = felica_rc == 0x01 ? 0x14 : 0x12;	/* POL_RES length */
		out[n++] = 0x01;				/* response code */
		memcpy(out + n, c->uid, 8);
		n += 8;
		memcpy(out + n, pmm, 8);
		n += 8;
		if (felica_rc == 0x01) {	/* system code requested */
			out[n++] = 0x00;
			out[n++] = 0x03;
		}
		break;
	case CARD_ISO14443B:
		out[n++] = 0x50;		/* ATQB */
		memcpy(out + n, c->uid, 4);	/* PUPI */
		n += 4;
		memset(out + n, 0, 4);		/* application data */
		n += 4;
		out[n++] = 0x00;		/* protocol info */
		out[n++] = 0x71;
		out[n++] = 0x85;
		out[n++] = 0x01;		/* ATTRIB_RES length */
		out[n++] = 0x00;
		break;
	}
	return n;
}

/* Does the card answer a request for baud rate / type `brty'? */
static int
card_matches(const struct card *c, uint8_t brty, const uint8_t *init,
    size_t initlen)
{
	if (!c->present)
		return 0;
	switch (brty) {
	case 0x00:	/* 106 kbps type A, optionally a UID to select */
		if (!card_is_typea(c))
			return 0;
		if (initlen == 0)
			return 1;
		{
			uint8_t uid[12];
			size_t n = 0;

			/* drop cascade tags (0x88) the host may include */
			for (size_t i = 0; i < initlen && n < sizeof(uid); i++) {
				if (init[i] == 0x88 && (i == 0 || i == 4) &&
				    initlen > 4 + (i == 4 ? 4 : 0))
					continue;
				uid[n++] = init[i];
			}
			return n == c->uidlen && memcmp(uid, c->uid, n) == 0;
		}
	case 0x01:
		return c->kind == CARD_FELICA && c->felica_212;
	case 0x02:
		return c->kind == CARD_FELICA && c->felica_424;
	case 0x03:
		return c->kind == CARD_ISO14443B;
	default:
		return 0;
	}
}

static void
announce(struct pn532emu *e)
{
	char tok[64];

	e->card.selected = 1;
	if (e->card.announced)
		return;
	e->card.announced = 1;
	card_token(&e->card, tok, sizeof(tok));
	notef(e, "select %s %lld", tok, (long long)pn532emu_now_ms());
}

/*
 * A frame the host sends to the card (InDataExchange, InCommunicateThru);
 * `raw' is set for InCommunicateThru, where the host speaks the card's
 * own framing.  The card's answer goes to out after the status byte.
 */
static size_t
card_exchange(struct pn532emu *e, int raw, const uint8_t *d, size_t n,
    uint8_t *out)
{
	struct card *c = &e->card;
	size_t k = 0;

	/* only the card the host activated answers; a new one must be
	 * selected first */
	if (!c->present || !c->selected || n == 0) {
		out[k++] = ST_TIMEOUT;
		return k;
	}
	out[k++] = ST_OK;
	switch (c->kind) {
	case CARD_ISO4A:
	case CARD_ISO14443B:
		if (raw && (d[0] & 0xE6) == 0xA2) {
			/* R(NAK) or R(ACK): answer R(ACK), same block number */
			out[k++] = (uint8_t)(0xA2 | (d[0] & 0x01));
		} else if (raw && (d[0] & 0xE2) == 0x02) {
			/* I-block: echo its PCB, "function not supported" */
			out[k++] = d[0];
			out[k++] = 0x6A;
			out[k++] = 0x81;
		} else if (!raw) {
			out[k++] = 0x6A;	/* an APDU we do not know */
			out[k++] = 0x81;
		} else {
			out[0] = ST_TIMEOUT;
		}
		break;
	case CARD_ULTRALIGHT:
	case CARD_CLASSIC:
		if (d[0] == 0x30 && n >= 2) {	/* READ: 16 bytes */
			for (int i = 0; i < 16; i++)
				out[k++] = c->uid[(d[1] * 4 + i) % c->uidlen];
		} else if ((d[0] == 0x60 || d[0] == 0x61) &&
		    c->kind == CARD_CLASSIC) {
			;	/* authentication accepted */
		} else {
			out[0] = ST_TIMEOUT;
		}
		break;
	case CARD_FELICA:
		/* d[0] is the length byte, d[1] the command */
		if (n >= 2 && d[1] == 0x04) {		/* Request Response */
			out[k++] = 0x0B;
			out[k++] = 0x05;
			memcpy(out + k, c->uid, 8);
			k += 8;
			out[k++] = 0x00;		/* mode */
		} else if (n >= 2 && d[1] == 0x00) {	/* Polling */
			uint8_t td[64];
			size_t m = card_target_data(e, c, n >= 5 ? d[4] : 0, td);

			memcpy(out + k, td + 1, m - 1);
			k += m - 1;
		} else {
			out[0] = ST_TIMEOUT;
		}
		break;
	}
	return k;
}

/* InListPassiveTarget: 1 if answered now, 0 if it must wait. */
static int
in_list_passive_target(struct pn532emu *e, const uint8_t *p, size_t n,
    int may_wait)
{
	uint8_t out[FRAME_MAX];
	size_t k = 0;

	if (n < 2) {
		send_syntax_error(e);
		return 1;
	}
	if (e->field_on && card_matches(&e->card, p[1], p + 2, n - 2)) {
		out[k++] = 1;
		k += card_target_data(e, &e->card,
		    (p[1] == 0x01 || p[1] == 0x02) && n >= 6 ? p[5] : 0,
		    out + k);
		announce(e);
		send_answer(e, CMD_IN_LIST_PASSIVE_TARGET, out, k);
		return 1;
	}
	/* no card: a chip told to retry forever keeps trying, silently */
	if (may_wait && e->mxrty_passive == 0xFF)
		return 0;
	out[k++] = 0;
	send_answer(e, CMD_IN_LIST_PASSIVE_TARGET, out, k);
	return 1;
}

/* InAutoPoll: PollNr, Period (x150 ms), target types. */
static int
in_auto_poll(struct pn532emu *e, const uint8_t *p, size_t n, int expired)
{
	uint8_t out[FRAME_MAX];
	size_t k = 0;

	if (n < 3) {
		send_syntax_error(e);
		return 1;
	}
	for (size_t i = 2; i < n; i++) {
		uint8_t t = p[i], brty;
		int ok;

		switch (t & 0x3F) {
		case 0x00: case 0x10: brty = 0x00; ok = card_is_typea(&e->card); break;
		case 0x20: brty = 0x00; ok = e->card.kind == CARD_ISO4A; break;
		case 0x11: brty = 0x01; ok = 1; break;
		case 0x12: brty = 0x02; ok = 1; break;
		case 0x03: case 0x23: brty = 0x03; ok = 1; break;
		default: ok = 0; brty = 0xFF; break;
		}
		if (!ok || !e->field_on || !card_matches(&e->card, brty, NULL, 0))
			continue;
		out[k++] = 1;
		out[k++] = t;
		out[k] = (uint8_t)card_target_data(e, &e->card, 0, out + k + 1);
		k += 1 + out[k];
		announce(e);
		send_answer(e, CMD_IN_AUTO_POLL, out, k);
		return 1;
	}
	if (!expired)
		return 0;
	out[k++] = 0;
	send_answer(e, CMD_IN_AUTO_POLL, out, k);
	return 1;
}

static void
answer_pending(struct pn532emu *e, int expired)
{
	int done;

	if (e->pendinglen == 0 || e->muted)
		return;
	if (e->pending[0] == CMD_IN_LIST_PASSIVE_TARGET)
		done = in_list_passive_target(e, e->pending + 1,
		    e->pendinglen - 1, !expired);
	else
		done = in_auto_poll(e, e->pending + 1, e->pendinglen - 1,
		    expired);
	if (done)
		e->pendinglen = 0;
}

void
pn532emu_timer(struct pn532emu *e)
{
	if (e->pendinglen > 0 && e->pending_deadline >= 0 &&
	    pn532emu_now_ms() >= e->pending_deadline)
		answer_pending(e, 1);
}

/* ---- commands ------------------------------------------------------- */

static void
command(struct pn532emu *e, const uint8_t *c, size_t n)
{
	uint8_t out[FRAME_MAX];
	size_t k = 0;
	uint8_t cmd = c[0];
	const uint8_t *p = c + 1;
	size_t pn = n - 1;

	e->pendinglen = 0;	/* a new command ends an old one */
	send_ack(e);
	switch (cmd) {
	case CMD_DIAGNOSE:
		if (pn >= 1 && p[0] == 0x00) {	/* communication line test */
			memcpy(out, p, pn);
			k = pn;
			notef(e, "hello %lld", (long long)pn532emu_now_ms());
		} else if (pn >= 1 && p[0] == 0x06) {	/* card presence */
			out[k++] = e->card.present ? ST_OK : ST_TIMEOUT;
		} else {
			out[k++] = 0x00;
		}
		break;
	case CMD_GET_FIRMWARE_VERSION:
		/* IC PN532, version 1.6, supports ISO14443A, B and ISO18092 */
		out[k++] = 0x32;
		out[k++] = 0x01;
		out[k++] = 0x06;
		out[k++] = 0x07;
		break;
	case CMD_READ_REGISTER:
		for (size_t i = 0; i + 1 < pn; i += 2)
			out[k++] = e->regs[(p[i] << 8) | p[i + 1]];
		break;
	case CMD_WRITE_REGISTER:
		for (size_t i = 0; i + 2 < pn; i += 3)
			e->regs[(p[i] << 8) | p[i + 1]] = p[i + 2];
		break;
	case CMD_SET_PARAMETERS:
		if (pn >= 1)
			e->params = p[0];
		break;
	case CMD_SAM_CONFIGURATION:
		e->field_on = 1;
		break;
	case CMD_POWER_DOWN:
		out[k++] = ST_OK;
		break;
	case CMD_RF_CONFIGURATION:
		if (pn >= 2 && p[0] == 0x01)
			e->field_on = p[1] & 0x01;
		else if (pn >= 4 && p[0] == 0x05)
			e->mxrty_passive = p[3];
		break;
	case CMD_IN_DATA_EXCHANGE:
		k = card_exchange(e, 0, pn > 1 ? p + 1 : p, pn > 1 ? pn - 1 : 0,
		    out);
		break;
	case CMD_IN_COMMUNICATE_THRU:
		k = card_exchange(e, 1, p, pn, out);
		break;
	case CMD_IN_DESELECT:
	case CMD_IN_RELEASE:
		e->card.selected = 0;
		out[k++] = ST_OK;
		break;
	case CMD_IN_SELECT:
		out[k++] = e->card.present ? ST_OK : ST_TIMEOUT;
		if (e->card.present)
			e->card.selected = 1;
		break;
	case CMD_IN_LIST_PASSIVE_TARGET:
		if (!in_list_passive_target(e, p, pn, 1)) {
			memcpy(e->pending, c, n);
			e->pendinglen = n;
			e->pending_deadline = -1;
		}
		return;
	case CMD_IN_AUTO_POLL:
		if (!in_auto_poll(e, p, pn, 0)) {
			memcpy(e->pending, c, n);
			e->pendinglen = n;
			/* PollNr 0xFF: until a card comes */
			e->pending_deadline = pn >= 2 && p[0] != 0xFF ?
			    pn532emu_now_ms() + (int64_t)p[0] * p[1] * 150 *
			    (int64_t)(pn - 2) : -1;
		}
		return;
	default:
		fprintf(stderr, "pn532emu: command %02X not emulated\n", cmd);
		send_syntax_error(e);
		return;
	}
	send_answer(e, cmd, out, k);
}

/* Take whole frames out of the input buffer. */
static void
parse(struct pn532emu *e)
{
	size_t i = 0;

	for (;;) {
		size_t start, len, hdr;
		uint8_t sum;

		/* find the start code 00 FF */
		while (i + 1 < e->inlen && !(e->in[i] == 0x00 && e->in[i + 1] == 0xFF))
			i++;
		if (i + 4 > e->inlen)
			break;
		start = i + 2;
		if (e->in[start] == 0x00 && e->in[start + 1] == 0xFF) {
			/* ACK from the host: abort what is outstanding */
			e->pendinglen = 0;
			i = start + 2;
			continue;
		}
		if (e->in[start] == 0xFF && e->in[start + 1] == 0x00) {
			/* NACK: say it again */
			if (e->lastlen > 0)
				send_bytes(e, e->last, e->lastlen);
			i = start + 2;
			continue;
		}
		if (e->in[start] == 0xFF && e->in[start + 1] == 0xFF) {
			/* extended frame: 00 FF FF FF LENM LENL LCS */
			if (start + 5 > e->inlen)
				break;
			len = ((size_t)e->in[start + 2] << 8) | e->in[start + 3];
			if ((uint8_t)(e->in[start + 2] + e->in[start + 3] +
			    e->in[start + 4]) != 0) {
				i = start;
				continue;
			}
			hdr = start + 5;
		} else {
			len = e->in[start];
			if ((uint8_t)(e->in[start] + e->in[start + 1]) != 0) {
				i = start;	/* not a frame after all */
				continue;
			}
			hdr = start + 2;
		}
		if (len > FRAME_MAX) {
			i = hdr;
			continue;
		}
		if (hdr + len + 1 > e->inlen)
			break;
		sum = 0;
		for (size_t k = 0; k <= len; k++)
			sum += e->in[hdr + k];
		trace_bytes(e, "<", e->in + i, hdr + len + 1 - i);
		i = hdr + len + 1;
		if (sum != 0 || len < 2 || e->in[hdr] != 0xD4) {
			fprintf(stderr, "pn532emu: bad frame from host skipped\n");
			continue;
		}
		if (!e->muted)
			command(e, e->in + hdr + 1, len - 1);
	}
	if (i > 0) {
		memmove(e->in, e->in + i, e->inlen - i);
		e->inlen -= i;
	}
	/* a start code split over two reads keeps its first byte */
	if (e->inlen == sizeof(e->in))
		e->inlen = 0;
}

void
pn532emu_io(struct pn532emu *e)
{
	ssize_t n;

	while (e->master != -1) {
		n = read(e->master, e->in + e->inlen, sizeof(e->in) - e->inlen);
		if (n > 0) {
			e->inlen += (size_t)n;
			parse(e);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		break;	/* EAGAIN, or EIO while nobody has the slave open */
	}
}

/* ---- control -------------------------------------------------------- */

static int
parse_hex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = strlen(s);

	if (len == 0 || len % 2 != 0 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    strspn(s + 2 * i, "0123456789abcdefABCDEF") < 2)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static void
card_enter(struct pn532emu *e, const struct card *c)
{
	char tok[64];

	e->card = *c;
	e->card.present = 1;
	e->card.announced = 0;
	e->card.selected = 0;
	card_token(&e->card, tok, sizeof(tok));
	notef(e, "enter %s %lld", tok, (long long)pn532emu_now_ms());
	answer_pending(e, 0);
}

static void
card_leave(struct pn532emu *e)
{
	char tok[64];

	if (!e->card.present) {
		notef(e, "leave - %lld", (long long)pn532emu_now_ms());
		return;
	}
	card_token(&e->card, tok, sizeof(tok));
	e->card.present = 0;
	e->card.selected = 0;
	notef(e, "leave %s %lld", tok, (long long)pn532emu_now_ms());
}

int
pn532emu_control(struct pn532emu *e, const char *line, char *err,
    size_t errlen)
{
	char buf[256], *argv[8], *s, *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (s = strtok_r(buf, " \t\r\n", &save); s != NULL && argc < 8;
	    s = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = s;
	if (argc == 0 || argv[0][0] == '#')
		return 0;
	if (strcmp(argv[0], "card") == 0) {
		struct card c;

		memset(&c, 0, sizeof(c));
		if (argc < 3) {
			SET_ERR("usage: card iso14443a|felica|iso14443b UIDHEX [kind]");
			return -1;
		}
		if (parse_hex(argv[2], c.uid, sizeof(c.uid), &c.uidlen) == -1) {
			SET_ERR("card: bad UID \"%s\"", argv[2]);
			return -1;
		}
		if (strcmp(argv[1], "iso14443a") == 0) {
			if (c.uidlen != 4 && c.uidlen != 7 && c.uidlen != 10) {
				SET_ERR("card: a type A UID has 4, 7 or 10 bytes");
				return -1;
			}
			c.kind = c.uidlen == 4 ? CARD_CLASSIC :
			    c.uidlen == 7 ? CARD_ULTRALIGHT : CARD_ISO4A;
			if (argc > 3 && strcmp(argv[3], "classic") == 0)
				c.kind = CARD_CLASSIC;
			else if (argc > 3 && strcmp(argv[3], "ultralight") == 0)
				c.kind = CARD_ULTRALIGHT;
			else if (argc > 3 && (strcmp(argv[3], "iso14443-4") == 0 ||
			    strcmp(argv[3], "desfire") == 0))
				c.kind = CARD_ISO4A;
			else if (argc > 3) {
				SET_ERR("card: unknown kind \"%s\"", argv[3]);
				return -1;
			}
		} else if (strcmp(argv[1], "felica") == 0) {
			if (c.uidlen != 8) {
				SET_ERR("card: a FeliCa IDm has 8 bytes");
				return -1;
			}
			c.kind = CARD_FELICA;
			c.felica_212 = argc < 4 || strcmp(argv[3], "212") == 0;
			c.felica_424 = argc < 4 || strcmp(argv[3], "424") == 0;
			if (!c.felica_212 && !c.felica_424) {
				SET_ERR("card: FeliCa speed is 212 or 424");
				return -1;
			}
		} else if (strcmp(argv[1], "iso14443b") == 0) {
			if (c.uidlen != 4) {
				SET_ERR("card: a type B PUPI has 4 bytes");
				return -1;
			}
			c.kind = CARD_ISO14443B;
		} else {
			SET_ERR("card: unknown technology \"%s\"", argv[1]);
			return -1;
		}
		card_enter(e, &c);
	} else if (strcmp(argv[0], "remove") == 0) {
		card_leave(e);
	} else if (strcmp(argv[0], "vanish") == 0) {
		pty_close(e);
		notef(e, "vanished %lld", (long long)pn532emu_now_ms());
	} else if (strcmp(argv[0], "back") == 0) {
		if (e->master == -1 && pty_open(e, err, errlen) == -1)
			return -1;
		e->muted = 0;
		notef(e, "ready %s %s", e->link, e->pty);
	} else if (strcmp(argv[0], "mute") == 0) {
		e->muted = 1;
		e->pendinglen = 0;
		notef(e, "muted");
	} else if (strcmp(argv[0], "unmute") == 0) {
		e->muted = 0;
		notef(e, "unmuted");
	} else if (strcmp(argv[0], "wait") == 0) {
		char *end;
		long v = argc > 1 ? strtol(argv[1], &end, 10) : 0;

		if (argc < 2 || *end != '\0' || v < 1 || v > 1000000) {
			SET_ERR("wait: bad count");
			return -1;
		}
		e->wait_left = v;
	} else if (strcmp(argv[0], "corrupt") == 0) {
		char *end;
		long v = argc > 1 ? strtol(argv[1], &end, 10) : 1;

		if (argc > 1 && (*end != '\0' || v < 0 || v > 1000000)) {
			SET_ERR("corrupt: bad count \"%s\"", argv[1]);
			return -1;
		}
		e->corrupt = (int)v;
		notef(e, "corrupt %d", e->corrupt);
	} else {
		SET_ERR("unknown command \"%s\"", argv[0]);
		return -1;
	}
	return 0;
}
