/*
 * ledger.c: the payroll-deduction file.  A CSV file with a header line;
 * one record per settlement, appended and fsynced before mspay says
 * "succeeded".  The idempotency key is the record's identity: a key
 * already in the file is answered from the file, never appended again.
 *
 * A crash can leave a last record without its newline.  It was never
 * acknowledged (the fsync had not returned), so the next open cuts it
 * off and the rerun appends it whole.
 *
 * Offices keep one file a month, so a settlement whose answer was lost in
 * November must not be deducted again in December's file.  A journal
 * beside the files (mspay-ledger.journal in the file's directory, or
 * --journal) holds every record ever written, whatever the file:
 *
 *	I<TAB>key<TAB>settlement<TAB>amount<TAB>currency<TAB>file<TAB>row
 *	D<TAB>key
 *
 * "I" (intent) is written and fsynced before the record goes into its
 * file, "D" (done) after the file's fsync.  A key or settlement found in
 * the journal for another file is answered from it, never written again;
 * an intent without its "D" is checked against its file (the crash came
 * between the two), and written anew only when that file lacks it.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms.h"
#include "mspay.h"

static const char header[] =
    "settlement,key,user,customer,amount,currency,description,ts\n";

struct entry {
	char		*key;		/* the table's key (see struct table) */
	char		*settlement;
	char		*currency;
	int64_t		 amount;
	unsigned long	 row;
	char		*file;		/* journal: the file it went to */
	int		 done;		/* journal: its "D" line was seen */
};

/* Open addressing on a string: the idempotency key, or the settlement. */
struct table {
	struct entry	*tab;
	size_t		 cap, n;
};

struct ledger {
	int		 fd;
	const char	*path;
	char		*real;		/* its absolute path, for the journal */
	unsigned long	 rows;		/* records in the file and staged */
	struct table	 keys;		/* this file's records */
	char		*pending;	/* staged records, not yet written */
	size_t		 plen, pcap;
	int		 oom;		/* staging ran out of memory */
	int		 jfd;		/* the journal */
	char		*jpath;
	struct table	 jkeys;		/* every record ever written, by key */
	struct table	 jsetts;	/* the same by settlement (->settlement
					   holds the key) */
	struct ms_buf	 intents, dones;/* staged journal lines */
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct entry *
lookup(struct table *t, const char *key)
{
	size_t i;

	for (i = hash_str(key) & (t->cap - 1); t->tab[i].key != NULL;
	    i = (i + 1) & (t->cap - 1))
		if (strcmp(t->tab[i].key, key) == 0)
			return &t->tab[i];
	return &t->tab[i];
}

static int
grow(struct table *t)
{
	struct entry *old = t->tab, *e;
	size_t oldcap = t->cap;

	t->cap = oldcap ? oldcap * 2 : 1024;
	if ((t->tab = calloc(t->cap, sizeof(*t->tab))) == NULL) {
		t->tab = old;
		t->cap = oldcap;
		return -1;
	}
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		e = lookup(t, old[i].key);
		*e = old[i];
	}
	free(old);
	return 0;
}

/* Add an entry unless name is there (the first one wins); it or NULL. */
static struct entry *
remember(struct table *t, const char *name, const char *settlement,
    const char *currency, int64_t amount, unsigned long row, const char *file)
{
	struct entry *e;

	if (t->cap == 0 || ((t->n + 1) * 2 > t->cap && grow(t) == -1))
		return NULL;
	e = lookup(t, name);
	if (e->key != NULL)
		return e;
	e->key = strdup(name);
	e->settlement = strdup(settlement);
	e->currency = strdup(currency);
	e->file = file ? strdup(file) : NULL;
	if (e->key == NULL || e->settlement == NULL || e->currency == NULL ||
	    (file != NULL && e->file == NULL))
		return NULL;
	e->amount = amount;
	e->row = row;
	t->n++;
	return e;
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->tab[i].key);
		free(t->tab[i].settlement);
		free(t->tab[i].currency);
		free(t->tab[i].file);
	}
	free(t->tab);
	memset(t, 0, sizeof(*t));
}

/* Split one CSV record (no embedded newlines) into at most nf fields. */
static int
csv_split(char *s, char **f, int nf)
{
	int n = 0;
	char *w;

	for (;;) {
		if (n == nf)
			return -1;
		if (*s == '"') {
			f[n++] = w = ++s;
			for (;;) {
				if (*s == '\0')
					return -1;
				if (*s == '"' && s[1] == '"') {
					*w++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else
					*w++ = *s++;
			}
			if (*s != ',' && *s != '\0')
				return -1;
			*w = '\0';
		} else {
			f[n++] = s;
			s += strcspn(s, ",");
		}
		if (*s == '\0')
			return n;
		*s++ = '\0';
	}
}

static int
pend(struct ledger *l, const char *s, size_t n)
{
	char *np;
	size_t want;

	if (l->plen + n > l->pcap) {
		want = l->pcap ? l->pcap : 4096;
		while (want < l->plen + n)
			want *= 2;
		if ((np = realloc(l->pending, want)) == NULL) {
			l->oom = 1;
			return -1;
		}
		l->pending = np;
		l->pcap = want;
	}
	memcpy(l->pending + l->plen, s, n);
	l->plen += n;
	return 0;
}

/* Quoted always: keys and descriptions may hold commas and quotes. */
static void
csv_field(struct ledger *l, const char *v, int last)
{
	const char *q;

	pend(l, "\"", 1);
	while ((q = strchr(v, '"')) != NULL) {
		pend(l, v, (size_t)(q - v) + 1);
		pend(l, "\"", 1);
		v = q + 1;
	}
	pend(l, v, strlen(v));
	pend(l, last ? "\"\n" : "\",", 2);
}

static int
load(struct ledger *l, char *err, size_t errlen)
{
	struct stat st;
	char *buf, *line, *next, *f[8];
	off_t keep;
	ssize_t n;
	size_t got = 0;
	unsigned long lineno = 0;
	long long amount;
	char *end;

	if (fstat(l->fd, &st) == -1) {
		SET_ERR("%s: %s", l->path, strerror(errno));
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		SET_ERR("%s: out of memory", l->path);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	    (n = pread(l->fd, buf + got, (size_t)st.st_size - got, (off_t)got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	/* cut off a record the last run did not finish writing */
	keep = got;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if ((size_t)keep != got) {
		ms_warnx("%s: dropping an unfinished last record (%zu bytes) "
		    "left by an interrupted run", l->path, got - (size_t)keep);
		if (ftruncate(l->fd, keep) == -1 || fsync(l->fd) == -1) {
			SET_ERR("%s: %s", l->path, strerror(errno));
			free(buf);
			return -1;
		}
		buf[keep] = '\0';
	}
	if (keep == 0) {
		if (pwrite(l->fd, header, sizeof(header) - 1, 0) !=
		    (ssize_t)sizeof(header) - 1 || fsync(l->fd) == -1) {
			SET_ERR("%s: %s", l->path, strerror(errno));
			free(buf);
			return -1;
		}
		free(buf);
		return 0;
	}
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		if (++lineno == 1) {
			if (strncmp(line, header, sizeof(header) - 2) != 0) {
				SET_ERR("%s:1: not an mspay ledger (header differs)",
				    l->path);
				free(buf);
				return -1;
			}
			continue;
		}
		if (csv_split(line, f, 8) != 8 ||
		    (amount = strtoll(f[4], &end, 10), *end != '\0')) {
			SET_ERR("%s:%lu: malformed record", l->path, lineno);
			free(buf);
			return -1;
		}
		l->rows++;
		if (remember(&l->keys, f[1], f[0], f[5], amount, l->rows,
		    NULL) == NULL) {
			SET_ERR("%s: out of memory", l->path);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

/* Write all of n bytes at fd's end; 0 or -1 (errno). */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Does another ledger file hold a finished record under key?  1, 0, or
 * -1 when it cannot be read.  Read only: that file is not ours to mend.
 */
static int
file_has_key(const char *path, const char *key)
{
	FILE *fp;
	char *line = NULL, *f[8];
	size_t cap = 0;
	ssize_t n;
	int found = 0;

	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (!found && (n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n')
			break;		/* an unfinished last record */
		line[n - 1] = '\0';
		if (csv_split(line, f, 8) == 8 && strcmp(f[1], key) == 0)
			found = 1;
	}
	free(line);
	fclose(fp);
	return found;
}

/* Read the journal: every record any file ever got. */
static int
journal_load(struct ledger *l, char *err, size_t errlen)
{
	FILE *fp;
	char *line = NULL, *f[7], *p, *end;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	long long amount;
	unsigned long row;
	struct entry *e;
	int nf, rc = 0;

	if ((fp = fdopen(dup(l->jfd), "r")) == NULL) {
		SET_ERR("%s: %s", l->jpath, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (line[n - 1] != '\n')
			break;		/* an intent cut by a crash: never acted on */
		line[n - 1] = '\0';
		for (nf = 0, p = line; nf < 7; nf++) {
			f[nf] = p;
			if ((p = strchr(p, '\t')) == NULL) {
				nf++;
				break;
			}
			*p++ = '\0';
		}
		if (nf == 2 && strcmp(f[0], "D") == 0) {
			e = lookup(&l->jkeys, f[1]);
			if (e->key != NULL)
				e->done = 1;
			continue;
		}
		if (nf != 7 || strcmp(f[0], "I") != 0 ||
		    (amount = strtoll(f[3], &end, 10), *end != '\0') ||
		    (row = strtoul(f[6], &end, 10), *end != '\0')) {
			SET_ERR("%s:%lu: not a journal line", l->jpath, lineno);
			rc = -1;
			break;
		}
		/* a later intent for a key replaces one that never got done */
		e = lookup(&l->jkeys, f[1]);
		if (e->key != NULL && !e->done && strcmp(e->file, f[5]) != 0) {
			free(e->file);
			if ((e->file = strdup(f[5])) == NULL)
				rc = -1;
			e->row = row;
		}
		if (rc == -1 || remember(&l->jkeys, f[1], f[2], f[4], amount, row,
		    f[5]) == NULL || remember(&l->jsetts, f[2], f[1], f[4],
		    amount, row, f[5]) == NULL) {
			SET_ERR("%s: out of memory", l->jpath);
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(fp);
	return rc;
}

static int
journal_open(struct ledger *l, const char *jpath, char *err, size_t errlen)
{
	char *dup, *dir;

	if (jpath != NULL)
		l->jpath = strdup(jpath);
	else if ((dup = strdup(l->real)) != NULL) {
		dir = dirname(dup);
		if ((l->jpath = malloc(strlen(dir) + 32)) != NULL)
			sprintf(l->jpath, "%s/mspay-ledger.journal", dir);
		free(dup);
	}
	if (l->jpath == NULL) {
		SET_ERR("out of memory");
		return -1;
	}
	if ((l->jfd = open(l->jpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		SET_ERR("%s: %s", l->jpath, strerror(errno));
		return -1;
	}
	/* one mspay at a time over all the files the journal knows */
	if (flock(l->jfd, LOCK_EX | LOCK_NB) == -1) {
		SET_ERR("%s: in use by another mspay", l->jpath);
		return -1;
	}
	if (grow(&l->jkeys) == -1 || grow(&l->jsetts) == -1) {
		SET_ERR("out of memory");
		return -1;
	}
	return journal_load(l, err, errlen);
}

struct ledger *
ledger_open(const char *path, const char *journal, char *err, size_t errlen)
{
	struct ledger *l;
	char *dup, *dir;
	int dfd;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		SET_ERR("out of memory");
		return NULL;
	}
	l->path = path;
	l->jfd = -1;
	if ((l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		SET_ERR("%s: %s", path, strerror(errno));
		free(l);
		return NULL;
	}
	/* one writer at a time, or "never appended twice" cannot hold */
	if (flock(l->fd, LOCK_EX | LOCK_NB) == -1) {
		SET_ERR("%s: in use by another mspay", path);
		close(l->fd);
		free(l);
		return NULL;
	}
	if ((l->real = realpath(path, NULL)) == NULL ||
	    strpbrk(l->real, "\t\n") != NULL) {
		SET_ERR("%s: %s", path, l->real ? "a tab or newline in its "
		    "name" : strerror(errno));
		ledger_close(l);
		return NULL;
	}
	if (grow(&l->keys) == -1 || load(l, err, errlen) == -1 ||
	    journal_open(l, journal, err, errlen) == -1) {
		ledger_close(l);
		return NULL;
	}
	/* the file's name must be as durable as its records */
	if ((dup = strdup(path)) != NULL) {
		dir = dirname(dup);
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			fsync(dfd);
			close(dfd);
		}
		free(dup);
	}
	return l;
}

/* The answer for a record that exists: a replay, or a conflict. */
static void
answer_from(const struct entry *e, const char *key, const char *file,
    const struct charge *c, struct outcome *o)
{
	const char *base = file ? strrchr(file, '/') : NULL;

	if (file == NULL)
		snprintf(o->gateway_id, sizeof(o->gateway_id), "ledger:%lu",
		    e->row);
	else
		snprintf(o->gateway_id, sizeof(o->gateway_id), "ledger:%s:%lu",
		    base ? base + 1 : file, e->row);
	if (strcmp(key, c->key) != 0)
		outcome_set(o, V_FAILED, "idempotency_error", "settlement %s "
		    "was already deducted under key %s%s%s", c->settlement,
		    key, file ? " in " : "", file ? file : "");
	else if (strcmp(e->settlement, c->settlement) != 0 ||
	    strcmp(e->currency, c->currency) != 0 || e->amount != c->amount)
		outcome_set(o, V_FAILED, "idempotency_error",
		    "key already used for settlement %s, %lld %s%s%s",
		    e->settlement, (long long)e->amount, e->currency,
		    file ? " in " : "", file ? file : "");
	else
		o->verdict = V_SUCCEEDED;	/* already deducted */
}

/*
 * The journal's record of this charge in another file, or NULL: by key,
 * else by settlement.  An intent never done is believed only when its
 * file holds the record.  -1 in *bad when a file cannot be read.
 */
static struct entry *
journal_find(struct ledger *l, const struct charge *c, const char **key,
    int *bad)
{
	struct entry *e = lookup(&l->jkeys, c->key), *s;
	int has;

	*key = c->key;
	if (e->key == NULL) {
		s = lookup(&l->jsetts, c->settlement);
		if (s->key == NULL)
			return NULL;
		e = lookup(&l->jkeys, s->settlement);
		if (e->key == NULL)
			return NULL;
		*key = e->key;
	}
	/* this file: its own table answers a key, not another key's twin */
	if (strcmp(e->file, l->real) == 0)
		return strcmp(*key, c->key) == 0 ? NULL : e;
	if (!e->done) {
		if ((has = file_has_key(e->file, e->key)) == -1) {
			*bad = 1;
			return e;
		}
		if (!has)
			return NULL;
		e->done = 1;
	}
	return e;
}

int
ledger_add(struct ledger *l, const struct charge *c, struct outcome *o)
{
	struct entry *e;
	const char *key;
	char amount[32], ts[MS_TIME_LEN], line[1024];
	int bad = 0, n;

	memset(o, 0, sizeof(*o));
	o->retry_after_ms = -1;
	e = lookup(&l->keys, c->key);
	if (e->key != NULL) {
		answer_from(e, c->key, NULL, c, o);
		return 0;
	}
	if ((e = journal_find(l, c, &key, &bad)) != NULL) {
		if (bad)
			outcome_set(o, V_UNKNOWN, "ledger", "the journal says "
			    "%s went to %s, which cannot be read", e->settlement,
			    e->file);
		else
			answer_from(e, key, e->file, c, o);
		return 0;
	}
	snprintf(amount, sizeof(amount), "%lld", (long long)c->amount);
	ms_time_format(ms_now_ms(), ts);
	csv_field(l, c->settlement, 0);
	csv_field(l, c->key, 0);
	csv_field(l, c->user, 0);
	csv_field(l, c->customer, 0);
	csv_field(l, amount, 0);
	csv_field(l, c->currency, 0);
	csv_field(l, c->description ? c->description : "", 0);
	csv_field(l, ts, 1);
	l->rows++;
	if (remember(&l->keys, c->key, c->settlement, c->currency, c->amount,
	    l->rows, NULL) == NULL)
		return -1;
	n = snprintf(line, sizeof(line), "I\t%s\t%s\t%s\t%s\t%s\t%lu\n",
	    c->key, c->settlement, amount, c->currency, l->real, l->rows);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	ms_buf_add(&l->intents, line, (size_t)n);
	n = snprintf(line, sizeof(line), "D\t%s\n", c->key);
	ms_buf_add(&l->dones, line, (size_t)n);
	e = remember(&l->jkeys, c->key, c->settlement, c->currency, c->amount,
	    l->rows, l->real);
	if (e == NULL || remember(&l->jsetts, c->settlement, c->key,
	    c->currency, c->amount, l->rows, l->real) == NULL ||
	    l->intents.failed || l->dones.failed)
		return -1;
	snprintf(o->gateway_id, sizeof(o->gateway_id), "ledger:%lu", l->rows);
	o->verdict = V_SUCCEEDED;
	return 0;
}

/*
 * Intents into the journal and fsynced, then the records into the file
 * and fsynced, then the journal's "D" lines: a crash anywhere leaves no
 * record the journal does not know of.
 */
int
ledger_commit(struct ledger *l, char *err, size_t errlen)
{
	if (l->oom) {
		SET_ERR("%s: out of memory", l->path);
		return -1;
	}
	if (l->plen == 0)
		return 0;
	if (write_all(l->jfd, l->intents.p, l->intents.len) == -1 ||
	    fdatasync(l->jfd) == -1) {
		SET_ERR("%s: %s", l->jpath, strerror(errno));
		return -1;
	}
	l->intents.len = 0;
	if (write_all(l->fd, l->pending, l->plen) == -1) {
		SET_ERR("%s: write: %s", l->path, strerror(errno));
		return -1;
	}
	if (fdatasync(l->fd) == -1) {
		SET_ERR("%s: fsync: %s", l->path, strerror(errno));
		return -1;
	}
	l->plen = 0;
	/* a lost "D" costs only a look at the file next time */
	if (write_all(l->jfd, l->dones.p, l->dones.len) == -1) {
		SET_ERR("%s: %s", l->jpath, strerror(errno));
		return -1;
	}
	l->dones.len = 0;
	return 0;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	table_free(&l->keys);
	table_free(&l->jkeys);
	table_free(&l->jsetts);
	free(l->pending);
	free(l->intents.p);
	free(l->dones.p);
	free(l->real);
	free(l->jpath);
	if (l->jfd != -1)
		close(l->jfd);
	close(l->fd);
	free(l);
}
