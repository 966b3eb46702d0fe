/*
 * sqlite_peer: the ledger's ingest as a C programmer would write it on
 * SQLite, the peer that bench/mscart.sh measures mscart apply against.
 *
 *   sqlite_peer import DB <setup.nd    products, users and their cards
 *   sqlite_peer apply DB <takes.nd     take events, one ack line each
 *
 * apply does what an honest ledger does for each take line (parsed with
 * jansson, as mscart parses it): the event id robot:seq is recorded in
 * an events table whose primary key refuses a second copy (a duplicate
 * is acknowledged as such and changes nothing); the card is looked up to
 * its user (a card nobody holds keeps the line itself) and the sku to
 * its product, whose price the cart line takes (an unknown sku is kept
 * as a held line without a price, as mscart does); the cart line goes into a table indexed by owner, and an audit
 * row records who took what.  Prepared statements, WAL and
 * synchronous=FULL, so each COMMIT is fsynced before it returns.  The
 * lines already waiting on the input are committed together, at most
 * 1000 a transaction (as mscart apply batches them), and each line's
 * ack is written only after its transaction committed.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#define BATCH	1000

static sqlite3 *db;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("sqlite_peer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (db != NULL)
		fprintf(stderr, ": %s", sqlite3_errmsg(db));
	fputc('\n', stderr);
	exit(1);
}

static void
exec(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die("%s: %s", sql, err ? err : "?");
}

static sqlite3_stmt *
prepare(const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
	    NULL) != SQLITE_OK)
		die("prepare %s", sql);
	return s;
}

static void
text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void
step_done(sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		die("step");
	sqlite3_reset(s);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char schema[] =
    "CREATE TABLE products(sku TEXT PRIMARY KEY, name TEXT, price INTEGER,"
    " currency TEXT);"
    "CREATE TABLE users(user TEXT PRIMARY KEY, name TEXT, currency TEXT);"
    "CREATE TABLE cards(card TEXT PRIMARY KEY, user TEXT);"
    "CREATE TABLE events(id TEXT PRIMARY KEY, type TEXT);"
    "CREATE TABLE lines(id INTEGER PRIMARY KEY, owner TEXT, sku TEXT,"
    " name TEXT, price INTEGER, currency TEXT, ts TEXT, robot TEXT,"
    " slot TEXT, event TEXT, state TEXT, settlement TEXT, card TEXT);"
    "CREATE INDEX lines_owner ON lines(owner, id);"
    "CREATE TABLE audit(n INTEGER PRIMARY KEY, ts TEXT, who TEXT, what TEXT,"
    " event TEXT, line INTEGER, owner TEXT, price INTEGER, currency TEXT);";

/* Input lines from fd 0, with a way to ask whether more are waiting. */
static struct {
	char	*buf;
	size_t	 len, off, cap;
	int	 eof;
} in;

/* The next line (NUL-terminated, without its newline), or NULL. */
static char *
next_line(int block)
{
	char *nl, *line;
	ssize_t n;
	struct pollfd p = { .fd = 0, .events = POLLIN };

	for (;;) {
		nl = memchr(in.buf + in.off, '\n', in.len - in.off);
		if (nl != NULL) {
			*nl = '\0';
			line = in.buf + in.off;
			in.off = (size_t)(nl - in.buf) + 1;
			return line;
		}
		if (in.eof) {
			if (in.off < in.len) {	/* a last line without \n */
				in.buf[in.len] = '\0';
				line = in.buf + in.off;
				in.off = in.len;
				return line;
			}
			return NULL;
		}
		if (!block && poll(&p, 1, 0) == 0)
			return NULL;
		if (in.off > 0) {
			memmove(in.buf, in.buf + in.off, in.len - in.off);
			in.len -= in.off;
			in.off = 0;
		}
		if (in.len + 65536 + 1 > in.cap) {
			in.cap = in.cap ? in.cap * 2 : 1 << 20;
			if ((in.buf = realloc(in.buf, in.cap)) == NULL)
				die("out of memory");
		}
		n = read(0, in.buf + in.len, in.cap - in.len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("read: %s", strerror(errno));
		if (n == 0)
			in.eof = 1;
		in.len += (size_t)n;
	}
}

static void
import(void)
{
	sqlite3_stmt *prod, *user, *card;
	json_t *j, *cards, *c;
	const char *type;
	char *l;
	size_t i;

	exec(schema);
	prod = prepare("INSERT INTO products VALUES(?,?,?,?)");
	user = prepare("INSERT INTO users VALUES(?,?,?)");
	card = prepare("INSERT INTO cards VALUES(?,?)");
	exec("BEGIN");
	while ((l = next_line(1)) != NULL) {
		if ((j = json_loads(l, 0, NULL)) == NULL ||
		    (type = jstr(j, "type")) == NULL)
			die("import: not a setup line: %s", l);
		if (strcmp(type, "product") == 0) {
			text(prod, 1, jstr(j, "sku"));
			text(prod, 2, jstr(j, "name"));
			sqlite3_bind_int64(prod, 3,
			    json_integer_value(json_object_get(j, "price")));
			text(prod, 4, jstr(j, "currency"));
			step_done(prod);
		} else if (strcmp(type, "user") == 0) {
			text(user, 1, jstr(j, "user"));
			text(user, 2, jstr(j, "name"));
			text(user, 3, jstr(j, "currency"));
			step_done(user);
			cards = json_object_get(j, "cards");
			json_array_foreach(cards, i, c) {
				text(card, 1, json_string_value(c));
				text(card, 2, jstr(j, "user"));
				step_done(card);
			}
		}
		json_decref(j);
	}
	exec("COMMIT");
	sqlite3_finalize(prod);
	sqlite3_finalize(user);
	sqlite3_finalize(card);
}

static sqlite3_stmt *ins_event, *get_card, *get_product, *ins_line, *ins_audit;

/* An ISO 8601 UTC time with milliseconds, as mscart writes its audit. */
static void
now_iso(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Apply one take line; its reply goes to acks (written after COMMIT). */
static void
take(const char *l, FILE *acks)
{
	char ev[160], owner[160], ts[32];
	const char *robot, *sku, *card, *type;
	json_t *j;
	json_int_t seq;
	sqlite3_int64 line;
	int have_product;

	if ((j = json_loads(l, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    (type = jstr(j, "type")) == NULL || strcmp(type, "take") != 0 ||
	    (robot = jstr(j, "robot")) == NULL ||
	    !json_is_integer(json_object_get(j, "seq")) ||
	    (sku = jstr(j, "sku")) == NULL || (card = jstr(j, "card")) == NULL ||
	    jstr(j, "ts") == NULL) {
		fputs("{\"type\":\"error\",\"code\":\"invalid\"}\n", acks);
		json_decref(j);
		return;
	}
	seq = json_integer_value(json_object_get(j, "seq"));
	snprintf(ev, sizeof(ev), "%s:%lld", robot, (long long)seq);

	/* an event applied before changes nothing */
	text(ins_event, 1, ev);
	step_done(ins_event);
	if (sqlite3_changes(db) == 0) {
		fprintf(acks, "{\"type\":\"ack\",\"status\":\"duplicate\","
		    "\"of\":\"take\",\"event\":\"%s\"}\n", ev);
		json_decref(j);
		return;
	}
	/* a card nobody holds yet: the line is the card's, as mscart keeps it */
	text(get_card, 1, card);
	if (sqlite3_step(get_card) == SQLITE_ROW)
		snprintf(owner, sizeof(owner), "u:%s",
		    (const char *)sqlite3_column_text(get_card, 0));
	else
		snprintf(owner, sizeof(owner), "c:%s", card);
	sqlite3_reset(get_card);

	text(get_product, 1, sku);
	have_product = sqlite3_step(get_product) == SQLITE_ROW;
	text(ins_line, 1, owner);
	text(ins_line, 2, sku);
	if (have_product) {
		/* the product's columns, bound before the lookup is reset */
		sqlite3_bind_value(ins_line, 3, sqlite3_column_value(get_product, 0));
		sqlite3_bind_value(ins_line, 4, sqlite3_column_value(get_product, 1));
		sqlite3_bind_value(ins_line, 5, sqlite3_column_value(get_product, 2));
	} else {
		sqlite3_bind_null(ins_line, 3);
		sqlite3_bind_null(ins_line, 4);
		sqlite3_bind_null(ins_line, 5);
	}
	sqlite3_reset(get_product);
	text(ins_line, 6, jstr(j, "ts"));
	text(ins_line, 7, robot);
	text(ins_line, 8, jstr(j, "slot"));
	text(ins_line, 9, ev);
	text(ins_line, 10, have_product ? "unpaid" : "held");
	text(ins_line, 11, card);
	step_done(ins_line);
	line = sqlite3_last_insert_rowid(db);

	now_iso(ts, sizeof(ts));
	text(ins_audit, 1, ts);
	text(ins_audit, 2, ev);
	sqlite3_bind_int64(ins_audit, 3, line);
	step_done(ins_audit);
	json_decref(j);
	fprintf(acks, "{\"type\":\"ack\",\"status\":\"applied\",\"of\":\"take\","
	    "\"event\":\"%s\"}\n", ev);
}

static void
apply(void)
{
	sqlite3_stmt *begin, *commit;
	char *acks = NULL, *l;
	size_t ackslen = 0;
	FILE *a;
	int n;

	exec("PRAGMA journal_mode=WAL");
	exec("PRAGMA synchronous=FULL");
	begin = prepare("BEGIN");
	commit = prepare("COMMIT");
	ins_event = prepare("INSERT OR IGNORE INTO events(id, type) "
	    "VALUES(?, 'take')");
	get_card = prepare("SELECT user FROM cards WHERE card = ?");
	get_product = prepare("SELECT name, price, currency FROM products "
	    "WHERE sku = ?");
	ins_line = prepare("INSERT INTO lines(owner, sku, name, price, currency,"
	    " ts, robot, slot, event, state, card) "
	    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	ins_audit = prepare("INSERT INTO audit(ts, who, what, event, line, owner,"
	    " price, currency) SELECT ?1, 'admin', 'take', ?2, id, owner, price,"
	    " currency FROM lines WHERE id = ?3");
	for (;;) {
		/* block for the first line, then take what is already waiting */
		if ((l = next_line(1)) == NULL)
			break;
		if ((a = open_memstream(&acks, &ackslen)) == NULL)
			die("out of memory");
		step_done(begin);
		n = 0;
		do
			take(l, a);
		while (++n < BATCH && (l = next_line(0)) != NULL);
		step_done(commit);	/* fsynced: synchronous=FULL */
		fclose(a);
		if (fwrite(acks, 1, ackslen, stdout) != ackslen ||
		    fflush(stdout) != 0)
			die("write: %s", strerror(errno));
		free(acks);
		acks = NULL;
	}
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(ins_event);
	sqlite3_finalize(get_card);
	sqlite3_finalize(get_product);
	sqlite3_finalize(ins_line);
	sqlite3_finalize(ins_audit);
}

int
main(int argc, char *argv[])
{
	if (argc != 3 || (strcmp(argv[1], "import") != 0 &&
	    strcmp(argv[1], "apply") != 0)) {
		fprintf(stderr, "usage: sqlite_peer import | apply DB\n");
		return 2;
	}
	if (sqlite3_open(argv[2], &db) != SQLITE_OK)
		die("%s", argv[2]);
	if (strcmp(argv[1], "import") == 0) {
		exec("PRAGMA journal_mode=WAL");
		import();
	} else
		apply();
	if (sqlite3_close(db) != SQLITE_OK)
		die("close");
	return 0;
}
