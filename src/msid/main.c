/*
 * msid: who is at the robot.  Watches an NFC reader through libnfc (and
 * optionally a line scanner) and writes one "identify" line when a card
 * is presented and one "depart" line when it has been gone for the hold
 * time.  See msid(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msid.h"
#include "version.h"

#define BACKOFF_MIN_MS	200
#define BACKOFF_MAX_MS	3000

static struct {
	int64_t		 hold_ms, period_ms, idle_ms;
	long		 count;
	int		 verbose;
	const char	*keyfile;
	char		*key;
	size_t		 keylen;
} opt = { 2000, 100, 0, 0, 0, NULL, NULL, 0 };

/* The card msid has announced and not yet seen depart. */
static struct {
	int		 active;	/* identify written, depart not yet */
	int		 visible;	/* answered at the last look */
	char		 plain[MS_CARD_MAX];
	char		 token[MS_CARD_MAX];
	nfc_target	 nt;
	int64_t		 gone_mono, gone_wall;
} cur;

/* The last line-scanner identity, for the hold time. */
static char last_line[MS_CARD_MAX];
static int64_t last_line_mono;

static long identified;
static int64_t last_event_mono;

static void
usage(void)
{
	fprintf(stderr, "usage: msid [-hv] [-d connstring] [-H hold] "
	    "[-k keyfile] [-l path] [-n count]\n"
	    "            [-p period] [-T idle] [-t a,f,b]\n");
}

static int
parse_techs(const char *s, int *techs)
{
	char buf[64], *p, *save = NULL;

	*techs = 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "a") == 0 || strcmp(p, "iso14443a") == 0)
			*techs |= TECH_A;
		else if (strcmp(p, "f") == 0 || strcmp(p, "felica") == 0)
			*techs |= TECH_F;
		else if (strcmp(p, "b") == 0 || strcmp(p, "iso14443b") == 0)
			*techs |= TECH_B;
		else
			return -1;
	}
	return *techs == 0 ? -1 : 0;
}

static int
load_key(void)
{
	char err[512], *key;
	size_t len;

	if (ms_read_secret(opt.keyfile, &key, &len, err, sizeof(err)) == -1) {
		ms_warnx("%s", err);
		return -1;
	}
	ms_secret_free(opt.key, opt.keylen);
	opt.key = key;
	opt.keylen = len;
	return 0;
}

/* The token that leaves msid: the plain one, or keyed with -k. */
static int
public_token(const char *plain, char *out, size_t len)
{
	if (opt.key == NULL) {
		snprintf(out, len, "%s", plain);
		return 0;
	}
	return ms_card_hmac(out, len, (const uint8_t *)opt.key, opt.keylen,
	    plain);
}

static void
emit(const char *type, const char *token, int64_t wall_ms)
{
	char ts[MS_TIME_LEN], err[256];
	json_t *o;

	ms_time_format(wall_ms, ts);
	o = json_pack("{s:s, s:s, s:s}", "type", type, "ts", ts, "card", token);
	if (o == NULL)
		ms_errx(MS_EX_FAIL, "out of memory");
	if (ms_msg_validate(o, err, sizeof(err)) == -1)
		ms_errx(MS_EX_FAIL, "internal error: %s", err);
	if (ms_write_json(stdout, o, 1) == -1) {
		json_decref(o);
		ms_err(MS_EX_FAIL, "stdout");
	}
	json_decref(o);
	last_event_mono = ms_mono_ms();
}

static void
depart(void)
{
	emit("depart", cur.token, cur.gone_wall);
	if (opt.verbose)
		ms_warnx("card %s departed", cur.token);
	cur.active = 0;
	cur.visible = 0;
}

/* A card answered a poll. */
static void
card_seen(const char *plain, const nfc_target *nt)
{
	char token[MS_CARD_MAX];

	if (cur.active && strcmp(cur.plain, plain) == 0) {
		/* back within the hold time (or after a reconnect): same visit */
		cur.visible = 1;
		cur.nt = *nt;
		if (opt.verbose)
			ms_warnx("card %s back within the hold time", cur.token);
		return;
	}
	if (public_token(plain, token, sizeof(token)) == -1) {
		ms_warnx("cannot make a keyed token");
		return;
	}
	if (cur.active) {
		/* another card: the first one is gone as of now */
		cur.gone_wall = ms_now_ms();
		depart();
	}
	snprintf(cur.plain, sizeof(cur.plain), "%s", plain);
	snprintf(cur.token, sizeof(cur.token), "%s", token);
	cur.nt = *nt;
	cur.active = cur.visible = 1;
	emit("identify", cur.token, ms_now_ms());
	identified++;
}

static void
card_unseen(void)
{
	if (!cur.active || !cur.visible)
		return;
	cur.visible = 0;
	cur.gone_mono = ms_mono_ms();
	cur.gone_wall = ms_now_ms();
	if (opt.verbose)
		ms_warnx("card %s left the field", cur.token);
}

static void
line_seen(const char *plain)
{
	char token[MS_CARD_MAX];
	int64_t now = ms_mono_ms();

	if (strcmp(plain, last_line) == 0 && now - last_line_mono < opt.hold_ms) {
		last_line_mono = now;
		return;
	}
	snprintf(last_line, sizeof(last_line), "%s", plain);
	last_line_mono = now;
	if (public_token(plain, token, sizeof(token)) == -1) {
		ms_warnx("cannot make a keyed token");
		return;
	}
	emit("identify", token, ms_now_ms());
	identified++;
}

/* Make sure fds 0-2 are open: libnfc misbehaves with its port on fd 0. */
static void
sane_fds(void)
{
	int fd, out_closed = fcntl(1, F_GETFD) == -1;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (out_closed)
		ms_errx(MS_EX_FAIL, "stdout is closed");
}

int
main(int argc, char *argv[])
{
	struct reader rd;
	struct linesrc ls;
	const char *connstring = NULL, *linepath = NULL;
	char err[512], plain[MS_CARD_MAX];
	int ch, techs = TECH_A | TECH_F | TECH_B, use_nfc, up = 0, bad = 0;
	int down_logged = 0, lines_open = 0, status = MS_EX_OK;
	int64_t next_open = 0, backoff = BACKOFF_MIN_MS;
	long v;

	ms_setprog(argv[0]);
	ms_version_option(argc, argv);
	sane_fds();
	while ((ch = getopt(argc, argv, "d:H:hk:l:n:p:T:t:v")) != -1) {
		switch (ch) {
		case 'd':
			connstring = optarg;
			break;
		case 'H':
			if (ms_parse_seconds(optarg, &opt.hold_ms) == -1)
				goto badopt;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'k':
			opt.keyfile = optarg;
			break;
		case 'l':
			linepath = optarg;
			break;
		case 'n':
			if (ms_parse_long(optarg, 1, 1000000000L, &v) == -1)
				goto badopt;
			opt.count = v;
			break;
		case 'p':
			if (ms_parse_seconds(optarg, &opt.period_ms) == -1 ||
			    opt.period_ms < 10 || opt.period_ms > 60000)
				goto badopt;
			break;
		case 'T':
			if (ms_parse_seconds(optarg, &opt.idle_ms) == -1 ||
			    opt.idle_ms == 0)
				goto badopt;
			break;
		case 't':
			if (parse_techs(optarg, &techs) == -1)
				goto badopt;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0) {
		usage();
		return MS_EX_USAGE;
	}
	/* only a line scanner, unless a reader is named too */
	use_nfc = linepath == NULL || connstring != NULL;

	if (opt.keyfile != NULL && load_key() == -1)
		return MS_EX_FAIL;
	if (linepath != NULL) {
		if (linesrc_open(&ls, linepath, err, sizeof(err)) == -1)
			ms_errx(MS_EX_FAIL, "%s", err);
		lines_open = 1;
	}
	/* libnfc's own chatter stays quiet unless asked for */
	setenv("LIBNFC_LOG_LEVEL", opt.verbose ? "1" : "0", 0);
	if (use_nfc && reader_init(&rd, connstring, techs) == -1)
		ms_errx(MS_EX_FAIL, "cannot initialise libnfc");
	ms_sig_install(1);
	last_event_mono = ms_mono_ms();

	while (!ms_sig_stop) {
		int64_t now = ms_mono_ms(), wait;
		int r;

		if (ms_sig_reload) {
			ms_sig_reload = 0;
			if (opt.keyfile != NULL && load_key() == 0)
				ms_warnx("%s: key reloaded", opt.keyfile);
		}
		if (use_nfc && !up && now >= next_open) {
			if (reader_open(&rd, err, sizeof(err)) == 0) {
				up = 1;
				backoff = BACKOFF_MIN_MS;
				down_logged = 0;
				ms_warnx("reader ready: %s (%s)",
				    nfc_device_get_name(rd.dev),
				    nfc_device_get_connstring(rd.dev));
			} else {
				if (!down_logged && !ms_sig_stop)
					ms_warnx("%s; retrying", err);
				down_logged = 1;
				next_open = ms_mono_ms() + backoff;
				backoff = backoff * 2 > BACKOFF_MAX_MS ?
				    BACKOFF_MAX_MS : backoff * 2;
			}
		}
		if (up) {
			nfc_target nt;

			if (cur.active && cur.visible)
				r = reader_present(&rd, &cur.nt, err, sizeof(err));
			else
				r = reader_scan(&rd, &nt, plain, sizeof(plain),
				    err, sizeof(err));
			if (ms_sig_stop)
				break;
			if (r == READ_ERROR) {
				ms_warnx("reader lost: %s: %s; reconnecting",
				    reader_label(&rd), err);
				reader_close(&rd);
				up = 0;
				down_logged = 1;	/* said; retries are quiet */
				next_open = ms_mono_ms() + BACKOFF_MIN_MS;
				card_unseen();
			} else if (cur.active && cur.visible) {
				if (r == READ_NONE)
					card_unseen();
			} else if (r == READ_CARD) {
				card_seen(plain, &nt);
			}
		}
		now = ms_mono_ms();
		if (cur.active && !cur.visible && now - cur.gone_mono >= opt.hold_ms)
			depart();
		if (opt.count > 0 && identified >= opt.count)
			break;
		if (opt.idle_ms > 0 && !cur.active &&
		    now - last_event_mono >= opt.idle_ms)
			break;

		/* sleep until the next presence check, poll or deadline */
		wait = use_nfc ? opt.period_ms : -1;
		if (use_nfc && !up)
			wait = next_open > now ? next_open - now : 0;
		if (cur.active && !cur.visible) {
			int64_t left = cur.gone_mono + opt.hold_ms - now;

			if (left < wait || wait < 0)
				wait = left < 0 ? 0 : left;
		}
		if (opt.idle_ms > 0 && !cur.active) {
			int64_t left = last_event_mono + opt.idle_ms - now;

			if (left < wait || wait < 0)
				wait = left < 0 ? 0 : left;
		}
		{
			struct pollfd pfd = { .fd = lines_open ? ls.rd.fd : -1,
			    .events = POLLIN };

			if (ms_sig_poll(&pfd, 1, (int)wait) == -1 && errno != EINTR)
				ms_err(MS_EX_FAIL, "poll");
			if (!lines_open)
				continue;
			if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !ms_reader_ready(&ls.rd))
				continue;
		}
		while (lines_open && !ms_sig_stop &&
		    (opt.count == 0 || identified < opt.count)) {
			r = linesrc_next(&ls, plain, sizeof(plain), &bad);
			if (r == 1) {
				line_seen(plain);
				continue;
			}
			if (r == -1) {
				linesrc_close(&ls);
				lines_open = 0;
				if (!use_nfc)
					goto out;
			}
			break;
		}
		if (opt.count > 0 && identified >= opt.count)
			break;
	}
out:
	if (use_nfc)
		reader_fini(&rd);
	if (lines_open)
		linesrc_close(&ls);
	ms_secret_free(opt.key, opt.keylen);
	if (bad)
		status = MS_EX_FAIL;
	if (ms_close_stdout() != 0)
		status = MS_EX_FAIL;
	return status;
badopt:
	ms_warnx("-%c: bad value \"%s\"", ch, optarg);
	usage();
	return MS_EX_USAGE;
}
