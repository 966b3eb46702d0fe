/*
 * msscreen: the screen a person reads at a robot or a terminal.  It reads
 * the NDJSON the toolkit writes (carts, acks with a cart, settlements,
 * outcomes, errors) and redraws one whole screen after each message: who,
 * the items, the total, the credit left and how the payment went, with
 * the catalogue's names in the person's language where it has them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

#define ITEMS_SHOWN	12

/* The words on the screen, per language; English where there is none. */
struct words {
	const char *lang, *total, *left, *over, *empty, *more, *paying,
	    *paid, *declined, *failed, *review, *pending, *error, *blocked;
};
static const struct words words[] = {
	{ "en", "Total", "Credit left", "Over the limit", "Nothing taken",
	  "more", "Paying...", "paid", "declined", "not paid", "being checked",
	  "no answer yet, ask again later", "error", "blocked, see the office" },
	{ "ja", "合計", "残りの枠", "上限を超えています", "商品はありません",
	  "ほか", "お支払い中...", "お支払い済み", "お支払いできません",
	  "お支払いできません", "確認中", "まだ結果がありません。後ほどご確認ください",
	  "エラー", "ご利用いただけません。事務所へ" },
};

/* The reasons mscart gives, in the screen's language (by the code). */
static const struct { const char *lang, *code, *reason; } reasons[] = {
	{ "ja", "expired_card", "カードの有効期限が切れています。事務所へ" },
	{ "ja", "insufficient_funds", "カードの残高が足りません。事務所へ" },
	{ "ja", "no-payment", "カードが登録されていません。事務所へ" },
	{ "ja", NULL, "事務所へお越しください" },
	{ NULL, NULL, NULL }
};

struct screen {
	const struct words *w;
	const char	*lang;
	json_t		*names;		/* sku -> name in lang */
	json_t		*cart;		/* the last cart, or NULL */
	char		 status[600];
};

static void
usage(void)
{
	fprintf(stderr, "usage: msscreen [-h] [-c catalogue] [-l lang]\n");
}

/* The catalogue's names in lang: product records, one a line. */
static int
catalogue_load(struct screen *sc, const char *path)
{
	struct ms_reader r;
	char err[256];
	json_t *p;
	int fd, rc, bad = 0;

	if ((fd = open(path, O_RDONLY)) == -1) {
		ms_warn("%s", path);
		return -1;
	}
	ms_reader_init(&r, fd, path);
	while ((rc = ms_reader_next(&r, 0, &p, err, sizeof(err))) != MS_READ_EOF) {
		if (rc == MS_READ_ERROR) {
			ms_warnx("%s: %s", path, strerror(r.error));
			bad = 1;
			break;
		}
		if (rc != MS_READ_LINE) {
			ms_warn_at(path, r.lineno, "%s", err);
			bad = 1;
			continue;
		}
		{
			const char *sku = json_string_value(json_object_get(p, "sku"));
			json_t *n = json_object_get(json_object_get(p, "names"),
			    sc->lang);

			if (sku != NULL && json_is_string(n))
				json_object_set(sc->names, sku, n);
		}
		json_decref(p);
	}
	ms_reader_free(&r);
	close(fd);
	return bad ? -1 : 0;
}

/*
 * Columns a UTF-8 string takes on a terminal: East Asian wide characters
 * (kanji, kana, hangul, full-width forms) take two.  Written out rather
 * than wcswidth(3), which needs a UTF-8 locale the screen may not run in.
 */
static size_t
text_columns(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cols = 0;

	while (*p) {
		unsigned long c = *p;
		int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;

		c &= n == 0 ? 0x7F : n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07;
		for (p++; n > 0 && (*p & 0xC0) == 0x80; n--, p++)
			c = c << 6 | (*p & 0x3F);
		cols += (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 &&
		    c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
		    (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
		    (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) ||
		    (c >= 0x20000 && c <= 0x3FFFD) ? 2 : 1;
	}
	return cols;
}

/* "  label ....... amount", the amount ending at column 50. */
static void
row(const char *label, const char *amount)
{
	size_t used = 2 + text_columns(label) + strlen(amount);

	printf("  %s%*s%s\n", label, used < 50 ? (int)(50 - used) : 1, "",
	    amount);
}

static void
money(int64_t amount, const char *cur, char *buf, size_t len)
{
	if (cur == NULL || ms_money_format(amount, cur, buf, len) == -1)
		snprintf(buf, len, "%lld", (long long)amount);
}

static const char *
item_name(const struct screen *sc, const json_t *it)
{
	const char *n = json_string_value(json_object_get(sc->names,
	    json_string_value(json_object_get(it, "sku"))));

	if (n == NULL)
		n = json_string_value(json_object_get(it, "name"));
	return n ? n : json_string_value(json_object_get(it, "sku"));
}

/* The whole screen, from the top: plain ANSI, clear and home. */
static void
draw(const struct screen *sc)
{
	const json_t *c = sc->cart, *it;
	char a[64];
	size_t i, n;

	printf("\033[H\033[2J");
	if (c != NULL) {
		const char *who = json_string_value(json_object_get(c, "name"));
		const char *cur = json_string_value(json_object_get(c, "currency"));
		json_t *items = json_object_get(c, "items");

		printf("%s\n\n", who ? who : json_string_value(json_object_get(c,
		    "user")) ? json_string_value(json_object_get(c, "user")) : "");
		n = json_array_size(items);
		if (n == 0)
			printf("  %s\n", sc->w->empty);
		json_array_foreach(items, i, it) {
			if (i == ITEMS_SHOWN) {
				printf("  ... %zu %s\n", n - i, sc->w->more);
				break;
			}
			money(json_integer_value(json_object_get(it, "price")),
			    json_string_value(json_object_get(it, "currency")),
			    a, sizeof(a));
			row(item_name(sc, it), a);
		}
		if (json_is_integer(json_object_get(c, "total"))) {
			money(json_integer_value(json_object_get(c, "total")),
			    cur, a, sizeof(a));
			printf("\n");
			row(sc->w->total, a);
		}
		if (json_is_integer(json_object_get(c, "credit_limit")) &&
		    json_is_integer(json_object_get(c, "total"))) {
			money(json_integer_value(json_object_get(c, "credit_limit")) -
			    json_integer_value(json_object_get(c, "total")), cur,
			    a, sizeof(a));
			row(sc->w->left, a);
		}
		{
			const char *lim = json_string_value(json_object_get(c, "limit"));

			if (lim != NULL && strcmp(lim, "over") == 0)
				printf("  %s\n", sc->w->over);
			else if (lim != NULL && strcmp(lim, "blocked") == 0)
				printf("  %s\n", sc->w->blocked);
		}
	}
	if (sc->status[0] != '\0')
		printf("\n>> %s\n", sc->status);
	fflush(stdout);
}

static const char *
reason_text(const struct screen *sc, const json_t *m)
{
	const char *code = json_string_value(json_object_get(m, "code"));
	const char *why = json_string_value(json_object_get(m, "reason"));

	for (size_t i = 0; reasons[i].lang != NULL; i++)
		if (strcmp(reasons[i].lang, sc->lang) == 0 &&
		    (reasons[i].code == NULL || (code != NULL &&
		    strcmp(reasons[i].code, code) == 0)))
			return reasons[i].reason;
	return why;
}

/* A message changes the screen; 1 when it is to be redrawn. */
static int
screen_apply(struct screen *sc, json_t *m)
{
	const char *t = json_string_value(json_object_get(m, "type"));
	json_t *cart = NULL;
	char a[64];

	if (t == NULL)
		return 0;
	if (strcmp(t, "cart") == 0)
		cart = m;
	else if (strcmp(t, "ack") == 0)
		cart = json_object_get(m, "cart");
	if (cart != NULL) {
		json_decref(sc->cart);
		sc->cart = json_incref(cart);
		if (strcmp(t, "ack") == 0)
			sc->status[0] = '\0';	/* a new person */
		return 1;
	}
	if (strcmp(t, "settlement") == 0 &&
	    strcmp(json_string_value(json_object_get(m, "state")), "open") == 0) {
		money(json_integer_value(json_object_get(m, "amount")),
		    json_string_value(json_object_get(m, "currency")), a, sizeof(a));
		snprintf(sc->status, sizeof(sc->status), "%s %s", sc->w->paying, a);
		return 1;
	}
	if (strcmp(t, "outcome") == 0) {
		const char *st = json_string_value(json_object_get(m, "state"));
		const char *word = sc->w->failed, *why = reason_text(sc, m);

		money(json_integer_value(json_object_get(m, "amount")),
		    json_string_value(json_object_get(m, "currency")), a, sizeof(a));
		if (strcmp(st, "paid") == 0) {
			snprintf(sc->status, sizeof(sc->status), "%s %s",
			    sc->w->paid, a);
			return 1;
		}
		if (strcmp(st, "pending") == 0) {
			snprintf(sc->status, sizeof(sc->status), "%s",
			    sc->w->pending);
			return 1;
		}
		if (strcmp(st, "declined") == 0)
			word = sc->w->declined;
		else if (strcmp(st, "review") == 0)
			word = sc->w->review;
		snprintf(sc->status, sizeof(sc->status), "%s: %s", word,
		    why ? why : "");
		return 1;
	}
	if (strcmp(t, "error") == 0) {
		snprintf(sc->status, sizeof(sc->status), "%s: %s", sc->w->error,
		    json_string_value(json_object_get(m, "message")));
		return 1;
	}
	return 0;	/* events and the rest: nothing a person reads */
}

int
main(int argc, char *argv[])
{
	struct screen sc = { 0 };
	struct ms_reader r;
	const char *cat = NULL, *lang = getenv("MSSCREEN_LANG");
	char err[256];
	json_t *m;
	int ch, rc, bad = 0;

	ms_setprog(argv[0]);
	while ((ch = getopt(argc, argv, "c:hl:")) != -1) {
		switch (ch) {
		case 'c':
			cat = optarg;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'l':
			lang = optarg;
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
	sc.lang = lang != NULL && *lang != '\0' ? lang : "en";
	sc.w = &words[0];
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(sc.lang, words[i].lang, 2) == 0)
			sc.w = &words[i];
	sc.names = json_object();
	if (cat != NULL && catalogue_load(&sc, cat) == -1)
		return MS_EX_FAIL;
	ms_sig_install(0);
	ms_reader_init(&r, STDIN_FILENO, "-");
	draw(&sc);
	while (!ms_sig_stop) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

		rc = ms_reader_next(&r, 1, &m, err, sizeof(err));
		if (rc == MS_READ_LINE) {
			if (screen_apply(&sc, m))
				draw(&sc);
			json_decref(m);
			continue;
		}
		if (rc == MS_READ_BAD) {
			ms_warn_at("-", r.lineno, "%s", err);
			bad = 1;
			continue;
		}
		if (rc == MS_READ_EOF)
			break;
		if (rc == MS_READ_ERROR) {
			ms_warnx("-: %s", strerror(r.error));
			bad = 1;
			break;
		}
		if (ms_sig_poll(&p, 1, -1) == -1 && errno != EINTR) {
			ms_warn("poll");
			bad = 1;
			break;
		}
		if (p.revents && ms_reader_fill(&r) == -1 && r.error != 0) {
			ms_warnx("-: %s", strerror(r.error));
			bad = 1;
			break;
		}
	}
	ms_reader_free(&r);
	json_decref(sc.cart);
	json_decref(sc.names);
	if (ms_close_stdout() != 0)
		return MS_EX_FAIL;
	return bad ? MS_EX_FAIL : MS_EX_OK;
}
