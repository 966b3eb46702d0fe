/*
 * ledger.c: the payroll-deduction file.  A CSV file with a header line;
 * one record per settlement, appended and fsynced before mspay says
 * "succeeded".  The idempotency key is the record's identity: a key
 * already in the file is answered from the file, never appended again.
 *
 * A crash can leave a last record without its newline.  It was never
 * acknowledged (the fsync had not returned), so the next open cuts it
 * off and the rerun appends it whole.
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
	char		*key;
	char		*settlement;
	char		*currency;
	int64_t		 amount;
	unsigned long	 row;
};

struct ledger {
	int		 fd;
	const char	*path;
	unsigned long	 rows;		/* records in the file and staged */
	struct entry	*tab;		/* open addressing on the key */
	size_t		 cap, n;
	char		*pending;	/* staged records, not yet written */
	size_t		 plen, pcap;
	int		 oom;		/* staging ran out of memory */
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
lookup(struct ledger *l, const char *key)
{
	size_t i;

	for (i = hash_str(key) & (l->cap - 1); l->tab[i].key != NULL;
	    i = (i + 1) & (l->cap - 1))
		if (strcmp(l->tab[i].key, key) == 0)
			return &l->tab[i];
	return &l->tab[i];
}

static int
grow(struct ledger *l)
{
	struct entry *old = l->tab, *e;
	size_t oldcap = l->cap;

	l->cap = oldcap ? oldcap * 2 : 1024;
	if ((l->tab = calloc(l->cap, sizeof(*l->tab))) == NULL) {
		l->tab = old;
		l->cap = oldcap;
		return -1;
	}
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		e = lookup(l, old[i].key);
		*e = old[i];
	}
	free(old);
	return 0;
}

static int
remember(struct ledger *l, const char *key, const char *settlement,
    const char *currency, int64_t amount, unsigned long row)
{
	struct entry *e;

	if ((l->n + 1) * 2 > l->cap && grow(l) == -1)
		return -1;
	e = lookup(l, key);
	if (e->key != NULL)
		return 0;	/* first record wins */
	e->key = strdup(key);
	e->settlement = strdup(settlement);
	e->currency = strdup(currency);
	if (e->key == NULL || e->settlement == NULL || e->currency == NULL)
		return -1;
	e->amount = amount;
	e->row = row;
	l->n++;
	return 0;
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
		if (remember(l, f[1], f[0], f[5], amount, l->rows) == -1) {
			SET_ERR("%s: out of memory", l->path);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

struct ledger *
ledger_open(const char *path, char *err, size_t errlen)
{
	struct ledger *l;
	char *dup, *dir;
	int dfd;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		SET_ERR("out of memory");
		return NULL;
	}
	l->path = path;
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
	if (grow(l) == -1 || load(l, err, errlen) == -1) {
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

int
ledger_add(struct ledger *l, const struct charge *c, struct outcome *o)
{
	struct entry *e;
	char amount[32], ts[MS_TIME_LEN];

	memset(o, 0, sizeof(*o));
	o->retry_after_ms = -1;
	e = lookup(l, c->key);
	if (e->key != NULL) {
		snprintf(o->gateway_id, sizeof(o->gateway_id), "ledger:%lu", e->row);
		if (strcmp(e->settlement, c->settlement) != 0 ||
		    strcmp(e->currency, c->currency) != 0 || e->amount != c->amount)
			outcome_set(o, V_FAILED, "idempotency_error",
			    "key already used for settlement %s, %lld %s",
			    e->settlement, (long long)e->amount, e->currency);
		else
			o->verdict = V_SUCCEEDED;	/* already deducted */
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
	if (remember(l, c->key, c->settlement, c->currency, c->amount,
	    l->rows) == -1)
		return -1;
	snprintf(o->gateway_id, sizeof(o->gateway_id), "ledger:%lu", l->rows);
	o->verdict = V_SUCCEEDED;
	return 0;
}

int
ledger_commit(struct ledger *l, char *err, size_t errlen)
{
	size_t off = 0;
	ssize_t n;

	if (l->oom) {
		SET_ERR("%s: out of memory", l->path);
		return -1;
	}
	while (off < l->plen) {
		n = write(l->fd, l->pending + off, l->plen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			SET_ERR("%s: write: %s", l->path, strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	if (l->plen > 0 && fdatasync(l->fd) == -1) {
		SET_ERR("%s: fsync: %s", l->path, strerror(errno));
		return -1;
	}
	l->plen = 0;
	return 0;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->cap; i++) {
		free(l->tab[i].key);
		free(l->tab[i].settlement);
		free(l->tab[i].currency);
	}
	free(l->tab);
	free(l->pending);
	close(l->fd);
	free(l);
}
