/* libms_test: unit tests for libms, printing TAP. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
	if (!cond)
		failed++;
}

static void
is_str(const char *got, const char *want, const char *desc)
{
	ok(got && strcmp(got, want) == 0, desc);
	if (!(got && strcmp(got, want) == 0))
		printf("# got \"%s\", want \"%s\"\n", got ? got : "(null)", want);
}

static void
test_quote(void)
{
	char buf[32];

	ok(ms_json_quote(buf, sizeof(buf), "a\"b\\c\x01") == 15 &&
	    strcmp(buf, "\"a\\\"b\\\\c\\u0001\"") == 0, "quote: escapes");
	is_str(buf, "\"a\\\"b\\\\c\\u0001\"", "quote: the text");
	ok(ms_json_quote(buf, 3, "") == 2 && strcmp(buf, "\"\"") == 0,
	    "quote: empty string in 3 bytes");
	ok(ms_json_quote(buf, 8, "abcdefgh") == -1, "quote: too long is -1");
}

static void
test_time(void)
{
	char buf[MS_TIME_LEN];
	int64_t ms;

	ms_time_format(0, buf);
	is_str(buf, "1970-01-01T00:00:00.000Z", "time: epoch");
	ok(ms_time_parse("2026-11-28T11:00:00.123Z", &ms) == 0, "time: parse");
	ms_time_format(ms, buf);
	is_str(buf, "2026-11-28T11:00:00.123Z", "time: round trip");
	ok(ms_time_parse("2024-02-29T23:59:59.999999999Z", &ms) == 0, "time: leap day, 9 digits");
	ms_time_format(ms, buf);
	is_str(buf, "2024-02-29T23:59:59.999Z", "time: fraction truncated to ms");
	ok(ms_time_parse("2023-02-29T00:00:00Z", &ms) == -1, "time: no Feb 29 in 2023");
	ok(ms_time_parse("2026-11-28T11:00:00+09:00", &ms) == -1, "time: offsets refused");
	ok(ms_time_parse("2026-11-28 11:00:00Z", &ms) == -1, "time: space refused");
	ok(ms_time_parse("2026-13-01T00:00:00Z", &ms) == -1, "time: month 13 refused");
	ok(ms_time_parse("2026-11-28T11:00:00.Z", &ms) == -1, "time: empty fraction refused");
	ok(ms_time_parse("2026-11-28T11:00:00Zjunk", &ms) == -1, "time: trailing junk refused");
	ms = ms_now_ms();
	ok(ms > INT64_C(1700000000000), "time: now is after 2023");
}

static void
test_money(void)
{
	int64_t r = 7;
	char buf[64];

	ok(ms_money_add(100, 50, &r) == 0 && r == 150, "money: add");
	ok(ms_money_add(MS_AMOUNT_MAX, 1, &r) == -1 && r == 150, "money: add past max refused, result untouched");
	ok(ms_money_add(INT64_MAX, INT64_MAX, &r) == -1, "money: int64 overflow refused");
	ok(ms_money_mul(MS_AMOUNT_MAX, 2, &r) == -1, "money: mul overflow refused");
	ok(ms_money_mul(150, 3, &r) == 0 && r == 450, "money: mul");
	ok(ms_money_sub(100, 150, &r) == 0 && r == -50, "money: sub may go negative");
	ok(ms_currency_exponent("JPY") == 0, "money: JPY exponent 0");
	ok(ms_currency_exponent("USD") == 2, "money: USD exponent 2");
	ok(ms_currency_exponent("EUR") == 2, "money: EUR exponent 2");
	ok(ms_currency_exponent("BHD") == 3, "money: BHD exponent 3");
	ok(ms_currency_exponent("XYZ") == -1, "money: unknown code");
	ok(ms_currency_exponent("jpy") == -1, "money: lower case refused");
	ms_money_format(123450, "USD", buf, sizeof(buf));
	is_str(buf, "1,234.50 USD", "money: format USD");
	ms_money_format(1500, "JPY", buf, sizeof(buf));
	is_str(buf, "1,500 JPY", "money: format JPY");
	ms_money_format(-5, "USD", buf, sizeof(buf));
	is_str(buf, "-0.05 USD", "money: format negative");
	ms_money_format(7, "BHD", buf, sizeof(buf));
	is_str(buf, "0.007 BHD", "money: format BHD");
}

static void
test_card(void)
{
	char buf[128], err[128];
	const uint8_t uid7[] = { 0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6 };
	const uint8_t idm[] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF };

	ok(ms_card_make(buf, sizeof(buf), "iso14443a", uid7, 7) == 0, "card: make 7-byte UID");
	is_str(buf, "iso14443a:04A1B2C3D4E5F6", "card: token text");
	ok(ms_card_make(buf, sizeof(buf), "felica", idm, 8) == 0, "card: make FeliCa IDm");
	is_str(buf, "felica:0123456789ABCDEF", "card: FeliCa token");
	ok(ms_card_make(buf, sizeof(buf), "iso14443a", uid7, 5) == -1, "card: 5-byte UID refused");
	ok(ms_card_valid("iso14443a:04a1b2c3", err, sizeof(err)) == -1, "card: lower-case hex refused");
	ok(ms_card_valid("line:EMP-00042", err, sizeof(err)) == 0, "card: line token");
	ok(ms_card_valid("line:", err, sizeof(err)) == -1, "card: empty line token refused");
	ok(ms_card_valid("nfc:0102", err, sizeof(err)) == -1, "card: unknown tech refused");
	is_str(err, "unknown card technology \"nfc\"", "card: unknown tech message");
	/* RFC 4231 test case 2: key "Jefe" */
	ms_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, buf);
	is_str(buf, "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843",
	    "card: HMAC-SHA256 matches RFC 4231 case 2");
	ok(ms_card_hmac(buf, sizeof(buf), (const uint8_t *)"k", 1, "felica:0123456789ABCDEF") == 0 &&
	    ms_card_valid(buf, NULL, 0) == 0 && strncmp(buf, "hmac:", 5) == 0,
	    "card: keyed token is a valid hmac token");
}

static void
test_secret(void)
{
	char path[] = "/tmp/ms-secret-XXXXXX", err[256], *s = NULL;
	size_t len = 0;
	int fd = mkstemp(path);

	ok(fd >= 0 && write(fd, "sk_test_1\n", 10) == 10, "secret: temp file");
	close(fd);
	chmod(path, 0600);
	ok(ms_read_secret(path, &s, &len, err, sizeof(err)) == 0 && len == 9 &&
	    strcmp(s, "sk_test_1") == 0, "secret: 0600 file read, newline stripped");
	free(s);
	chmod(path, 0640);
	ok(ms_read_secret(path, &s, &len, err, sizeof(err)) == -1 &&
	    strstr(err, "readable by group or others") != NULL,
	    "secret: group-readable file refused");
	unlink(path);
}

static int
reader_on(const char *data, size_t len, struct ms_reader *r)
{
	char path[] = "/tmp/ms-reader-XXXXXX";
	int fd = mkstemp(path);

	if (fd == -1)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	ms_reader_init(r, fd, "t");
	return 0;
}

static void
test_reader(void)
{
	struct ms_reader r;
	char err[256], *big;
	json_t *j;
	size_t biglen = 70000;

	{ const char *d = "{\"a\":1}\r\n\n[1]\n{\"a\":1,\"a\":2}\n{\"b\":2}"; reader_on(d, strlen(d), &r); }
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_LINE &&
	    json_integer_value(json_object_get(j, "a")) == 1 && r.lineno == 1,
	    "reader: object, CRLF tolerated");
	json_decref(j);
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_BAD &&
	    r.lineno == 2 && strcmp(err, "empty line") == 0, "reader: empty line refused");
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_BAD &&
	    strcmp(err, "expected a JSON object, got an array") == 0, "reader: array refused");
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_BAD &&
	    strstr(err, "duplicate") != NULL, "reader: duplicate key refused");
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_LINE && r.lineno == 5,
	    "reader: last line without newline");
	json_decref(j);
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_EOF, "reader: EOF");
	close(r.fd);
	ms_reader_free(&r);

	big = malloc(biglen + 32);
	memset(big, ' ', biglen);
	memcpy(big, "{\"x\":\"", 6);
	memcpy(big + biglen, "\"}\n{\"ok\":true}\n", 15);
	reader_on(big, biglen + 15, &r);
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_BAD &&
	    strcmp(err, "line longer than 65536 bytes") == 0 && r.lineno == 1,
	    "reader: oversized line refused whole");
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_LINE &&
	    json_is_true(json_object_get(j, "ok")) && r.lineno == 2,
	    "reader: the line after it is read intact");
	json_decref(j);
	close(r.fd);
	ms_reader_free(&r);
	free(big);

	reader_on("{\"s\":\"\xff\"}\n", 10, &r);
	ok(ms_reader_next(&r, 0, &j, err, sizeof(err)) == MS_READ_BAD &&
	    strstr(err, "UTF-8") != NULL, "reader: invalid UTF-8 refused");
	close(r.fd);
	ms_reader_free(&r);
}

static void
test_nonblock(void)
{
	struct ms_reader r;
	char err[256];
	int p[2];

	if (pipe(p) == -1)
		return;
	ms_reader_init(&r, p[0], "t");
	ok(ms_reader_line(&r, 1, err, sizeof(err)) == MS_READ_AGAIN && !ms_reader_ready(&r),
	    "nonblock: nothing yet");
	ok(write(p[1], "{\"a\"", 4) == 4, "nonblock: half a line written");
	ok(ms_reader_line(&r, 1, err, sizeof(err)) == MS_READ_AGAIN, "nonblock: half a line is not a line");
	ok(write(p[1], ":1}\n", 4) == 4, "nonblock: rest written");
	ok(ms_reader_line(&r, 1, err, sizeof(err)) == MS_READ_LINE && strcmp(r.line, "{\"a\":1}") == 0,
	    "nonblock: whole line returned");
	close(p[1]);
	ok(ms_reader_line(&r, 1, err, sizeof(err)) == MS_READ_EOF, "nonblock: EOF");
	close(p[0]);
	ms_reader_free(&r);
}

static void
test_writer(void)
{
	int p[2];
	FILE *fp;
	json_t *j = json_pack("{s:s,s:i}", "type", "ack", "n", 1);

	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	if (pipe(p) == -1)
		return;
	close(p[0]);
	fp = fdopen(p[1], "w");
	dup2(devnull, 2);	/* the "write: Broken pipe" it must say */
	ok(ms_write_json(fp, j, 1) == -1 && ms_write_failed(), "writer: EPIPE is an error and sticks");
	dup2(saved, 2);
	close(saved);
	close(devnull);
	fclose(fp);
	json_decref(j);
}

/* ms_event_id: "robot:seq", formatted by hand (the hot path of a take). */
static void
test_event_id(void)
{
	char buf[32];
	json_t *o;

	o = json_pack("{s:s,s:i}", "robot", "r1", "seq", 42);
	ok(ms_event_id(o, buf, sizeof(buf)) == 0 && strcmp(buf, "r1:42") == 0,
	    "event id: r1:42");
	ok(ms_event_id(o, buf, 6) == 0 && strcmp(buf, "r1:42") == 0,
	    "event id: a buffer just long enough");
	ok(ms_event_id(o, buf, 5) == -1, "event id: one byte short is -1");
	json_decref(o);
	o = json_pack("{s:s,s:I}", "robot", "robot-7", "seq",
	    (json_int_t)9223372036854775807LL);
	ok(ms_event_id(o, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "robot-7:9223372036854775807") == 0,
	    "event id: the largest seq");
	json_decref(o);
	o = json_pack("{s:s,s:I}", "robot", "r", "seq",
	    (json_int_t)(-9223372036854775807LL - 1));
	ok(ms_event_id(o, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "r:-9223372036854775808") == 0,
	    "event id: the smallest seq, as written");
	json_decref(o);
	o = json_pack("{s:s,s:i}", "robot", "r1", "seq", 0);
	ok(ms_event_id(o, buf, sizeof(buf)) == 0 && strcmp(buf, "r1:0") == 0,
	    "event id: seq 0");
	json_decref(o);
	o = json_pack("{s:s,s:s}", "robot", "r1", "seq", "42");
	ok(ms_event_id(o, buf, sizeof(buf)) == -1, "event id: a string seq is -1");
	json_decref(o);
	o = json_pack("{s:i}", "seq", 1);
	ok(ms_event_id(o, buf, sizeof(buf)) == -1, "event id: no robot is -1");
	json_decref(o);
}

static void
test_misc(void)
{
	long v;
	int64_t ms;

	ok(ms_parse_long("42", 0, 100, &v) == 0 && v == 42, "parse_long: 42");
	ok(ms_parse_long("42x", 0, 100, &v) == -1, "parse_long: trailing junk refused");
	ok(ms_parse_long("101", 0, 100, &v) == -1, "parse_long: range");
	ok(ms_parse_seconds("2", &ms) == 0 && ms == 2000, "parse_seconds: 2");
	ok(ms_parse_seconds("0.25", &ms) == 0 && ms == 250, "parse_seconds: 0.25");
	ok(ms_parse_seconds("-1", &ms) == -1, "parse_seconds: negative refused");
	ok(ms_id_valid("r7") && ms_id_valid("cola-350") && !ms_id_valid("-x") &&
	    !ms_id_valid("a b") && !ms_id_valid(""), "id: rules");
}

int
main(void)
{
	ms_setprog("libms_test");
	ms_sig_install(0);
	test_time();
	test_quote();
	test_money();
	test_card();
	test_secret();
	test_reader();
	test_nonblock();
	test_misc();
	test_event_id();
	test_writer();	/* last: it leaves the sticky write error set */
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
