/*
 * archive.c: mscart archive: settled history (paid and void lines, the
 * settlements that ended them, the old audit records) written to a
 * gzip'd NDJSON file, then taken out of the ledger, and that file
 * checked against the ledger's record of it (-t).
 *
 * The order is what makes a run safe to kill: the file is written,
 * synced and renamed first; then meta.db gets the unfinished archive
 * ("archive:pending"), and the ledger loses what the file holds in
 * transactions of ARCHIVE_TXN records, each recording how far it got
 * and what the lines it took out counted in mscart report
 * ("archive:report:ID:N"); the last one appends the "archive" audit
 * record.  The next run finishes an unfinished archive from its file
 * before anything else.  What moves is archive_pick.c's, the file
 * archive_file.c's, the deletions archive_ledger.c's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

static int64_t	last_said;

int
archive_say_now(void)
{
	int64_t t = ms_now_ms();

	if (t - last_said < ARCHIVE_PROGRESS_MS)
		return 0;
	last_said = t;
	return 1;
}

static json_t	*archive_record(struct store *, const char *id);

/* ----- taking an archive out of the ledger ----- */

static int
records_per_txn(void)
{
	const char *e = getenv("MSCART_ARCHIVE_TXN");
	long n;

	if (e != NULL && *e != '\0' && ms_parse_long(e, 1, 50000, &n) == 0)
		return (int)n;
	return ARCHIVE_TXN;
}

/*
 * A record of the file as the ledger phase needs it.  An audit record
 * only for its number, without parsing what may be a megabyte of takes
 * (a batch of them would hold hundreds): the file is the one written
 * (its sha256 checked), its audit lines as archive_write() begins them.
 */
static json_t *
file_record(const char *s, size_t n)
{
	static const char audit[] = "{\"type\":\"audit\",\"n\":";
	size_t len = sizeof(audit) - 1;
	char *end;
	long long v;

	if (n > len && memcmp(s, audit, len) == 0 && s[len] >= '0' &&
	    s[len] <= '9') {
		errno = 0;
		v = strtoll(s + len, &end, 10);
		if (errno == 0 && *end == ',')
			return json_pack("{s:s,s:I}", "type", "audit", "n",
			    (json_int_t)v);
	}
	return json_loadb(s, n, 0, NULL);
}

/*
 * Take what the unfinished archive's file holds out of the ledger, from
 * where the last run stopped.  0 done, 1 stopped by a signal, -1 failed
 * (said).
 */
static int
finish(struct store *st, json_t *pending, const struct role *role)
{
	const char *path = str(pending, "file");
	struct archive_del a;
	struct archive_in in;
	json_t *rec;
	char sha[65];
	const char *s;
	size_t n;
	long skip, done = 0, total;
	int per = records_per_txn(), rc = 0, end = 0;

	if (archive_sha(path, sha) == -1)
		return -1;
	if (strcmp(sha, str(pending, "sha256")) != 0) {
		ms_warnx("archive: %s: its sha256 is not that of archive %s "
		    "(%s): put the archive's own file back and run again", path,
		    str(pending, "id"), str(pending, "sha256"));
		return -1;
	}
	if (archive_in_open(&in, path) == -1) {
		archive_in_close(&in, NULL);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.role = *role;
	a.pending = json_incref(pending);
	skip = num(pending, "done");
	total = num(pending, "lines") + num(pending, "settlements") +
	    num(pending, "audit_records");
	archive_in_line(&in, &n);	/* the header */
	for (long i = 0; i < skip && archive_in_line(&in, &n) != NULL; i++)
		done++;
	while (!end && rc == 0) {
		a.recs = json_array();
		while ((long)json_array_size(a.recs) < per) {
			json_t *r;

			if ((s = archive_in_line(&in, &n)) == NULL ||
			    (r = file_record(s, n)) == NULL) {
				end = 1;
				break;
			}
			if (strcmp(str(r, "type") ? str(r, "type") : "", "end") ==
			    0) {
				json_decref(r);
				end = 1;
				break;
			}
			json_array_append_new(a.recs, r);
		}
		if (json_array_size(a.recs) > 0) {
			if ((rc = run_txn(st, archive_del_txn, &a)) == 0) {
				json_decref(a.pending);
				a.pending = a.next;
				a.next = NULL;
				done += (long)json_array_size(a.recs);
				if (archive_say_now())
					ms_warnx("archive: %s: %ld of %ld records "
					    "out of the ledger", str(pending, "id"),
					    done, total);
			}
		}
		json_decref(a.recs);
		a.recs = NULL;
		if (rc == 0 && !end && ms_sig_stop) {
			ms_warnx("archive: stopped; mscart archive finishes %s "
			    "from %s", str(pending, "id"), path);
			archive_in_close(&in, NULL);
			json_decref(a.pending);
			return 1;
		}
	}
	archive_in_close(&in, NULL);
	if (rc == 0 && done != total) {
		ms_warnx("archive: %s: %ld records, the archive says %ld", path,
		    done, total);
		rc = -1;
	}
	if (rc == 0)
		rc = run_txn(st, archive_fin_txn, &a);
	json_decref(a.pending);
	json_decref(a.next);
	if (rc != 0) {
		if (rc != -1)
			ms_warnx("archive: %s", db_strerror(rc));
		return -1;
	}
	/* its record on stdout, as mscart log shows it */
	if ((rec = archive_record(st, str(pending, "id"))) != NULL)
		ms_write_json(stdout, rec, 1);
	json_decref(rec);
	ms_warnx("archive: %s: done; giving the space back", str(pending, "id"));
	archive_compact(st);
	return 0;
}

static int
next_id(struct store *st, DB_TXN *txn, void *arg)
{
	char buf[32];
	int64_t n = 1;
	int rc;

	rc = db_get_str(st->meta, txn, "archive:next", buf, sizeof(buf));
	if (rc == 0)
		n = strtoll(buf, NULL, 10);
	else if (rc != DB_NOTFOUND)
		return rc;
	snprintf((char *)arg, 32, "A%" PRId64, n);
	snprintf(buf, sizeof(buf), "%" PRId64, n + 1);
	return db_put_str(st->meta, txn, "archive:next", buf);
}

static int
put_pending(struct store *st, DB_TXN *txn, void *arg)
{
	return db_put_json(st->meta, txn, ARCHIVE_PENDING, arg);
}

static int
get_pending(struct store *st, json_t **p)
{
	DB_TXN *txn;
	int rc;

	*p = NULL;
	if ((rc = st->env->txn_begin(st->env, NULL, &txn,
	    DB_READ_COMMITTED)) != 0)
		return rc;
	rc = db_get_json(st->meta, txn, ARCHIVE_PENDING, p, 0);
	txn->commit(txn, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/* -b: a duration ago (90d), a UTC time, or the shop's date or time. */
static int
parse_before(const char *s, int64_t *t)
{
	int64_t d;

	if (parse_duration(s, &d) == 0) {
		*t = ms_now_ms() - d;
		return 0;
	}
	if (ms_time_parse(s, t) == 0)
		return 0;
	ms_shoptime_init();
	return ms_shoptime_parse(s, t);
}

/* The file's last record: its counts and audit numbers. */
static json_t *
trailer_of(const struct pick *p, const char *id)
{
	return json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:O}", "type", "end",
	    "id", id, "lines", (int)p->nl, "settlements", (int)p->ns,
	    "audit_records", (int)p->na, "audit_first", (json_int_t)p->afirst,
	    "audit_last", (json_int_t)p->alast, "audit_left", p->left);
}

static int
archive_new(struct store *st, const char *path, int64_t before, int dry,
    const struct role *role)
{
	struct pick p;
	json_t *header, *trailer, *pending;
	char id[32], ts[MS_TIME_LEN], bts[MS_TIME_LEN], sha[65];
	int rc, r;

	memset(&p, 0, sizeof(p));
	p.before = before;
	ms_time_format(before, bts);
	rc = archive_pick(st, &p);
	/* with dry, the lines again: those their settlement does not name */
	while (rc == 0 && dry && (rc = archive_check(st, &p)) == ARCHIVE_AGAIN)
		rc = archive_pick_settle(st, &p);
	if (rc != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		archive_pick_free(&p);
		return MS_EX_TEMPFAIL;
	}
	if (dry) {
		json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:I}", "type",
		    "archive", "before", bts, "lines", (int)p.nl, "settlements",
		    (int)p.ns, "audit_records", (int)p.na, "audit_first",
		    (json_int_t)p.afirst, "audit_last", (json_int_t)p.alast);

		ms_write_json(stdout, o, 0);
		json_decref(o);
		archive_pick_free(&p);
		return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
	}
	if (p.nl + p.ns + p.na == 0) {
		ms_warnx("archive: nothing settled before %s", bts);
		archive_pick_free(&p);
		return MS_EX_OK;
	}
	if ((rc = run_txn(st, next_id, id)) != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		archive_pick_free(&p);
		return MS_EX_TEMPFAIL;
	}
	ms_time_format(ms_now_ms(), ts);
	header = json_pack("{s:s,s:s,s:s,s:s}", "type", "archive", "id", id,
	    "before", bts, "created", ts);
	do {
		ms_warnx("archive: %s: writing %ld lines, %ld settlements, %ld "
		    "audit records to %s", id, p.nl, p.ns, p.na, path);
		trailer = trailer_of(&p, id);
		r = archive_write(st, &p, path, header, trailer, sha);
		json_decref(trailer);
		/* a line stays after all: so do the settlements naming it */
		if (r == ARCHIVE_AGAIN && (rc = archive_pick_settle(st, &p)) !=
		    0) {
			ms_warnx("archive: %s", db_strerror(rc));
			r = -1;
		}
	} while (r == ARCHIVE_AGAIN);
	json_decref(header);
	if (r == -1) {
		archive_pick_free(&p);
		return MS_EX_FAIL;
	}
	pending = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:O,s:i,"
	    "s:[],s:[]}", "id", id, "file", path, "sha256", sha, "before", bts,
	    "lines", (int)p.nl, "settlements", (int)p.ns, "audit_records",
	    (int)p.na, "audit_first", (json_int_t)p.afirst, "audit_last",
	    (json_int_t)p.alast, "audit_left", p.left, "done", 0, "kept",
	    "kept_settlements");
	archive_pick_free(&p);
	if ((rc = run_txn(st, put_pending, pending)) != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		json_decref(pending);
		return MS_EX_TEMPFAIL;
	}
	ms_warnx("archive: %s: %s written (sha256 %s); taking it out of the "
	    "ledger", id, path, sha);
	r = finish(st, pending, role);
	json_decref(pending);
	return r == 0 ? MS_EX_OK : r == 1 ? MS_EX_TEMPFAIL : MS_EX_FAIL;
}

/* The "archive" audit record of archive id, or NULL (said). */
static json_t *
archive_record(struct store *st, const char *id)
{
	char key[64], nbuf[32];
	unsigned char b[8];
	DB_TXN *txn;
	json_t *r = NULL;
	DBT k, d;
	int rc;

	if (st->env->txn_begin(st->env, NULL, &txn, DB_READ_COMMITTED) != 0)
		return NULL;
	snprintf(key, sizeof(key), "archive:%s", id);
	rc = db_get_str(st->meta, txn, key, nbuf, sizeof(nbuf));
	if (rc == 0) {
		ms_be64_put(b, strtoll(nbuf, NULL, 10));
		memset(&k, 0, sizeof(k));
		memset(&d, 0, sizeof(d));
		k.data = b;
		k.size = 8;
		d.flags = DB_DBT_MALLOC;
		if ((rc = st->audit->get(st->audit, txn, &k, &d, 0)) == 0) {
			r = json_loadb(d.data, d.size, 0, NULL);
			free(d.data);
		}
	}
	txn->commit(txn, 0);
	if (rc == DB_NOTFOUND)
		ms_warnx("archive: this ledger has no record of archive %s", id);
	else if (rc != 0)
		ms_warnx("archive: %s", db_strerror(rc));
	return r;
}

#define BAD(...) do { ms_warnx("archive: " __VA_ARGS__); bad++; } while (0)

/* archive -t: the file against the ledger's record of it. */
static int
archive_test(struct store *st, const char *path)
{
	struct archive_in in;
	json_t *head = NULL, *tail = NULL, *rec = NULL, *pending = NULL;
	json_t *gaps = json_array();
	const char *s;
	char sha[65];
	size_t n;
	long nl = 0, ns = 0, na = 0, bad = 0;
	int64_t next = 0;
	json_t *r;

	if (archive_in_open(&in, path) == -1) {
		archive_in_close(&in, NULL);
		return MS_EX_FAIL;
	}
	while ((s = archive_in_line(&in, &n)) != NULL) {
		const char *type;

		if (tail != NULL) {
			BAD("%s:%ld: a record after the end", path, in.lineno);
			break;
		}
		if ((r = json_loadb(s, n, 0, NULL)) == NULL ||
		    (type = str(r, "type")) == NULL) {
			BAD("%s:%ld: not a JSON record", path, in.lineno);
			json_decref(r);
			break;
		}
		if (head == NULL) {
			if (strcmp(type, "archive") != 0 || str(r, "id") == NULL) {
				BAD("%s:1: not an archive header", path);
				json_decref(r);
				break;
			}
			head = r;
			continue;
		}
		if (strcmp(type, "line") == 0)
			nl++;
		else if (strcmp(type, "settlement") == 0)
			ns++;
		else if (strcmp(type, "audit") == 0) {
			json_t *ar = json_object_get(r, "record");
			int64_t an = num(r, "n");

			if (na == 0)
				next = an;
			/* earlier archives' records stay: their numbers are
			 * gaps that the end record lists */
			while (an > next && json_array_size(gaps) < 100000)
				json_array_append_new(gaps, json_integer(next++));
			/* the numbers run on; take records stand for count */
			if (an != next || num(ar, "n") != an)
				BAD("%s:%ld: audit record %" PRId64 " where %" PRId64
				    " was next", path, in.lineno, an, next);
			next = an + (str(ar, "what") && strcmp(str(ar, "what"),
			    "take") == 0 ? num(ar, "count") : 1);
			na++;
		} else if (strcmp(type, "end") == 0)
			tail = json_incref(r);
		else
			BAD("%s:%ld: unknown record type %s", path, in.lineno,
			    type);
		json_decref(r);
		if (bad)
			break;
	}
	if (archive_in_end(&in, path) == -1)
		bad++;
	archive_in_close(&in, sha);
	if (bad == 0 && head == NULL)
		BAD("%s: empty", path);
	if (bad == 0 && tail == NULL)
		BAD("%s: no end record: cut short", path);
	if (bad == 0 && (num(tail, "lines") != nl || num(tail, "settlements") !=
	    ns || num(tail, "audit_records") != na))
		BAD("%s: %ld lines, %ld settlements, %ld audit records, but its "
		    "end says %lld, %lld, %lld", path, nl, ns, na,
		    (long long)num(tail, "lines"),
		    (long long)num(tail, "settlements"),
		    (long long)num(tail, "audit_records"));
	if (bad == 0 && na > 0 && next - 1 != num(tail, "audit_last"))
		BAD("%s: the audit records end at %" PRId64 ", its end says %lld",
		    path, next - 1, (long long)num(tail, "audit_last"));
	if (bad == 0 && !json_equal(gaps, json_object_get(tail, "audit_left")))
		BAD("%s: the audit numbers have gaps that are not archive "
		    "records", path);
	if (bad == 0 && get_pending(st, &pending) == 0 && pending != NULL &&
	    strcmp(str(pending, "id"), str(head, "id")) == 0)
		BAD("%s: archive %s is not finished: run mscart archive", path,
		    str(head, "id"));
	if (bad == 0 && (rec = archive_record(st, str(head, "id"))) == NULL)
		bad++;
	if (bad == 0 && strcmp(str(rec, "sha256"), sha) != 0)
		BAD("%s: sha256 %s, but the ledger recorded %s for %s", path, sha,
		    str(rec, "sha256"), str(head, "id"));
	if (bad == 0 && (num(rec, "lines") != nl || num(rec, "settlements") !=
	    ns || num(rec, "audit_records") != na ||
	    num(rec, "audit_first") != num(tail, "audit_first") ||
	    num(rec, "audit_last") != num(tail, "audit_last")))
		BAD("%s: its counts differ from the ledger's record of %s", path,
		    str(head, "id"));
	if (bad == 0)
		fprintf(stderr, "%s: archive: %s: %s verified: %ld lines (%zu kept "
		    "in the ledger), %ld settlements, audit %lld to %lld, sha256 "
		    "%s\n", ms_prog, path, str(head, "id"), nl,
		    json_array_size(json_object_get(rec, "kept")), ns,
		    (long long)num(rec, "audit_first"),
		    (long long)num(rec, "audit_last"), sha);
	json_decref(head);
	json_decref(tail);
	json_decref(rec);
	json_decref(pending);
	json_decref(gaps);
	return bad ? MS_EX_FAIL : MS_EX_OK;
}

/* An absolute path: the file is named so in the ledger. */
static int
abs_path(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -1;
}

int
cmd_archive(int argc, char **argv)
{
	const char *syn = "archive [-hn] [-d dir] -b time -o file | -t file";
	const char *home = NULL, *out = NULL, *test = NULL, *bs = NULL;
	char path[PATH_MAX];
	struct role role;
	struct store st;
	struct stat sb;
	json_t *pending = NULL;
	int64_t before = 0;
	int ch, dry = 0, rc, ex = MS_EX_OK;

	while ((ch = getopt(argc, argv, "b:d:hno:t:")) != -1) {
		switch (ch) {
		case 'b': bs = optarg; break;
		case 'd': home = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		case 'n': dry = 1; break;
		case 'o': out = optarg; break;
		case 't': test = optarg; break;
		default: return cmd_usage(syn);
		}
	}
	if (optind != argc || (test != NULL) == (out != NULL) ||
	    (test != NULL && (bs != NULL || dry)) ||
	    (out != NULL && bs == NULL))
		return cmd_usage(syn);
	if (bs != NULL && parse_before(bs, &before) == -1) {
		ms_warnx("-b %s: not a duration ago (90d) or a time "
		    "(2026-12-01, 2026-12-01T09:30)", bs);
		return cmd_usage(syn);
	}
	if (out != NULL && abs_path(out, path, sizeof(path)) == -1) {
		ms_warnx("-o %s: path too long", out);
		return MS_EX_USAGE;
	}
	if (store_open(&st, store_ledger(home, 0), 0) != 0)
		return MS_EX_TEMPFAIL;
	if (test != NULL) {
		replica_read_note(&st, "archive");
		ex = archive_test(&st, test);
		store_close(&st);
		return ex;
	}
	if (!dry && replica_refuse_write(&st, "archive")) {
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	role_admin(&role, "archive");
	ms_sig_install(0);
	if ((rc = get_pending(&st, &pending)) != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	/* an archive a killed run left unfinished comes first */
	if (pending != NULL && dry) {
		ms_warnx("archive: %s (%s) is unfinished: a run finishes it first",
		    str(pending, "id"), str(pending, "file"));
	} else if (pending != NULL) {
		ms_warnx("archive: finishing %s from %s", str(pending, "id"),
		    str(pending, "file"));
		rc = finish(&st, pending, &role);
		if (rc != 0)
			ex = rc == 1 ? MS_EX_TEMPFAIL : MS_EX_FAIL;
		else if (strcmp(str(pending, "file"), path) == 0)
			out = NULL;	/* that was this very archive */
	}
	json_decref(pending);
	if (ex == MS_EX_OK && out != NULL) {
		if (!dry && stat(path, &sb) == 0) {
			ms_warnx("archive: %s exists: an archive is never "
			    "written over", path);
			ex = MS_EX_FAIL;
		} else
			ex = archive_new(&st, path, before, dry, &role);
	}
	store_close(&st);
	if (ms_close_stdout() != 0 && ex == MS_EX_OK)
		ex = MS_EX_FAIL;
	return ex;
}
