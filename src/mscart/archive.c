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
 * before anything else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "ledger.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

#define ARCHIVE_TXN	5000	/* records a transaction (MSCART_ARCHIVE_TXN) */
#define ARCHIVE_PENDING	"archive:pending"
#define ARCHIVE_REPORT	"archive:report"	/* the archives' report groups */
#define PROGRESS_MS	2000

static const char *const report_bys[] = {
	"product", "robot", "user", "day", "month", NULL
};

/* A paid or void line old enough, and the settlement that ended it. */
struct cand {
	int64_t	 id;
	char	*sid;
	int	 ok;
};

/* A settlement and those of its lines that are candidates. */
struct sett {
	char	*sid;
	int64_t	*lines;
	size_t	 n;
	int	 ok;
};

struct pick {
	int64_t		 before;
	struct cand	*l;
	size_t		 nl, capl;
	struct sett	*s;
	size_t		 ns, caps;
	int64_t		*audit;		/* keys of the audit records that move */
	size_t		 na, capa;
	json_t		*left;		/* archive records in the range, kept */
	int64_t		 afirst, alast;
	int		 failed;
};

static int64_t	last_said;

static int
say_now(void)
{
	int64_t t = ms_now_ms();

	if (t - last_said < PROGRESS_MS)
		return 0;
	last_said = t;
	return 1;
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;

	if (n < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 1024;
	if ((q = realloc(*p, *cap * size)) == NULL)
		return -1;
	*p = q;
	return 0;
}

/* ----- what moves ----- */

static struct cand *
cand_find(struct pick *p, int64_t id)
{
	size_t lo = 0, hi = p->nl;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->l[mid].id == id)
			return &p->l[mid];
		if (p->l[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct sett *
sett_find(struct pick *p, const char *sid)
{
	size_t lo = 0, hi = p->ns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->s[mid].sid, sid);

		if (c == 0)
			return &p->s[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
older(const char *ts, int64_t before)
{
	int64_t t;

	/* a line from before lines had a time is older than any */
	return ts == NULL || ms_time_parse(ts, &t) != 0 || t < before;
}

static void
pick_line(json_t *l, void *arg)
{
	struct pick *p = arg;
	const char *state = str(l, "state");
	struct cand *c;
	int64_t id;

	if (state == NULL || (strcmp(state, "paid") != 0 &&
	    strcmp(state, "void") != 0) || !older(str(l, "ts"), p->before) ||
	    str(l, "id") == NULL || line_id_parse(str(l, "id"), &id) == -1)
		return;
	if (grow((void **)&p->l, &p->capl, p->nl, sizeof(*p->l)) == -1) {
		p->failed = 1;
		return;
	}
	c = &p->l[p->nl++];
	c->id = id;
	c->sid = str(l, "settlement") ? strdup(str(l, "settlement")) : NULL;
	c->ok = 1;
}

/*
 * Every settlement, with those of its lines that are candidates: one
 * that has not ended (or ended after before) keeps them in the ledger.
 */
static void
pick_settlement(const DBT *k, const DBT *d, void *arg)
{
	static const char *const final[] = { "paid", "closed", "declined",
	    "failed", NULL };
	struct pick *p = arg;
	struct sett *s;
	json_t *j, *v;
	const char *state;
	size_t i;
	int fin = 0;

	(void)k;
	if ((j = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return;
	state = str(j, "state");
	for (const char *const *f = final; state && *f; f++)
		if (strcmp(state, *f) == 0)
			fin = 1;
	if (grow((void **)&p->s, &p->caps, p->ns, sizeof(*p->s)) == -1 ||
	    str(j, "settlement") == NULL) {
		p->failed = 1;
		json_decref(j);
		return;
	}
	s = &p->s[p->ns++];
	memset(s, 0, sizeof(*s));
	s->sid = strdup(str(j, "settlement"));
	s->ok = fin && older(str(j, "updated"), p->before) &&
	    str(j, "updated") != NULL;
	s->lines = calloc(json_array_size(json_object_get(j, "line_ids")) + 1,
	    sizeof(*s->lines));
	if (s->sid == NULL || s->lines == NULL) {
		p->failed = 1;
		json_decref(j);
		return;
	}
	json_array_foreach(json_object_get(j, "line_ids"), i, v) {
		if (cand_find(p, json_integer_value(v)) != NULL)
			s->lines[s->n++] = json_integer_value(v);
		else
			s->ok = 0;	/* a line of it stays */
	}
	json_decref(j);
}

static int
sett_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sett *)a)->sid,
	    ((const struct sett *)b)->sid);
}

/*
 * A line moves when every settlement naming it moves (and the one that
 * paid it); a settlement moves when it ended before and all its lines
 * move.  Repeat until nothing changes.
 */
static void
pick_settle(struct pick *p)
{
	struct cand *c;
	struct sett *s;
	int changed;

	qsort(p->s, p->ns, sizeof(*p->s), sett_cmp);
	do {
		changed = 0;
		for (size_t i = 0; i < p->ns; i++) {
			for (size_t j = 0; j < p->s[i].n; j++) {
				c = cand_find(p, p->s[i].lines[j]);
				if (p->s[i].ok && !c->ok) {
					p->s[i].ok = 0;
					changed = 1;
				}
				if (!p->s[i].ok && c->ok) {
					c->ok = 0;
					changed = 1;
				}
			}
		}
		for (size_t i = 0; i < p->nl; i++) {
			c = &p->l[i];
			if (!c->ok || c->sid == NULL)
				continue;
			if ((s = sett_find(p, c->sid)) == NULL || !s->ok) {
				c->ok = 0;
				changed = 1;
			}
		}
	} while (changed);
}

/* How many entries an audit record stands for (a take record: count). */
static int64_t
audit_count(const char *data, size_t size)
{
	const char *t;
	size_t n = sizeof(AUDIT_TAKES_TAG) - 1;

	for (t = data; t + n < data + size && t < data + 1024; t++)
		if (memcmp(t, AUDIT_TAKES_TAG, n) == 0)
			return strtoll(t + n, NULL, 10);
	return 1;
}

/*
 * The audit records older than before, from the oldest in the ledger
 * to the first that is not: one run of numbers, less the records of
 * earlier archives, which stay (they are what checks their files).
 */
static int
pick_audit(struct store *st, struct pick *p)
{
	DB_TXN *txn;
	DBC *c;
	DBT k, d;
	json_t *r;
	int rc;

	p->afirst = p->alast = 0;
	if ((rc = store_scan_begin(st, st->audit, &txn, &c)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0) {
		int64_t n;
		int old, arch;

		if (k.size != 8 || (r = json_loadb(d.data, d.size, 0, NULL)) ==
		    NULL) {
			rc = EINVAL;
			break;
		}
		n = ms_be64_get(k.data);
		old = older(str(r, "ts"), p->before) && str(r, "ts") != NULL;
		arch = str(r, "what") && strcmp(str(r, "what"), "archive") == 0;
		json_decref(r);
		if (!old)
			break;
		if (arch) {
			if (p->na > 0)
				json_array_append_new(p->left, json_integer(n));
			continue;
		}
		if (grow((void **)&p->audit, &p->capa, p->na,
		    sizeof(*p->audit)) == -1) {
			rc = ENOMEM;
			break;
		}
		if (p->na == 0)
			p->afirst = n;
		p->audit[p->na++] = n;
		p->alast = n + audit_count(d.data, d.size) - 1;
	}
	free(k.data);
	free(d.data);
	c->close(c);
	txn->commit(txn, 0);
	/* archive records after the last that moves are not in the range */
	while (json_array_size(p->left) > 0 && json_integer_value(
	    json_array_get(p->left, json_array_size(p->left) - 1)) > p->alast)
		json_array_remove(p->left, json_array_size(p->left) - 1);
	return rc == DB_NOTFOUND ? 0 : rc;
}

static void
pick_free(struct pick *p)
{
	for (size_t i = 0; i < p->nl; i++)
		free(p->l[i].sid);
	for (size_t i = 0; i < p->ns; i++) {
		free(p->s[i].sid);
		free(p->s[i].lines);
	}
	free(p->l);
	free(p->s);
	free(p->audit);
	json_decref(p->left);
	memset(p, 0, sizeof(*p));
}

static int
pick(struct store *st, struct pick *p, long *nl, long *ns)
{
	int rc;

	p->left = json_array();
	if ((rc = store_lines_scan(st, pick_line, p)) != 0 || p->failed)
		return rc ? rc : ENOMEM;
	if ((rc = store_each(st, st->settlements, NULL, pick_settlement,
	    p)) != 0 || p->failed)
		return rc ? rc : ENOMEM;
	pick_settle(p);
	if ((rc = pick_audit(st, p)) != 0)
		return rc;
	*nl = *ns = 0;
	for (size_t i = 0; i < p->nl; i++)
		*nl += p->l[i].ok;
	for (size_t i = 0; i < p->ns; i++)
		*ns += p->s[i].ok;
	return 0;
}

/* ----- the file ----- */

struct out {
	gzFile		 gz;
	EVP_MD_CTX	*md;
	int		 failed;
};

static void
out_text(struct out *o, const char *s, size_t n)
{
	if (n > 0 && gzwrite(o->gz, s, (unsigned)n) != (int)n)
		o->failed = 1;
	EVP_DigestUpdate(o->md, s, n);
}

static void
out_json(struct out *o, const json_t *v)
{
	char *s;

	if ((s = json_dumps(v, JSON_COMPACT)) == NULL) {
		o->failed = 1;
		return;
	}
	out_text(o, s, strlen(s));
	out_text(o, "\n", 1);
	free(s);
}

static void
hex(const unsigned char *b, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/*
 * After each record written: a new read-committed transaction every
 * ARCHIVE_TXN records, so no scan holds the ledger for long.
 */
static void
write_step(DB_TXN **txn, long *done, long total)
{
	if (++*done % ARCHIVE_TXN != 0)
		return;
	(*txn)->commit(*txn, 0);
	*txn = NULL;
	if (say_now())
		ms_warnx("archive: %ld of %ld records written", *done, total);
}

/* The records of the file, from the ledger as it is now. */
static int
write_records(struct store *st, struct pick *p, struct out *o, long total)
{
	DB_TXN *txn = NULL;
	long done = 0;
	json_t *v, *r;
	int rc = 0;

	for (size_t i = 0; i < p->nl + p->ns + p->na && rc == 0; i++) {
		if (i < p->nl && !p->l[i].ok)
			continue;
		if (i >= p->nl && i < p->nl + p->ns && !p->s[i - p->nl].ok)
			continue;
		if (txn == NULL && (rc = st->env->txn_begin(st->env, NULL,
		    &txn, DB_READ_COMMITTED)) != 0)
			return rc;
		if (i < p->nl) {
			if ((rc = line_get(st, txn, p->l[i].id, &v, 0)) != 0)
				break;
			r = json_pack("{s:s,s:I,s:o}", "type", "line", "n",
			    (json_int_t)p->l[i].id, "line", v);
			out_json(o, r);
			json_decref(r);
		} else if (i < p->nl + p->ns) {
			if ((rc = db_get_json(st->settlements, txn,
			    p->s[i - p->nl].sid, &v, 0)) != 0)
				break;
			r = json_pack("{s:s,s:o}", "type", "settlement",
			    "settlement", v);
			out_json(o, r);
			json_decref(r);
		} else {
			int64_t n = p->audit[i - p->nl - p->ns];
			unsigned char b[8];
			char head[64];
			DBT k, d;

			ms_be64_put(b, n);
			memset(&k, 0, sizeof(k));
			memset(&d, 0, sizeof(d));
			k.data = b;
			k.size = 8;
			d.flags = DB_DBT_MALLOC;
			if ((rc = st->audit->get(st->audit, txn, &k, &d, 0)) != 0)
				break;
			/* the record as the ledger holds it, unparsed */
			snprintf(head, sizeof(head), "{\"type\":\"audit\","
			    "\"n\":%" PRId64 ",\"record\":", n);
			out_text(o, head, strlen(head));
			out_text(o, d.data, d.size);
			out_text(o, "}\n", 2);
			free(d.data);
		}
		write_step(&txn, &done, total);
	}
	if (txn != NULL) {
		if (rc == 0)
			txn->commit(txn, 0);
		else
			txn->abort(txn);
	}
	return rc;
}

/* fsync the directory that holds path, so a rename in it lasts. */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + (slash ==
		    path)), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Write the archive to path (through path.tmp, synced, renamed, the
 * directory synced); its sha256 in sha.  0, or -1 said.
 */
static int
write_file(struct store *st, struct pick *p, const char *path,
    json_t *header, json_t *trailer, long total, char sha[65])
{
	char tmp[PATH_MAX + 8];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	struct out o = { NULL, NULL, 0 };
	int fd, dupfd, rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		ms_warn("archive: %s", tmp);
		return -1;
	}
	if ((dupfd = dup(fd)) == -1 || (o.gz = gzdopen(dupfd, "wb9")) ==
	    NULL || (o.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(o.md, EVP_sha256(), NULL) != 1) {
		ms_warnx("archive: %s: cannot start the file", tmp);
		goto fail;
	}
	out_json(&o, header);
	if ((rc = write_records(st, p, &o, total)) != 0) {
		ms_warnx("archive: reading the ledger: %s", db_strerror(rc));
		goto fail;
	}
	out_json(&o, trailer);
	rc = gzclose(o.gz);
	o.gz = NULL;
	if (o.failed || rc != Z_OK) {
		ms_warnx("archive: %s: write failed", tmp);
		goto fail;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		ms_warn("archive: %s", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1 || sync_dir(path) == -1) {
		ms_warn("archive: %s", path);
		goto fail;
	}
	EVP_DigestFinal_ex(o.md, md, &mdlen);
	EVP_MD_CTX_free(o.md);
	hex(md, mdlen, sha);
	return 0;
fail:
	if (o.gz != NULL)
		gzclose(o.gz);
	if (o.md != NULL)
		EVP_MD_CTX_free(o.md);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

/* ----- reading a file ----- */

struct in {
	gzFile		 gz;
	EVP_MD_CTX	*md;
	char		*buf;
	size_t		 cap;
	long		 lineno;
};

static int
in_open(struct in *in, const char *path)
{
	unsigned char magic[2];
	FILE *f;

	memset(in, 0, sizeof(*in));
	/* zlib reads a file that is not gzip as it is: say so instead */
	if ((f = fopen(path, "rb")) == NULL) {
		ms_warn("archive: %s", path);
		return -1;
	}
	if (fread(magic, 1, 2, f) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
		fclose(f);
		ms_warnx("archive: %s: not a gzip file", path);
		return -1;
	}
	fclose(f);
	if ((in->gz = gzopen(path, "rb")) == NULL ||
	    (in->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1) {
		ms_warnx("archive: %s: cannot read it", path);
		return -1;
	}
	return 0;
}

/* The next line of the file, without its '\n'; NULL at the end or on
 * an error (in_end() tells). */
static const char *
in_line(struct in *in, size_t *len)
{
	size_t n = 0;

	for (;;) {
		if (in->cap - n < 2) {
			size_t cap = in->cap ? in->cap * 2 : 65536;
			char *b = realloc(in->buf, cap);

			if (b == NULL)
				return NULL;
			in->buf = b;
			in->cap = cap;
		}
		if (gzgets(in->gz, in->buf + n, (int)(in->cap - n)) == NULL)
			break;
		n += strlen(in->buf + n);
		if (n > 0 && in->buf[n - 1] == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	EVP_DigestUpdate(in->md, in->buf, n);
	in->lineno++;
	if (in->buf[n - 1] == '\n')
		in->buf[--n] = '\0';
	*len = n;
	return in->buf;
}

/* 0 at a clean end of the gzip stream, else -1 (said). */
static int
in_end(struct in *in, const char *path)
{
	int err;
	const char *msg = gzerror(in->gz, &err);

	if (err != Z_OK && err != Z_STREAM_END) {
		ms_warnx("archive: %s: %s", path, msg);
		return -1;
	}
	return 0;
}

static void
in_close(struct in *in, char sha[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (in->md != NULL && sha != NULL) {
		EVP_DigestFinal_ex(in->md, md, &mdlen);
		hex(md, mdlen, sha);
	}
	if (in->md != NULL)
		EVP_MD_CTX_free(in->md);
	if (in->gz != NULL)
		gzclose(in->gz);
	free(in->buf);
	memset(in, 0, sizeof(*in));
}

/* The sha256 of the uncompressed file; -1 if it cannot be read whole. */
static int
file_sha(const char *path, char sha[65])
{
	struct in in;
	size_t n;
	int rc;

	if (in_open(&in, path) == -1) {
		in_close(&in, NULL);
		return -1;
	}
	while (in_line(&in, &n) != NULL)
		;
	rc = in_end(&in, path);
	in_close(&in, sha);
	return rc;
}

static json_t	*archive_record(struct store *, const char *id);

/* ----- out of the ledger ----- */

struct del_arg {
	json_t		*pending;	/* as committed */
	json_t		*next;		/* as this transaction leaves it */
	json_t		*recs;		/* the batch's records */
	struct role	 role;
	long		 lines;		/* taken out, this batch */
};

static int
kept_has(const json_t *kept, int64_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(kept, i, v)
		if (json_integer_value(v) == id)
			return 1;
	return 0;
}

static int
del_line(struct store *st, DB_TXN *txn, struct del_arg *a, json_t *rec,
    json_t *groups, json_t *span)
{
	int64_t n = num(rec, "n");
	json_t *was = json_object_get(rec, "line"), *cur;
	unsigned char b[8];
	const char *state;
	DBT k, d;
	int rc;

	ms_be64_put(b, n);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = b;
	k.size = 8;
	d.flags = DB_DBT_MALLOC;
	if ((rc = st->lines->get(st->lines, txn, &k, &d, DB_RMW)) ==
	    DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	cur = line_decode(d.data, d.size);
	free(d.data);
	if (cur == NULL)
		return EINVAL;
	state = str(cur, "state");
	/* changed since it was written (a refund, say): it stays */
	if (!json_equal(cur, was) || state == NULL ||
	    (strcmp(state, "paid") != 0 && strcmp(state, "void") != 0)) {
		json_array_append_new(json_object_get(a->next, "kept"),
		    json_integer(n));
		json_decref(cur);
		return 0;
	}
	if ((rc = st->lines->del(st->lines, txn, &k, 0)) == 0 &&
	    str(cur, "owner") != NULL)
		rc = owner_del(st, txn, str(cur, "owner"), n);
	if (rc == 0) {
		const char *ts = str(cur, "ts");

		for (const char *const *by = report_bys; *by; by++)
			report_group_line(*by, json_object_get(groups, *by), cur);
		if (ts != NULL) {
			if (str(span, "min") == NULL || strcmp(ts,
			    str(span, "min")) < 0)
				json_object_set_new(span, "min", json_string(ts));
			if (str(span, "max") == NULL || strcmp(ts,
			    str(span, "max")) > 0)
				json_object_set_new(span, "max", json_string(ts));
		}
		a->lines++;
	}
	json_decref(cur);
	return rc;
}

static int
del_settlement(struct store *st, DB_TXN *txn, struct del_arg *a, json_t *rec)
{
	json_t *was = json_object_get(rec, "settlement"), *cur, *v;
	const char *sid = str(was, "settlement");
	int keep = 0;
	size_t i;
	int rc;

	if (sid == NULL)
		return EINVAL;
	if ((rc = db_get_json(st->settlements, txn, sid, &cur, 1)) ==
	    DB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	keep = !json_equal(cur, was);
	json_array_foreach(json_object_get(cur, "line_ids"), i, v)
		if (kept_has(json_object_get(a->next, "kept"),
		    json_integer_value(v)))
			keep = 1;
	json_decref(cur);
	if (keep) {
		json_array_append_new(json_object_get(a->next,
		    "kept_settlements"), json_string(sid));
		return 0;
	}
	return db_del_str(st->settlements, txn, sid);
}

static int
del_audit(struct store *st, DB_TXN *txn, int64_t n)
{
	unsigned char b[8];
	DBT k;
	int rc;

	ms_be64_put(b, n);
	memset(&k, 0, sizeof(k));
	k.data = b;
	k.size = 8;
	rc = st->audit->del(st->audit, txn, &k, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/* One batch of the file's records out of the ledger. */
static int
del_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct del_arg *a = arg;
	json_t *groups, *span, *rec;
	char key[128];
	size_t i;
	int rc = 0;

	json_decref(a->next);
	a->next = json_deep_copy(a->pending);
	a->lines = 0;
	groups = json_object();
	for (const char *const *by = report_bys; *by; by++)
		json_object_set_new(groups, *by, json_object());
	span = json_object();
	json_array_foreach(a->recs, i, rec) {
		const char *type = str(rec, "type");

		if (strcmp(type, "line") == 0)
			rc = del_line(st, txn, a, rec, groups, span);
		else if (strcmp(type, "settlement") == 0)
			rc = del_settlement(st, txn, a, rec);
		else if (strcmp(type, "audit") == 0)
			rc = del_audit(st, txn, num(rec, "n"));
		if (rc != 0)
			break;
	}
	if (rc == 0 && a->lines > 0) {
		json_object_set_new(groups, "min", json_object_get(span, "min") ?
		    json_incref(json_object_get(span, "min")) : json_null());
		json_object_set_new(groups, "max", json_object_get(span, "max") ?
		    json_incref(json_object_get(span, "max")) : json_null());
		/* after every other "archive:report..." key of this archive */
		snprintf(key, sizeof(key), ARCHIVE_REPORT ":%s:%012" PRId64,
		    str(a->pending, "id"), (int64_t)num(a->pending, "done"));
		rc = db_put_json(st->meta, txn, key, groups);
	}
	json_object_set_new(a->next, "done", json_integer(num(a->pending,
	    "done") + (json_int_t)json_array_size(a->recs)));
	if (rc == 0)
		rc = db_put_json(st->meta, txn, ARCHIVE_PENDING, a->next);
	json_decref(groups);
	json_decref(span);
	return rc;
}

static void
span_merge(json_t *dst, const json_t *src)
{
	const char *a, *b;

	if ((b = str(src, "min")) != NULL && ((a = str(dst, "min")) == NULL ||
	    strcmp(b, a) < 0))
		json_object_set_new(dst, "min", json_string(b));
	if ((b = str(src, "max")) != NULL && ((a = str(dst, "max")) == NULL ||
	    strcmp(b, a) > 0))
		json_object_set_new(dst, "max", json_string(b));
}

/*
 * The last transaction: the batches' report groups into the archives'
 * own, the unfinished archive gone and its audit record written.
 */
static int
fin_txn(struct store *st, DB_TXN *txn, void *arg)
{
	struct del_arg *a = arg;
	json_t *p = a->pending, *all, *part, *det;
	char prefix[128], nbuf[32];
	DBC *c;
	DBT k, d;
	int64_t n;
	int rc;

	if ((rc = store_counters_load(st, txn)) != 0)
		return rc;
	rc = db_get_json(st->meta, txn, ARCHIVE_REPORT, &all, 1);
	if (rc == DB_NOTFOUND) {
		all = json_object();
		for (const char *const *by = report_bys; *by; by++)
			json_object_set_new(all, *by, json_object());
	} else if (rc != 0)
		return rc;
	snprintf(prefix, sizeof(prefix), ARCHIVE_REPORT ":%s:", str(p, "id"));
	if ((rc = st->meta->cursor(st->meta, txn, &c, 0)) != 0) {
		json_decref(all);
		return rc;
	}
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = prefix;
	k.size = (u_int32_t)strlen(prefix);
	k.flags = DB_DBT_MALLOC;
	d.flags = DB_DBT_MALLOC;
	for (rc = c->get(c, &k, &d, DB_SET_RANGE | DB_RMW); rc == 0;
	    rc = c->get(c, &k, &d, DB_NEXT | DB_RMW)) {
		int ours = k.size >= strlen(prefix) &&
		    memcmp(k.data, prefix, strlen(prefix)) == 0;

		part = ours ? json_loadb(d.data, d.size, 0, NULL) : NULL;
		free(k.data);
		free(d.data);
		if (!ours)
			break;
		if (part == NULL) {
			rc = EINVAL;
			break;
		}
		for (const char *const *by = report_bys; *by; by++)
			report_merge(json_object_get(all, *by),
			    json_object_get(part, *by));
		span_merge(all, part);
		json_decref(part);
		if ((rc = c->del(c, 0)) != 0)
			break;
	}
	c->close(c);
	if (rc != 0 && rc != DB_NOTFOUND) {
		json_decref(all);
		return rc;
	}
	rc = db_put_json(st->meta, txn, ARCHIVE_REPORT, all);
	json_decref(all);
	if (rc != 0)
		return rc;
	n = st->next_audit;
	det = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}",
	    "archive", json_object_get(p, "id"),
	    "file", json_object_get(p, "file"),
	    "sha256", json_object_get(p, "sha256"),
	    "before", json_object_get(p, "before"),
	    "lines", json_object_get(p, "lines"),
	    "settlements", json_object_get(p, "settlements"),
	    "audit_records", json_object_get(p, "audit_records"),
	    "audit_first", json_object_get(p, "audit_first"),
	    "audit_last", json_object_get(p, "audit_last"),
	    "audit_left", json_object_get(p, "audit_left"),
	    "kept", json_object_get(p, "kept"),
	    "kept_settlements", json_object_get(p, "kept_settlements"));
	if ((rc = audit_add(st, txn, a->role.who, "archive", det)) != 0)
		return rc;
	snprintf(nbuf, sizeof(nbuf), "%" PRId64, n);
	snprintf(prefix, sizeof(prefix), "archive:%s", str(p, "id"));
	if ((rc = db_put_str(st->meta, txn, prefix, nbuf)) != 0)
		return rc;
	return db_del_str(st->meta, txn, ARCHIVE_PENDING);
}

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
 * Give the pages the archive freed back to the file system: every
 * database, those that lost records and those whose pages other changes
 * left part empty (users rewritten, open settlements ended).
 */
static void
compact(struct store *st)
{
	DB *dbs[] = { st->lines, st->open_lines, st->owners, st->settlements,
	    st->audit, st->meta, st->opens, st->users, st->cards,
	    st->products, st->events, st->stock };
	DB_COMPACT cd;
	unsigned long pages = 0;
	const char *name;
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if (dbs[i]->get_dbname(dbs[i], &name, NULL) != 0)
			name = "?";
		if (say_now())
			ms_warnx("archive: compacting %s", name);
		/*
		 * No transaction: Berkeley DB uses short ones of its own.  The
		 * pages a pass empties stay where they are, on the free list;
		 * the next pass moves them to the end and truncates them.
		 */
		for (int pass = 0; pass < 4; pass++) {
			memset(&cd, 0, sizeof(cd));
			if ((rc = dbs[i]->compact(dbs[i], NULL, NULL, NULL, &cd,
			    DB_FREE_SPACE, NULL)) != 0) {
				ms_warnx("archive: compacting %s: %s", name,
				    db_strerror(rc));
				break;
			}
			pages += cd.compact_pages_truncated;
			if (cd.compact_pages_free == 0)
				break;
		}
	}
	st->env->txn_checkpoint(st->env, 0, 0, DB_FORCE);
	ms_warnx("archive: %lu pages back to the file system", pages);
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
	struct del_arg a;
	struct in in;
	json_t *rec;
	char sha[65];
	const char *s;
	size_t n;
	long skip, done = 0, total;
	int per = records_per_txn(), rc = 0, end = 0;

	if (file_sha(path, sha) == -1)
		return -1;
	if (strcmp(sha, str(pending, "sha256")) != 0) {
		ms_warnx("archive: %s: its sha256 is not that of archive %s "
		    "(%s): put the archive's own file back and run again", path,
		    str(pending, "id"), str(pending, "sha256"));
		return -1;
	}
	if (in_open(&in, path) == -1) {
		in_close(&in, NULL);
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.role = *role;
	a.pending = json_incref(pending);
	skip = num(pending, "done");
	total = num(pending, "lines") + num(pending, "settlements") +
	    num(pending, "audit_records");
	in_line(&in, &n);	/* the header */
	for (long i = 0; i < skip && in_line(&in, &n) != NULL; i++)
		done++;
	while (!end && rc == 0) {
		a.recs = json_array();
		while ((long)json_array_size(a.recs) < per) {
			json_t *r;

			if ((s = in_line(&in, &n)) == NULL ||
			    (r = json_loadb(s, n, 0, NULL)) == NULL) {
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
			if ((rc = run_txn(st, del_txn, &a)) == 0) {
				json_decref(a.pending);
				a.pending = a.next;
				a.next = NULL;
				done += (long)json_array_size(a.recs);
				if (say_now())
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
			in_close(&in, NULL);
			json_decref(a.pending);
			return 1;
		}
	}
	in_close(&in, NULL);
	if (rc == 0 && done != total) {
		ms_warnx("archive: %s: %ld records, the archive says %ld", path,
		    done, total);
		rc = -1;
	}
	if (rc == 0)
		rc = run_txn(st, fin_txn, &a);
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
	compact(st);
	return 0;
}

/* ----- mscart archive ----- */

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

static int
archive_new(struct store *st, const char *path, int64_t before, int dry,
    const struct role *role)
{
	struct pick p;
	json_t *header, *trailer, *pending;
	char id[32], ts[MS_TIME_LEN], bts[MS_TIME_LEN], sha[65];
	long nl, ns, total;
	int rc, r;

	memset(&p, 0, sizeof(p));
	p.before = before;
	ms_time_format(before, bts);
	if ((rc = pick(st, &p, &nl, &ns)) != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		pick_free(&p);
		return MS_EX_TEMPFAIL;
	}
	if (dry) {
		json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:I}", "type",
		    "archive", "before", bts, "lines", (int)nl, "settlements",
		    (int)ns, "audit_records", (int)p.na, "audit_first",
		    (json_int_t)p.afirst, "audit_last", (json_int_t)p.alast);

		ms_write_json(stdout, o, 0);
		json_decref(o);
		pick_free(&p);
		return ms_close_stdout() == 0 ? MS_EX_OK : MS_EX_FAIL;
	}
	if (nl + ns + (long)p.na == 0) {
		ms_warnx("archive: nothing settled before %s", bts);
		pick_free(&p);
		return MS_EX_OK;
	}
	if ((rc = run_txn(st, next_id, id)) != 0) {
		ms_warnx("archive: %s", db_strerror(rc));
		pick_free(&p);
		return MS_EX_TEMPFAIL;
	}
	ms_time_format(ms_now_ms(), ts);
	total = nl + ns + (long)p.na;
	ms_warnx("archive: %s: writing %ld lines, %ld settlements, %zu audit "
	    "records to %s", id, nl, ns, p.na, path);
	header = json_pack("{s:s,s:s,s:s,s:s}", "type", "archive", "id", id,
	    "before", bts, "created", ts);
	trailer = json_pack("{s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:O}", "type", "end",
	    "id", id, "lines", (int)nl, "settlements", (int)ns,
	    "audit_records", (int)p.na, "audit_first", (json_int_t)p.afirst,
	    "audit_last", (json_int_t)p.alast, "audit_left", p.left);
	r = write_file(st, &p, path, header, trailer, total, sha);
	json_decref(header);
	if (r == -1) {
		json_decref(trailer);
		pick_free(&p);
		return MS_EX_FAIL;
	}
	pending = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:O,s:i,"
	    "s:[],s:[]}", "id", id, "file", path, "sha256", sha, "before", bts,
	    "lines", (int)nl, "settlements", (int)ns, "audit_records",
	    (int)p.na, "audit_first", (json_int_t)p.afirst, "audit_last",
	    (json_int_t)p.alast, "audit_left", p.left, "done", 0, "kept",
	    "kept_settlements");
	json_decref(trailer);
	pick_free(&p);
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
	struct in in;
	json_t *head = NULL, *tail = NULL, *rec = NULL, *pending = NULL;
	json_t *gaps = json_array();
	const char *s;
	char sha[65];
	size_t n;
	long nl = 0, ns = 0, na = 0, bad = 0;
	int64_t next = 0;
	json_t *r;

	if (in_open(&in, path) == -1) {
		in_close(&in, NULL);
		return MS_EX_FAIL;
	}
	while ((s = in_line(&in, &n)) != NULL) {
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
	if (in_end(&in, path) == -1)
		bad++;
	in_close(&in, sha);
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

/* ----- what mscart report adds ----- */

static int
in_range(const char *ts, int64_t from, int64_t to)
{
	int64_t t;

	if (ts == NULL || ms_time_parse(ts, &t) != 0)
		return 0;
	return (from == INT64_MIN || t >= from) && (to == INT64_MAX || t < to);
}

int
archive_report_add(struct store *st, const char *by, int64_t from,
    int64_t to, json_t *groups)
{
	DB_TXN *txn;
	DBC *c;
	DBT k, d;
	json_t *part;
	size_t plen = strlen(ARCHIVE_REPORT);
	int rc, cut = 0;

	if ((rc = store_scan_begin(st, st->meta, &txn, &c)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)ARCHIVE_REPORT;
	k.size = (u_int32_t)plen;
	k.flags = DB_DBT_MALLOC;
	d.flags = DB_DBT_MALLOC;
	/* the archives' groups, then those of an unfinished one's batches */
	for (rc = c->get(c, &k, &d, DB_SET_RANGE); rc == 0;
	    rc = c->get(c, &k, &d, DB_NEXT)) {
		int ours = k.size >= plen && memcmp(k.data, ARCHIVE_REPORT,
		    plen) == 0;
		int lo, hi;

		part = ours ? json_loadb(d.data, d.size, 0, NULL) : NULL;
		free(k.data);
		free(d.data);
		if (!ours)
			break;
		if (part == NULL) {
			rc = EINVAL;
			break;
		}
		/* counted whole, or not at all */
		lo = in_range(str(part, "min"), from, to);
		hi = in_range(str(part, "max"), from, to);
		if ((from == INT64_MIN && to == INT64_MAX) || (lo && hi))
			report_merge(groups, json_object_get(part, by));
		else if (str(part, "min") != NULL && (lo || hi ||
		    (from != INT64_MIN && to != INT64_MAX &&
		    in_range(str(part, "min"), INT64_MIN, from) &&
		    !in_range(str(part, "max"), INT64_MIN, to))))
			cut = 1;
		json_decref(part);
	}
	c->close(c);
	txn->commit(txn, 0);
	if (cut)
		ms_warnx("report: the period cuts into archived lines: those "
		    "are left out (mscart archive)");
	return rc == DB_NOTFOUND ? 0 : rc;
}
