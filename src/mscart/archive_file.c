/*
 * archive_file.c: an archive's file: gzip'd NDJSON written through a
 * synced temporary file, and read back a line at a time, both with the
 * sha256 of the uncompressed text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"

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

/* A pass of the file's writing over one database. */
struct wr {
	struct pick	*p;
	struct out	*o;		/* NULL: only check the lines */
	long		 nl, ns, na;	/* written */
	long		 total;
	int		 again;		/* a line stays after all */
};

static void
write_step(struct wr *w)
{
	long done = w->nl + w->ns + w->na;

	if (w->o != NULL && done % ARCHIVE_TXN == 0 && archive_say_now())
		ms_warnx("archive: %ld of %ld records written", done, w->total);
}

/*
 * A line that moves, as the ledger has it now, when the settlement that
 * paid it moves too; else it stays, and nothing more is written.
 */
static int
write_line(const DBT *k, const DBT *d, void *arg)
{
	struct wr *w = arg;
	const char *sid;
	int64_t id, n;
	json_t *v, *r;

	if (k->size != 8 || !bits_has(&w->p->lines, id = ms_be64_get(k->data)))
		return 0;
	if ((v = line_decode(d->data, d->size)) == NULL) {
		ms_warnx("corrupt record in lines.db");
		return EINVAL;
	}
	if ((sid = str(v, "settlement")) != NULL &&
	    (archive_sett_num(sid, &n) == -1 || !bits_has(&w->p->setts, n))) {
		bits_del(&w->p->lines, id);
		w->again = 1;
		w->o = NULL;
		json_decref(v);
		return 0;
	}
	w->nl++;
	if (w->o == NULL) {
		json_decref(v);
		return 0;
	}
	r = json_pack("{s:s,s:I,s:o}", "type", "line", "n", (json_int_t)id,
	    "line", v);
	out_json(w->o, r);
	json_decref(r);
	write_step(w);
	return 0;
}

static int
write_settlement(const DBT *k, const DBT *d, void *arg)
{
	struct wr *w = arg;
	json_t *v, *r;
	int64_t n;

	(void)k;
	if ((v = json_loadb(d->data, d->size, 0, NULL)) == NULL ||
	    archive_sett_num(str(v, "settlement"), &n) == -1 ||
	    !bits_has(&w->p->setts, n)) {
		json_decref(v);
		return 0;
	}
	r = json_pack("{s:s,s:o}", "type", "settlement", "settlement", v);
	out_json(w->o, r);
	json_decref(r);
	w->ns++;
	write_step(w);
	return 0;
}

static int
write_audit(const DBT *k, const DBT *d, void *arg)
{
	struct wr *w = arg;
	char head[64];
	int64_t n;
	int old, arch;

	if (k->size != 8)
		return EINVAL;
	if ((n = ms_be64_get(k->data)) > w->p->akey)
		return ARCHIVE_STOP;
	if (archive_audit_head(d, 0, &old, &arch) == -1)
		return EINVAL;
	if (arch)
		return 0;
	/* the record as the ledger holds it, unparsed */
	snprintf(head, sizeof(head), "{\"type\":\"audit\","
	    "\"n\":%" PRId64 ",\"record\":", n);
	out_text(w->o, head, strlen(head));
	out_text(w->o, d->data, d->size);
	out_text(w->o, "}\n", 2);
	w->na++;
	write_step(w);
	return 0;
}

/*
 * The records of the file, from the ledger as it is now: the lines, the
 * settlements, the audit records, each in its database's key order.
 */
static int
write_records(struct store *st, struct pick *p, struct out *o)
{
	struct wr w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.p = p;
	w.o = o;
	w.total = p->nl + p->ns + p->na;
	if ((rc = archive_walk(st, st->lines, NULL, write_line, &w)) != 0)
		return rc;
	if (w.again)
		return ARCHIVE_AGAIN;
	if ((rc = archive_walk(st, st->settlements, NULL, write_settlement,
	    &w)) != 0 || (p->na > 0 && (rc = archive_walk(st, st->audit, NULL,
	    write_audit, &w)) != 0))
		return rc;
	/* only an archive takes records out of the ledger */
	if (w.nl != p->nl || w.ns != p->ns || w.na != p->na) {
		ms_warnx("archive: the ledger changed while it was written: "
		    "%ld lines, %ld settlements, %ld audit records, not %ld, "
		    "%ld, %ld", w.nl, w.ns, w.na, p->nl, p->ns, p->na);
		return -1;
	}
	return 0;
}

int
archive_check(struct store *st, struct pick *p)
{
	struct wr w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.p = p;
	if ((rc = archive_walk(st, st->lines, "lines.db", write_line, &w)) != 0)
		return rc;
	return w.again ? ARCHIVE_AGAIN : 0;
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
 * directory synced); its sha256 in sha.  0, -1 said, or ARCHIVE_AGAIN.
 */
int
archive_write(struct store *st, struct pick *p, const char *path,
    json_t *header, json_t *trailer, char sha[65])
{
	char tmp[PATH_MAX + 8];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	struct out o = { NULL, NULL, 0 };
	int fd, dupfd, rc = -1;

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
	if ((rc = write_records(st, p, &o)) != 0) {
		if (rc != ARCHIVE_AGAIN && rc != -1)
			ms_warnx("archive: reading the ledger: %s",
			    db_strerror(rc));
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
	return rc == ARCHIVE_AGAIN ? ARCHIVE_AGAIN : -1;
}

/* ----- reading a file ----- */

int
archive_in_open(struct archive_in *in, const char *path)
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
 * an error (archive_in_end() tells). */
const char *
archive_in_line(struct archive_in *in, size_t *len)
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
int
archive_in_end(struct archive_in *in, const char *path)
{
	int err;
	const char *msg = gzerror(in->gz, &err);

	if (err != Z_OK && err != Z_STREAM_END) {
		ms_warnx("archive: %s: %s", path, msg);
		return -1;
	}
	return 0;
}

void
archive_in_close(struct archive_in *in, char sha[65])
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
int
archive_sha(const char *path, char sha[65])
{
	struct archive_in in;
	size_t n;
	int rc;

	if (archive_in_open(&in, path) == -1) {
		archive_in_close(&in, NULL);
		return -1;
	}
	while (archive_in_line(&in, &n) != NULL)
		;
	rc = archive_in_end(&in, path);
	archive_in_close(&in, sha);
	return rc;
}
