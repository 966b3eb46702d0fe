/* store.c: opening mscart's databases and small typed accessors. */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bell.h"
#include "conf.h"
#include "dbrep.h"
#include "store.h"

const char *const store_db_names[] = {
	"products.db", "users.db", "cards.db", "lines.db", "owners.db",
	"events.db", "settlements.db", "opens.db", "audit.db", "meta.db",
	"open.db", "stock.db", NULL
};

static DB **
db_slot(struct store *st, int i)
{
	DB **slots[] = {
		&st->products, &st->users, &st->cards, &st->lines, &st->owners,
		&st->events, &st->settlements, &st->opens, &st->audit, &st->meta,
		&st->open_lines, &st->stock
	};
	return slots[i];
}

#define OPEN_INDEX_BUILT	"index:open"	/* in meta.db, once built */

/*
 * The key of a line in open.db, the secondary index of lines.db that
 * Berkeley DB keeps up to date on every put: its owner while the line
 * is open (unpaid, settling, credit, held), nothing otherwise.  A cart
 * then reads its open lines only, however long the owner's history.
 */
static int
open_line_key(DB *sec, const DBT *pkey, const DBT *data, DBT *skey)
{
	static const char tag[] = "{\"owner\":\"";
	const char *p = data->data, *nl, *e, *q;
	json_t *x;
	const char *o;

	(void)sec, (void)pkey;
	if (data->size < LINE_HEAD_LEN + 2 || !line_state_open(p[0]))
		return DB_DONOTINDEX;
	e = p + data->size;
	if ((nl = memchr(p + LINE_HEAD_LEN, '\n', data->size - LINE_HEAD_LEN)) ==
	    NULL)
		return DB_DONOTINDEX;
	nl++;
	memset(skey, 0, sizeof(*skey));
	/* the extras start with the owner (apply_take, line_put) */
	if ((size_t)(e - nl) > sizeof(tag) - 1 &&
	    memcmp(nl, tag, sizeof(tag) - 1) == 0) {
		nl += sizeof(tag) - 1;
		for (q = nl; q < e && *q != '"' && *q != '\\'; q++)
			;
		if (q < e && *q == '"') {
			skey->data = (void *)nl;
			skey->size = (u_int32_t)(q - nl);
			return 0;
		}
	}
	if ((x = json_loadb(nl, (size_t)(e - nl), 0, NULL)) == NULL ||
	    (o = json_string_value(json_object_get(x, "owner"))) == NULL) {
		json_decref(x);
		return DB_DONOTINDEX;
	}
	skey->data = strdup(o);
	skey->size = (u_int32_t)strlen(o);
	skey->flags = DB_DBT_APPMALLOC;
	json_decref(x);
	return skey->data == NULL ? ENOMEM : 0;
}

/*
 * Secondary indexes are not persistent: associate after every open.  A
 * ledger made before open.db existed has it built here, once, in the
 * opening transaction (meta.db remembers it was).
 */
static int
associate_open_lines(struct store *st, DB_TXN *txn)
{
	char flag[8];
	int rc, built;

	rc = db_get_str(st->meta, txn, OPEN_INDEX_BUILT, flag, sizeof(flag));
	if (rc != 0 && rc != DB_NOTFOUND)
		return rc;
	built = rc == 0;
	if ((rc = st->lines->associate(st->lines, txn, st->open_lines,
	    open_line_key, built ? 0 : DB_CREATE)) != 0)
		return rc;
	return built ? 0 : db_put_str(st->meta, txn, OPEN_INDEX_BUILT, "1");
}

const char *
store_home(const char *opt)
{
	const char *e;

	if (opt != NULL)
		return opt;
	if ((e = getenv("MSCART_DB")) != NULL && *e != '\0')
		return e;
	return ".";
}

/*
 * The ledger's directory: -d, else MSCART_DB, else "ledger" in ms.conf.
 * Only init and import -c make a ledger; every other command refuses a
 * directory that has none, naming where it looked, and exits 1: a
 * command run in the wrong place must not start an empty ledger there.
 */
const char *
store_ledger(const char *opt, int create)
{
	const struct ms_conf *conf = ms_conf();
	const char *home, *from, *e;
	char path[4096];
	struct stat sb;

	if (opt != NULL && *opt != '\0') {
		home = opt;
		from = "-d";
	} else if ((e = getenv("MSCART_DB")) != NULL && *e != '\0') {
		home = e;
		from = "MSCART_DB";
	} else if (conf->ledger[0] != '\0') {
		home = conf->ledger;
		from = conf->source;
	} else
		ms_errx(MS_EX_FAIL, "no ledger given: use -d DIR, MSCART_DB or "
		    "\"ledger = DIR\" in %s", getenv("MS_CONF") != NULL &&
		    *getenv("MS_CONF") != '\0' ? getenv("MS_CONF") :
		    MS_CONF_DEFAULT);
	if (create)
		return home;
	snprintf(path, sizeof(path), "%s/lines.db", home);
	if (stat(path, &sb) == -1)
		ms_errx(MS_EX_FAIL, "%s (from %s): not a ledger (no lines.db); "
		    "mscart init makes one", home, from);
	return home;
}

static int
open_dbs(struct store *st)
{
	DB_TXN *txn;
	int rc, i;

	if ((rc = st->env->txn_begin(st->env, NULL, &txn, 0)) != 0)
		return rc;
	for (i = 0; store_db_names[i] != NULL; i++) {
		DB **dbp = db_slot(st, i);

		if ((rc = db_create(dbp, st->env, 0)) != 0)
			goto fail;
		if (strcmp(store_db_names[i], "owners.db") == 0 ||
		    strcmp(store_db_names[i], "open.db") == 0)
			(*dbp)->set_flags(*dbp, DB_DUPSORT);
		/* bigger pages: fewer splits for the append-mostly trees */
		(*dbp)->set_pagesize(*dbp, 16384);
		if ((rc = (*dbp)->open(*dbp, txn, store_db_names[i], NULL,
		    DB_BTREE, DB_CREATE | DB_THREAD, 0600)) != 0) {
			ms_warnx("%s/%s: %s", st->home, store_db_names[i],
			    db_strerror(rc));
			goto fail;
		}
	}
	if ((rc = associate_open_lines(st, txn)) != 0)
		goto fail;
	if ((rc = db_create(&st->lines_raw, st->env, 0)) != 0 ||
	    (rc = st->lines_raw->open(st->lines_raw, txn, "lines.db", NULL,
	    DB_BTREE, DB_THREAD, 0600)) != 0 ||
	    (rc = db_create(&st->open_raw, st->env, 0)) != 0 ||
	    (rc = st->open_raw->open(st->open_raw, txn, "open.db", NULL,
	    DB_BTREE, DB_THREAD, 0600)) != 0) {
		ms_warnx("%s: lines.db, open.db: %s", st->home, db_strerror(rc));
		goto fail;
	}
	if ((rc = txn->commit(txn, 0)) != 0)
		return rc;
	return 0;
fail:
	txn->abort(txn);
	return rc;
}

static void
close_dbs(struct store *st)
{
	int n = 0;

	while (store_db_names[n] != NULL)
		n++;
	if (st->open_raw != NULL)
		st->open_raw->close(st->open_raw, 0);
	if (st->lines_raw != NULL)
		st->lines_raw->close(st->lines_raw, 0);
	st->open_raw = st->lines_raw = NULL;
	/* backwards: the secondary index closes before lines.db (stock.db,
	 * after it in the list, is no index) */
	for (int i = n - 1; i >= 0; i--) {
		DB **dbp = db_slot(st, i);

		if (*dbp != NULL)
			(*dbp)->close(*dbp, 0);
		*dbp = NULL;
	}
}

int
store_open(struct store *st, const char *home, int nosync)
{
	char err[1200];
	int rc;

	memset(st, 0, sizeof(*st));
	umask(077);	/* every file of the ledger is 0600 */
	snprintf(st->home, sizeof(st->home), "%s", home);
	st->replicated = ms_rep_configured(home);
	st->opts.nosync = nosync;
	st->opts.cachesize_mb = 128;
	if ((rc = ms_dbenv_open(st->home, &st->opts, &st->env, err,
	    sizeof(err))) != 0) {
		ms_warnx("%s", err);
		return rc;
	}
	/* a site of a group: the databases come from the master */
	if (st->replicated)
		ms_rep_wait_master(st->env, STORE_REP_WAIT_MS);
	/* another process may be creating the same files: retry deadlocks */
	for (int tries = 0; tries < 100; tries++) {
		if ((rc = open_dbs(st)) == 0)
			return 0;
		close_dbs(st);
		if (!store_retryable(rc) && rc != EEXIST && rc != ENOENT)
			break;
	}
	ms_warnx("%s: cannot open databases: %s", st->home, db_strerror(rc));
	ms_dbenv_close(st->env);
	st->env = NULL;
	return rc;
}

void
store_close(struct store *st)
{
	lookups_forget(st);
	json_decref(st->products_seen);
	st->products_seen = NULL;
	free(st->getbuf);
	st->getbuf = NULL;
	st->getbuflen = 0;
	free(st->tk.p);
	memset(&st->tk, 0, sizeof(st->tk));
	free(st->pend.p);
	memset(&st->pend, 0, sizeof(st->pend));
	free(st->bulk);
	st->bulk = NULL;
	close_dbs(st);
	if (st->env != NULL)
		ms_dbenv_close(st->env);
	st->env = NULL;
}

int
store_reopen(struct store *st)
{
	char home[sizeof(st->home)];
	int nosync = st->opts.nosync;

	memcpy(home, st->home, sizeof(home));
	lookups_forget(st);
	json_decref(st->products_seen);
	free(st->getbuf);
	free(st->tk.p);
	free(st->pend.p);
	free(st->bulk);
	close_dbs(st);
	if (st->env != NULL)
		st->env->close(st->env, 0);
	st->env = NULL;
	return store_open(st, home, nosync);
}

int
store_begin(struct store *st, DB_TXN *parent, DB_TXN **txn, int readonly)
{
	(void)readonly;
	return st->env->txn_begin(st->env, parent, txn, 0);
}

int
store_scan_begin(struct store *st, DB *db, DB_TXN **txn, DBC **c)
{
	int rc;

	if ((rc = st->env->txn_begin(st->env, NULL, txn, DB_READ_COMMITTED)) != 0)
		return rc;
	if ((rc = db->cursor(db, *txn, c, DB_READ_COMMITTED)) != 0) {
		(*txn)->abort(*txn);
		*txn = NULL;
	}
	return rc;
}

int
store_each(struct store *st, DB *db, DB_TXN *txn,
    void (*fn)(const DBT *k, const DBT *d, void *arg), void *arg)
{
	DB_TXN *own = NULL;
	DBC *c;
	DBT k, d;
	int rc;

	if (txn == NULL)
		rc = store_scan_begin(st, db, &own, &c);
	else
		rc = db->cursor(db, txn, &c, DB_READ_COMMITTED);
	if (rc != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->get(c, &k, &d, DB_NEXT)) == 0)
		fn(&k, &d, arg);
	free(k.data);
	free(d.data);
	c->close(c);
	if (own != NULL)
		own->commit(own, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

/* A record of JSON under a short string key, into the object arg. */
static void
put_object(const DBT *k, const DBT *d, void *arg)
{
	char key[256];
	json_t *v;

	if (k->size >= sizeof(key) ||
	    (v = json_loadb(d->data, d->size, 0, NULL)) == NULL)
		return;
	memcpy(key, k->data, k->size);
	key[k->size] = '\0';
	json_object_set_new(arg, key, v);
}

int
store_as_object(struct store *st, DB *db, json_t *out)
{
	return store_each(st, db, NULL, put_object, out);
}

struct line_fn {
	void	(*fn)(json_t *line, void *arg);
	void	*arg;
};

/* A record of lines.db: the line, decoded, to the caller's fn. */
static void
each_line(const DBT *k, const DBT *d, void *arg)
{
	struct line_fn *lf = arg;
	json_t *l;

	(void)k;
	if ((l = line_decode(d->data, d->size)) != NULL) {
		lf->fn(l, lf->arg);
		json_decref(l);
	}
}

int
store_lines_scan(struct store *st, void (*fn)(json_t *line, void *arg),
    void *arg)
{
	struct line_fn lf = { fn, arg };

	return store_each(st, st->lines, NULL, each_line, &lf);
}

/*
 * The same over the open lines only (unpaid, settling, credit, held),
 * from open.db, with each line's number: what it costs grows with what
 * is open, not with the paid history.  Owner by owner, each owner's
 * lines in line order.
 */
int
store_open_lines_scan(struct store *st,
    void (*fn)(json_t *line, int64_t id, void *arg), void *arg)
{
	DBC *c;
	DBT k, pk, d;
	DB_TXN *txn;
	unsigned char pb[8];
	json_t *l;
	int rc;

	if ((rc = store_scan_begin(st, st->open_lines, &txn, &c)) != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	memset(&pk, 0, sizeof(pk));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	pk.data = pb;
	pk.ulen = sizeof(pb);
	pk.flags = DB_DBT_USERMEM;
	d.flags = DB_DBT_REALLOC;
	while ((rc = c->pget(c, &k, &pk, &d, DB_NEXT)) == 0)
		if (pk.size == 8 &&
		    (l = line_decode(d.data, d.size)) != NULL) {
			fn(l, ms_be64_get(pb), arg);
			json_decref(l);
		}
	free(k.data);
	free(d.data);
	c->close(c);
	txn->commit(txn, 0);
	return rc == DB_NOTFOUND ? 0 : rc;
}

int
store_retryable(int rc)
{
	return rc == DB_LOCK_DEADLOCK || rc == DB_LOCK_NOTGRANTED ||
	    ms_rep_retryable(rc);
}

static void
dbt_key(DBT *k, const void *data, size_t len)
{
	memset(k, 0, sizeof(*k));
	k->data = (void *)data;
	k->size = (u_int32_t)len;
}

static int
get_json(DB *db, DB_TXN *txn, DBT *k, json_t **out, int rmw)
{
	DBT d;
	int rc;

	*out = NULL;
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_MALLOC;
	if ((rc = db->get(db, txn, k, &d, rmw ? DB_RMW : 0)) != 0)
		return rc;
	*out = json_loadb(d.data, d.size, 0, NULL);
	free(d.data);
	if (*out == NULL) {
		ms_warnx("corrupt record in %s", db->fname ? db->fname : "database");
		return EINVAL;
	}
	return 0;
}

static int
put_json(DB *db, DB_TXN *txn, DBT *k, const json_t *v)
{
	DBT d;
	char *s;
	int rc;

	if ((s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		return ENOMEM;
	memset(&d, 0, sizeof(d));
	d.data = s;
	d.size = (u_int32_t)strlen(s);
	rc = db->put(db, txn, k, &d, 0);
	free(s);
	return rc;
}

int
db_get_json(DB *db, DB_TXN *txn, const char *key, json_t **out, int rmw)
{
	DBT k;

	dbt_key(&k, key, strlen(key));
	return get_json(db, txn, &k, out, rmw);
}

int
db_put_json(DB *db, DB_TXN *txn, const char *key, const json_t *v)
{
	DBT k;

	dbt_key(&k, key, strlen(key));
	return put_json(db, txn, &k, v);
}

int
db_get_str(DB *db, DB_TXN *txn, const char *key, char *buf, size_t len)
{
	DBT k, d;
	int rc;

	dbt_key(&k, key, strlen(key));
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.ulen = (u_int32_t)(len - 1);
	d.flags = DB_DBT_USERMEM;
	if ((rc = db->get(db, txn, &k, &d, 0)) != 0)
		return rc;
	buf[d.size] = '\0';
	return 0;
}

int
db_put_str(DB *db, DB_TXN *txn, const char *key, const char *val)
{
	DBT k, d;

	dbt_key(&k, key, strlen(key));
	dbt_key(&d, val, strlen(val));
	return db->put(db, txn, &k, &d, 0);
}

int
db_del_str(DB *db, DB_TXN *txn, const char *key)
{
	DBT k;

	dbt_key(&k, key, strlen(key));
	return db->del(db, txn, &k, 0);
}

/* Big-endian, so keys sort by number; unsigned, so negatives are defined. */

void
tb_init(struct tbuf *b, char *buf, size_t cap)
{
	b->p = buf;
	b->n = 0;
	b->cap = cap;
	b->over = cap == 0;
	if (cap > 0)
		buf[0] = '\0';
}

void
tb_mem(struct tbuf *b, const void *s, size_t len)
{
	if (b->over || len >= b->cap - b->n) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

void
tb_str(struct tbuf *b, const char *s)
{
	tb_mem(b, s, strlen(s));
}

void
tb_i64(struct tbuf *b, int64_t v)
{
	char d[24], *e = d + sizeof(d), *q = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	tb_mem(b, q, (size_t)(e - q));
}

void
tb_quote(struct tbuf *b, const char *s)
{
	int n;

	if (b->over || (n = ms_json_quote(b->p + b->n, b->cap - b->n, s)) == -1)
		b->over = 1;
	else
		b->n += (size_t)n;
}

#define HEAD_LEN	LINE_HEAD_LEN
static const char *const item_keys[] = {
	"id", "sku", "name", "price", "currency", "ts", "robot", "slot",
	"event", "state", "settlement", NULL
};

char
line_state_char(const char *state)
{
	if (strcmp(state, "unpaid") == 0) return 'u';
	if (strcmp(state, "settling") == 0) return 's';
	if (strcmp(state, "paid") == 0) return 'p';
	if (strcmp(state, "void") == 0) return 'v';
	if (strcmp(state, "credit") == 0) return 'c';
	if (strcmp(state, "held") == 0) return 'h';
	return '?';
}

int
line_state_open(char state)
{
	return state == 'u' || state == 's' || state == 'c' || state == 'h';
}

static void
head_encode(unsigned char *b, const struct line_head *h)
{
	b[0] = (unsigned char)h->state;
	memcpy(b + 1, h->currency, 3);
	ms_be64_put(b + 4, h->price);
}

json_t *
line_decode(const void *data, size_t size)
{
	const char *p = data, *nl;
	json_t *item, *extra;

	if (size < HEAD_LEN + 2)
		return NULL;
	p += HEAD_LEN;
	size -= HEAD_LEN;
	if ((nl = memchr(p, '\n', size)) == NULL)
		return NULL;
	if ((item = json_loadb(p, (size_t)(nl - p), 0, NULL)) == NULL)
		return NULL;
	extra = json_loadb(nl + 1, size - (size_t)(nl - p) - 1, 0, NULL);
	if (extra == NULL) {
		json_decref(item);
		return NULL;
	}
	json_object_update(item, extra);
	json_decref(extra);
	return item;
}

static int
line_put_raw(struct store *st, DB_TXN *txn, int64_t id,
    const struct line_head *h, const char *item, size_t itemlen,
    const char *extras, size_t extraslen)
{
	unsigned char b[8], *rec;
	size_t len = HEAD_LEN + itemlen + 1 + extraslen;
	DBT k, d;
	int rc;

	if ((rec = malloc(len)) == NULL)
		return ENOMEM;
	head_encode(rec, h);
	memcpy(rec + HEAD_LEN, item, itemlen);
	rec[HEAD_LEN + itemlen] = '\n';
	memcpy(rec + HEAD_LEN + itemlen + 1, extras, extraslen);
	ms_be64_put(b, id);
	dbt_key(&k, b, 8);
	dbt_key(&d, rec, len);
	rc = st->lines->put(st->lines, txn, &k, &d, 0);
	free(rec);
	return rc;
}

int
line_put_rec(struct store *st, DB_TXN *txn, int64_t id,
    const struct line_head *h, char *rec, size_t len, const char *owner)
{
	unsigned char b[8];
	size_t ol = strlen(owner);
	unsigned short l2 = (unsigned short)ol;
	DBT k, d;
	int rc;

	if (ol > 0xffff || !line_state_open(h->state))
		return EINVAL;
	head_encode((unsigned char *)rec, h);
	ms_be64_put(b, id);
	dbt_key(&k, b, 8);
	dbt_key(&d, rec, len);
	if ((rc = st->lines_raw->put(st->lines_raw, txn, &k, &d, 0)) != 0)
		return rc;
	/* what open_line_key() makes of the record, for open.db */
	ms_buf_add(&st->pend, &l2, sizeof(l2));
	ms_buf_add(&st->pend, b, 8);
	ms_buf_add(&st->pend, owner, ol);
	if (st->pend.failed)
		return ENOMEM;
	st->npend++;
	return 0;
}

/* Pending entries: by owner, then line number, as open.db sorts them. */
static int
pend_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(unsigned char *const *)a;
	const unsigned char *y = *(unsigned char *const *)b;
	unsigned short xl, yl;
	int c;

	memcpy(&xl, x, 2);
	memcpy(&yl, y, 2);
	if ((c = memcmp(x + 10, y + 10, xl < yl ? xl : yl)) == 0)
		c = xl < yl ? -1 : xl > yl;
	return c != 0 ? c : memcmp(x + 2, y + 2, 8);
}

int
open_pending_flush(struct store *st, DB_TXN *txn)
{
	unsigned char **v, *p;
	size_t i, n = st->npend;
	DBT k, d;
	int rc = 0;

	if (n == 0)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return ENOMEM;
	p = (unsigned char *)st->pend.p;
	for (i = 0; i < n; i++) {
		unsigned short ol;

		v[i] = p;
		memcpy(&ol, p, 2);
		p += 10 + ol;
	}
	qsort(v, n, sizeof(*v), pend_cmp);
	for (i = 0; i < n && rc == 0; i++) {
		unsigned short ol;

		memcpy(&ol, v[i], 2);
		dbt_key(&k, v[i] + 10, ol);
		dbt_key(&d, v[i] + 2, 8);
		rc = st->open_raw->put(st->open_raw, txn, &k, &d, 0);
	}
	free(v);
	if (rc == 0) {
		st->npend = 0;
		st->pend.len = 0;
	}
	return rc;
}

int
line_get(struct store *st, DB_TXN *txn, int64_t id, json_t **out, int rmw)
{
	unsigned char b[8];
	DBT k, d;
	int rc;

	*out = NULL;
	ms_be64_put(b, id);
	dbt_key(&k, b, 8);
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_MALLOC;
	if ((rc = st->lines->get(st->lines, txn, &k, &d, rmw ? DB_RMW : 0)) != 0)
		return rc;
	*out = line_decode(d.data, d.size);
	free(d.data);
	if (*out == NULL) {
		ms_warnx("corrupt record in lines.db");
		return EINVAL;
	}
	return 0;
}

int
line_get_item(struct store *st, DB_TXN *txn, DBC *cur, int64_t id,
    struct line_head *h, const char **item, size_t *itemlen)
{
	unsigned char b[8];
	const unsigned char *p;
	const char *nl;
	DBT k, d;
	int rc;

	ms_be64_put(b, id);
	dbt_key(&k, b, 8);
	memset(&d, 0, sizeof(d));
	d.data = st->getbuf;
	d.size = st->getbuflen;
	d.flags = DB_DBT_REALLOC;
	/* one cursor for a whole cart saves a cursor per line */
	if (cur != NULL)
		rc = cur->get(cur, &k, &d, DB_SET);
	else
		rc = st->lines->get(st->lines, txn, &k, &d, 0);
	st->getbuf = d.data;
	st->getbuflen = d.size;
	if (rc != 0)
		return rc;
	p = d.data;
	if (d.size < HEAD_LEN + 2 || (nl = memchr(p + HEAD_LEN, '\n',
	    d.size - HEAD_LEN)) == NULL) {
		ms_warnx("corrupt record in lines.db");
		return EINVAL;
	}
	h->state = (char)p[0];
	memcpy(h->currency, p + 1, 3);
	h->currency[3] = '\0';
	h->price = ms_be64_get(p + 4);
	*item = (const char *)p + HEAD_LEN;
	*itemlen = (size_t)(nl - *item);
	return 0;
}

int
line_put(struct store *st, DB_TXN *txn, int64_t id, const json_t *v)
{
	struct line_head h;
	json_t *item = json_object(), *extra = json_deep_copy(v);
	char *is = NULL, *es = NULL;
	const char *cur;
	int rc = ENOMEM;

	for (const char *const *k = item_keys; *k; k++) {
		json_t *f = json_object_get(v, *k);

		if (f != NULL)
			json_object_set(item, *k, f);
		json_object_del(extra, *k);
	}
	h.state = line_state_char(json_string_value(json_object_get(v, "state")));
	cur = json_string_value(json_object_get(v, "currency"));
	snprintf(h.currency, sizeof(h.currency), "%s", cur ? cur : "XXX");
	h.price = json_integer_value(json_object_get(v, "price"));
	if ((is = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL &&
	    (es = json_dumps(extra, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		rc = line_put_raw(st, txn, id, &h, is, strlen(is), es, strlen(es));
	/* closed now: owners.db has it from here on (see owner_lines) */
	if (rc == 0 && !line_state_open(h.state)) {
		const char *o = json_string_value(json_object_get(v, "owner"));

		if (o != NULL)
			rc = owner_add(st, txn, o, id);
	}
	free(is);
	free(es);
	json_decref(item);
	json_decref(extra);
	return rc;
}

/* Line ids on the wire are "L" and the number. */
int
line_id_parse(const char *s, int64_t *id)
{
	char *end;
	long long v;

	if (s == NULL || s[0] != 'L' || s[1] < '1' || s[1] > '9')
		return -1;
	errno = 0;
	v = strtoll(s + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
		return -1;
	*id = v;
	return 0;
}

void
line_id_format(int64_t id, char *buf, size_t len)
{
	struct tbuf b;

	tb_init(&b, buf, len);
	tb_mem(&b, "L", 1);
	tb_i64(&b, id);
}

/* An integer kept in meta.db: dflt when there is none yet. */
int
meta_int_get(struct store *st, DB_TXN *txn, const char *name, int64_t dflt,
    u_int32_t flags, int64_t *v)
{
	char buf[32];
	DBT k, d;
	int rc;

	dbt_key(&k, name, strlen(name));
	memset(&d, 0, sizeof(d));
	d.data = buf;
	d.ulen = sizeof(buf) - 1;
	d.flags = DB_DBT_USERMEM;
	rc = st->meta->get(st->meta, txn, &k, &d, flags);
	if (rc == DB_NOTFOUND) {
		*v = dflt;
		return 0;
	}
	if (rc != 0)
		return rc;
	buf[d.size] = '\0';
	*v = strtoll(buf, NULL, 10);
	return 0;
}

int
meta_int_put(struct store *st, DB_TXN *txn, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return db_put_str(st->meta, txn, name, buf);
}

/* The next line, settlement and audit numbers start at 1. */
static int
counter_get(struct store *st, DB_TXN *txn, const char *name, int64_t *v)
{
	return meta_int_get(st, txn, name, 1, DB_RMW, v);
}

int
store_counters_load(struct store *st, DB_TXN *txn)
{
	int rc;

	if ((rc = counter_get(st, txn, "line", &st->next_line)) != 0 ||
	    (rc = counter_get(st, txn, "settlement", &st->next_sett)) != 0 ||
	    (rc = counter_get(st, txn, "audit", &st->next_audit)) != 0)
		return rc;
	st->counters_loaded = 1;
	return 0;
}

int
store_counters_save(struct store *st, DB_TXN *txn)
{
	int rc;

	if ((rc = open_pending_flush(st, txn)) != 0 ||
	    (rc = events_flush(st, txn)) != 0 ||
	    (rc = audit_flush(st, txn)) != 0)
		return rc;
	if (!st->counters_loaded)
		return 0;
	if ((rc = meta_int_put(st, txn, "line", st->next_line)) != 0 ||
	    (rc = meta_int_put(st, txn, "settlement", st->next_sett)) != 0 ||
	    (rc = meta_int_put(st, txn, "audit", st->next_audit)) != 0)
		return rc;
	st->counters_loaded = 0;
	return 0;
}

void
store_counters_forget(struct store *st)
{
	st->counters_loaded = 0;
	st->tk_count = 0;
	st->tk.len = 0;
	st->npend = 0;
	st->pend.len = 0;
	events_forget(st);
}

/* ids (n of them) and more (m), each ascending: one ascending list. */
static int
ids_merge(int64_t **ids, size_t *n, int64_t *more, size_t m)
{
	int64_t *out, *a = *ids;
	size_t i = 0, j = 0, k = 0;

	if (m == 0)
		return 0;
	if ((out = malloc((*n + m) * sizeof(*out))) == NULL)
		return ENOMEM;
	while (i < *n || j < m) {
		if (j == m || (i < *n && a[i] < more[j]))
			out[k++] = a[i++];
		else if (i == *n || more[j] < a[i])
			out[k++] = more[j++];
		else {
			out[k++] = a[i++];
			j++;
		}
	}
	free(a);
	*ids = out;
	*n = k;
	return 0;
}

static int	owner_closed_lines(struct store *, DB_TXN *, const char *,
		    int64_t **, size_t *);

/*
 * An owner's lines are in two indexes: open.db has the open ones
 * (Berkeley DB keeps it as lines change; a take's entry comes from
 * open_pending_flush), owners.db those that left the open states
 * (line_put adds them), so that a take writes one index, not two.
 * owners.db may also name open lines: a credit line, a line that moved
 * owner, and every line of a ledger written before this was so.  The
 * union, in line order, is the owner's lines.
 */
int
owner_lines(struct store *st, DB_TXN *txn, const char *owner, int64_t **ids,
    size_t *n)
{
	int64_t *open;
	size_t m;
	int rc;

	if ((rc = owner_closed_lines(st, txn, owner, ids, n)) != 0)
		return rc;
	if ((rc = owner_open_lines(st, txn, owner, &open, &m)) == 0) {
		rc = ids_merge(ids, n, open, m);
		free(open);
	}
	if (rc != 0) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

static int
owner_closed_lines(struct store *st, DB_TXN *txn, const char *owner,
    int64_t **ids, size_t *n)
{
	DBC *c;
	DBT k, d;
	size_t cap = 0;
	u_int32_t op = DB_SET;
	int rc;

	*ids = NULL;
	*n = 0;
	/* bulk reads: the line numbers come a bufferful at a time */
	if (st->bulk == NULL && (st->bulk = malloc(OWNER_BULK)) == NULL)
		return ENOMEM;
	if ((rc = st->owners->cursor(st->owners, txn, &c, 0)) != 0)
		return rc;
	dbt_key(&k, owner, strlen(owner));
	memset(&d, 0, sizeof(d));
	d.data = st->bulk;
	d.ulen = OWNER_BULK;
	d.flags = DB_DBT_USERMEM;
	while ((rc = c->get(c, &k, &d, op | DB_MULTIPLE)) == 0) {
		void *p;
		void *dp;
		u_int32_t dlen;

		DB_MULTIPLE_INIT(p, &d);
		for (;;) {
			DB_MULTIPLE_NEXT(p, &d, dp, dlen);
			if (p == NULL)
				break;
			if (dlen != 8)
				continue;
			if (*n == cap) {
				int64_t *ni;

				cap = cap ? cap * 2 : 16;
				if ((ni = realloc(*ids, cap * sizeof(**ids))) == NULL) {
					rc = ENOMEM;
					goto out;
				}
				*ids = ni;
			}
			(*ids)[(*n)++] = ms_be64_get(dp);
		}
		op = DB_NEXT_DUP;
	}
out:
	c->close(c);
	if (rc == DB_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

int
owner_first(struct store *st, DB_TXN *txn, const char *owner, int64_t *id)
{
	unsigned char b[8], pb[8];
	DBT k, d, pk;
	int64_t closed = -1;
	int rc;

	dbt_key(&k, owner, strlen(owner));
	memset(&d, 0, sizeof(d));
	d.data = b;
	d.ulen = sizeof(b);
	d.flags = DB_DBT_USERMEM;
	rc = st->owners->get(st->owners, txn, &k, &d, 0);
	if (rc == 0)
		closed = d.size == 8 ? ms_be64_get(b) : 0;
	else if (rc != DB_NOTFOUND)
		return rc;
	memset(&pk, 0, sizeof(pk));
	pk.data = pb;
	pk.ulen = sizeof(pb);
	pk.flags = DB_DBT_USERMEM;
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;	/* the number only */
	dbt_key(&k, owner, strlen(owner));
	rc = st->open_lines->pget(st->open_lines, txn, &k, &pk, &d, 0);
	if (rc == DB_NOTFOUND) {
		if (closed < 0)
			return DB_NOTFOUND;
		*id = closed;
		return 0;
	}
	if (rc != 0)
		return rc;
	*id = pk.size == 8 ? ms_be64_get(pb) : 0;
	if (closed >= 0 && closed < *id)
		*id = closed;
	return 0;
}

/* Is line id in owner's index, owners.db or open.db? (verify) */
int
owner_has(struct store *st, DB_TXN *txn, const char *owner, int64_t id)
{
	unsigned char b[8];
	DBT k, d, pk;
	int rc;

	ms_be64_put(b, id);
	dbt_key(&k, owner, strlen(owner));
	dbt_key(&d, b, 8);
	d.ulen = 8;
	d.flags = DB_DBT_USERMEM;
	rc = st->owners->get(st->owners, txn, &k, &d, DB_GET_BOTH);
	if (rc != DB_NOTFOUND)
		return rc;
	dbt_key(&k, owner, strlen(owner));
	ms_be64_put(b, id);
	dbt_key(&pk, b, 8);
	pk.ulen = 8;
	pk.flags = DB_DBT_USERMEM;
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	return st->open_lines->pget(st->open_lines, txn, &k, &pk, &d,
	    DB_GET_BOTH);
}

/*
 * The numbers of owner's open lines, in line order, from open.db: what
 * a settlement claims is found among what is open, not among the years
 * of paid lines.  The array is malloc'd.
 */
int
owner_open_lines(struct store *st, DB_TXN *txn, const char *owner,
    int64_t **ids, size_t *n)
{
	DBC *c;
	DBT k, pk, d;
	unsigned char pb[8];
	size_t cap = 0;
	u_int32_t op = DB_SET;
	int rc, rc2;

	*ids = NULL;
	*n = 0;
	if ((rc = st->open_lines->cursor(st->open_lines, txn, &c, 0)) != 0)
		return rc;
	memset(&pk, 0, sizeof(pk));
	pk.data = pb;
	pk.ulen = sizeof(pb);
	pk.flags = DB_DBT_USERMEM;
	memset(&d, 0, sizeof(d));
	d.flags = DB_DBT_PARTIAL;	/* the numbers only, not the lines */
	for (;;) {
		dbt_key(&k, owner, strlen(owner));
		if ((rc = c->pget(c, &k, &pk, &d, op)) != 0)
			break;
		op = DB_NEXT_DUP;
		if (pk.size != 8)
			continue;
		if (*n == cap) {
			int64_t *ni;

			cap = cap ? cap * 2 : 16;
			if ((ni = realloc(*ids, cap * sizeof(**ids))) == NULL) {
				rc = ENOMEM;
				break;
			}
			*ids = ni;
		}
		(*ids)[(*n)++] = ms_be64_get(pb);
	}
	if (rc == DB_NOTFOUND)
		rc = 0;
	if ((rc2 = c->close(c)) != 0 && rc == 0)
		rc = rc2;
	if (rc != 0) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

int
open_lines_walk(struct store *st, DB_TXN *txn, const char *owner,
    int (*fn)(const struct line_head *, const char *item, size_t len,
    void *arg), void *arg)
{
	DBC *c;
	DBT k, d;
	u_int32_t op = DB_SET;
	int rc, rc2;

	if ((rc = st->open_lines->cursor(st->open_lines, txn, &c, 0)) != 0)
		return rc;
	memset(&d, 0, sizeof(d));
	d.data = st->getbuf;
	d.size = st->getbuflen;
	d.flags = DB_DBT_REALLOC;
	for (;;) {
		const unsigned char *p;
		const char *nl;
		struct line_head h;

		dbt_key(&k, owner, strlen(owner));
		rc = c->get(c, &k, &d, op);
		st->getbuf = d.data;
		st->getbuflen = d.size;
		if (rc != 0)
			break;
		op = DB_NEXT_DUP;
		p = d.data;
		if (d.size < HEAD_LEN + 2 || (nl = memchr(p + HEAD_LEN, '\n',
		    d.size - HEAD_LEN)) == NULL)
			continue;
		h.state = (char)p[0];
		memcpy(h.currency, p + 1, 3);
		h.currency[3] = '\0';
		h.price = ms_be64_get(p + 4);
		if ((rc = fn(&h, (const char *)p + HEAD_LEN,
		    (size_t)(nl - ((const char *)p + HEAD_LEN)), arg)) != 0)
			break;
	}
	if (rc == DB_NOTFOUND)
		rc = 0;
	if ((rc2 = c->close(c)) != 0 && rc == 0)
		rc = rc2;
	return rc;
}

int
owner_add(struct store *st, DB_TXN *txn, const char *owner, int64_t id)
{
	unsigned char b[8];
	DBT k, d;
	int rc;

	ms_be64_put(b, id);
	dbt_key(&k, owner, strlen(owner));
	dbt_key(&d, b, 8);
	rc = st->owners->put(st->owners, txn, &k, &d, DB_NODUPDATA);
	return rc == DB_KEYEXIST ? 0 : rc;
}

int
owner_del(struct store *st, DB_TXN *txn, const char *owner, int64_t id)
{
	unsigned char b[8];
	DBC *c;
	DBT k, d;
	int rc, rc2;

	ms_be64_put(b, id);
	if ((rc = st->owners->cursor(st->owners, txn, &c, 0)) != 0)
		return rc;
	dbt_key(&k, owner, strlen(owner));
	dbt_key(&d, b, 8);
	if ((rc = c->get(c, &k, &d, DB_GET_BOTH | DB_RMW)) == 0)
		rc = c->del(c, 0);
	if (rc == DB_NOTFOUND)
		rc = 0;
	rc2 = c->close(c);
	return rc ? rc : rc2;
}

/* The time of an audit record: formatted again only when it changed. */
static const char *
audit_now(struct store *st)
{
	int64_t ms = ms_now_ms();

	if (ms != st->now_ms || st->now[0] == '\0') {
		ms_time_format(ms, st->now);
		st->now_ms = ms;
	}
	return st->now;
}

int
audit_add(struct store *st, DB_TXN *txn, const char *who, const char *what,
    json_t *details)
{
	unsigned char b[8];
	json_t *rec;
	DBT k;
	int rc;

	rc = st->counters_loaded ? audit_flush(st, txn) : EINVAL;
	if (rc != 0) {
		json_decref(details);
		return rc;
	}
	rec = json_pack("{s:I,s:s,s:s,s:s}", "n", (json_int_t)st->next_audit,
	    "ts", audit_now(st), "who", who, "what", what);
	if (details != NULL) {
		json_object_update(rec, details);
		json_decref(details);
	}
	ms_be64_put(b, st->next_audit);
	dbt_key(&k, b, 8);
	rc = put_json(st->audit, txn, &k, rec);
	json_decref(rec);
	if (rc == 0)
		st->next_audit++;
	return rc;
}

int
audit_add_raw(struct store *st, DB_TXN *txn, const char *who,
    const char *what, const char *fields)
{
	unsigned char b[8];
	char rec[16384];
	struct tbuf t;
	DBT k, d;
	int rc;

	if (!st->counters_loaded)
		return EINVAL;
	if ((rc = audit_flush(st, txn)) != 0)
		return rc;
	tb_init(&t, rec, sizeof(rec));
	tb_str(&t, "{\"n\":");
	tb_i64(&t, st->next_audit);
	tb_str(&t, ",\"ts\":\"");
	tb_str(&t, audit_now(st));
	tb_str(&t, "\",\"who\":");
	tb_quote(&t, who);
	tb_str(&t, ",\"what\":\"");
	tb_str(&t, what);
	tb_str(&t, *fields ? "\"," : "\"");
	tb_str(&t, fields);
	tb_mem(&t, "}", 1);
	if (t.over)
		return EINVAL;
	ms_be64_put(b, st->next_audit);
	dbt_key(&k, b, 8);
	dbt_key(&d, rec, t.n);
	rc = st->audit->put(st->audit, txn, &k, &d, 0);
	if (rc == 0)
		st->next_audit++;
	return rc;
}

int
audit_take(struct store *st, const char *who, const char *fields)
{
	if (!st->counters_loaded || strlen(who) >= sizeof(st->tk_who))
		return EINVAL;
	if (st->tk_count > 0 && strcmp(who, st->tk_who) != 0)
		return EINVAL;	/* one loop, one role: cannot happen */
	if (st->tk_count == 0) {
		st->tk_first = st->next_audit;
		st->tk.len = 0;
		snprintf(st->tk_who, sizeof(st->tk_who), "%s", who);
		memcpy(st->tk_ts, audit_now(st), MS_TIME_LEN);
	} else
		ms_buf_add(&st->tk, ",", 1);
	ms_buf_add(&st->tk, "{", 1);
	ms_buf_add(&st->tk, fields, strlen(fields));
	ms_buf_add(&st->tk, "}", 1);
	if (st->tk.failed)
		return ENOMEM;
	st->tk_count++;
	st->next_audit++;
	return 0;
}

int
audit_flush(struct store *st, DB_TXN *txn)
{
	unsigned char b[8];
	char head[MS_TEXT_MAX * 6 + 256];
	struct tbuf t;
	DBT k, d;
	char *rec;
	int rc;

	if (st->tk_count == 0)
		return 0;
	tb_init(&t, head, sizeof(head));
	tb_str(&t, "{\"n\":");
	tb_i64(&t, st->tk_first);
	tb_str(&t, ",\"ts\":\"");
	tb_str(&t, st->tk_ts);
	tb_str(&t, "\",\"who\":");
	tb_quote(&t, st->tk_who);
	tb_str(&t, "," AUDIT_TAKES_TAG);
	tb_i64(&t, st->tk_count);
	tb_str(&t, ",\"takes\":[");
	if (t.over || (rec = malloc(t.n + st->tk.len + 2)) == NULL)
		return ENOMEM;
	memcpy(rec, head, t.n);
	memcpy(rec + t.n, st->tk.p, st->tk.len);
	memcpy(rec + t.n + st->tk.len, "]}", 2);
	ms_be64_put(b, st->tk_first);
	dbt_key(&k, b, 8);
	dbt_key(&d, rec, t.n + st->tk.len + 2);
	rc = st->audit->put(st->audit, txn, &k, &d, 0);
	free(rec);
	if (rc == 0)
		st->tk_count = 0;
	return rc;
}

json_t *
product_cache(struct store *st)
{
	if (st->products_seen == NULL)
		st->products_seen = json_object();
	return st->products_seen;
}

int
store_verify_files(const char *home)
{
	DB_ENV *env;
	DB *db;
	char path[PATH_MAX + 64], abs[PATH_MAX], side[PATH_MAX + 8];
	int bad = 0, rc;

	/*
	 * The private environment lives in ms/, away from the ledger's
	 * DB_CONFIG: a site's repmgr_site lines there made Berkeley DB
	 * allocate sites that a private environment's close never frees.
	 * The databases are named by their whole path.
	 */
	if (realpath(home, abs) == NULL ||
	    side_path(abs, NULL, side, sizeof(side)) == -1) {
		ms_warn("%s", home);
		return -1;
	}
	for (int i = 0; store_db_names[i] != NULL; i++) {
		if ((rc = db_env_create(&env, 0)) != 0)
			return -1;
		env->set_errpfx(env, ms_prog);
		env->set_errfile(env, stderr);
		if ((rc = env->open(env, side, DB_CREATE | DB_INIT_MPOOL |
		    DB_PRIVATE, 0600)) != 0) {
			ms_warnx("%s: %s", side, db_strerror(rc));
			env->close(env, 0);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", abs, store_db_names[i]);
		if ((rc = db_create(&db, env, 0)) == 0) {
			/* verify always destroys the handle */
			rc = db->verify(db, path, NULL, NULL, 0);
		}
		if (rc != 0) {
			ms_warnx("%s/%s: %s", home, path, db_strerror(rc));
			bad++;
		}
		env->close(env, 0);
	}
	return bad ? -1 : 0;
}
