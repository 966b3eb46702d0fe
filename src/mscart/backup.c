/*
 * backup.c: hot backups of the ledger, the logs written after one (so a
 * restore can reach a later point), and restoring a backup into a new
 * directory with catastrophic recovery.
 *
 * A backup directory is never opened as an environment: restore and
 * verify copy it first, because recovery writes to the logs and pages it
 * runs on, and a backup whose logs went their own way could no longer
 * take the ledger's later logs.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "mscart.h"
#include "replica.h"
#include "shoptime.h"

/* The DB_CONFIG lines for "remove logs after a checkpoint" or not. */
#define LOGS_REMOVED	"log_set_config DB_LOG_AUTO_REMOVE on\n"
#define LOGS_KEPT	"log_set_config DB_LOG_AUTO_REMOVE off\n"

/* Copy a file, synced; 0 or -1 (said). */
static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = 0;

	if ((in = open(from, O_RDONLY)) == -1) {
		ms_warn("%s", from);
		return -1;
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		ms_warn("%s", to);
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			ms_warn("%s", to);
			rc = -1;
			break;
		}
	if (n == -1) {
		ms_warn("%s", from);
		rc = -1;
	}
	if (fsync(out) == -1 || close(out) == -1) {
		ms_warn("%s", to);
		rc = -1;
	}
	close(in);
	return rc;
}

/* The files of a backup or ledger worth copying: not the regions. */
static int
ledger_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;

	if (name[0] == '.' || strncmp(name, "__db.", 5) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The lowest or highest number of a log.N file in dir; 0 if none. */
static long
log_number(const char *dir, int highest)
{
	struct dirent *e;
	long n, best = 0;
	char *end;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "log.", 4) != 0)
			continue;
		n = strtol(e->d_name + 4, &end, 10);
		if (*end != '\0' || n <= 0)
			continue;
		if (best == 0 || (highest ? n > best : n < best))
			best = n;
	}
	closedir(d);
	return best;
}

int
backup_is_copy(const char *home)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/__db.001", home);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/__db.register", home);
	return access(path, F_OK) != 0;
}

/* Make dir, or take it if it is empty; 0 or -1 (said). */
static int
empty_dir(const char *dir)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST || (d = opendir(dir)) == NULL) {
		ms_warn("%s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	if (n > 0) {
		ms_warnx("%s: not empty: a restore goes into a new directory",
		    dir);
		return -1;
	}
	return 0;
}

/* Remove a restored copy verify made: its files and its ms/. */
static void
remove_dir(const char *dir)
{
	char path[8192];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			continue;
		if (errno == EISDIR)
			remove_dir(path);	/* ms/ */
		else
			ms_warn("%s", path);
	}
	closedir(d);
	if (rmdir(dir) == -1)
		ms_warn("%s", dir);
}

/*
 * Copy the backup's files into dir and run catastrophic
 * recovery there: every log the backup holds is replayed over its
 * database files, up to until (ms since the epoch) when it is not -1.
 * A private environment: no region files are left.  0 or -1 (said).
 */
static int
restore_copy(const char *backup, const char *dir, int64_t until)
{
	char from[4096], to[4096];
	struct dirent *e;
	DB_ENV *env;
	time_t t;
	DIR *d;
	int rc;

	if ((d = opendir(backup)) == NULL) {
		ms_warn("%s", backup);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (!ledger_file(backup, e->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", backup, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", dir, e->d_name);
		if (copy_file(from, to) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if ((rc = db_env_create(&env, 0)) != 0) {
		ms_warnx("db_env_create: %s", db_strerror(rc));
		return -1;
	}
	env->set_errpfx(env, ms_prog);
	env->set_errfile(env, stderr);
	env->set_cachesize(env, 0, 64 << 20, 1);
	if (until != -1) {
		t = (time_t)(until / 1000);
		if ((rc = env->set_tx_timestamp(env, &t)) != 0) {
			ms_warnx("%s: cannot recover to that time: %s", dir,
			    db_strerror(rc));
			env->close(env, 0);
			return -1;
		}
	}
	rc = env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK |
	    DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER_FATAL | DB_PRIVATE, 0600);
	if (rc != 0) {
		ms_warnx("%s: recovery failed%s: %s", dir, until != -1 ?
		    " (a time before the backup's first log?)" : "",
		    db_strerror(rc));
		env->close(env, 0);
		return -1;
	}
	env->txn_checkpoint(env, 0, 0, DB_FORCE);
	if ((rc = env->close(env, 0)) != 0) {
		ms_warnx("%s: %s", dir, db_strerror(rc));
		return -1;
	}
	return 0;
}

/* The same into dir, new or empty; on failure nothing is left there. */
static int
restore_into(const char *backup, const char *dir, int64_t until)
{
	if (empty_dir(dir) == -1)
		return -1;
	if (restore_copy(backup, dir, until) == -1) {
		remove_dir(dir);
		return -1;
	}
	return 0;
}

long
verify_backup(const char *home)
{
	char tmp[4096];
	size_t n = strlen(home);
	long problems;

	while (n > 1 && home[n - 1] == '/')
		n--;
	snprintf(tmp, sizeof(tmp), "%.*s.verify.XXXXXX", (int)n, home);
	if (mkdtemp(tmp) == NULL) {
		ms_warn("%s", tmp);
		return -1;
	}
	fprintf(stderr, "%s: verify: %s is a backup: checking a restored "
	    "copy in %s\n", ms_prog, home, tmp);
	problems = restore_into(home, tmp, -1) == 0 ? verify_ledger(tmp) : 1;
	remove_dir(tmp);
	return problems;
}

/*
 * Copy every log file of the environment into target, each whole
 * before it takes its name there.  Berkeley DB's DB_BACKUP_UPDATE is
 * not used: it removes the target's older logs, which a backup that is
 * never recovered in place still needs.
 */
static int
copy_logs(struct store *st, const char *target)
{
	char from[4096], tmp[4200], to[4096], **all = NULL;
	int rc;

	if ((rc = st->env->log_flush(st->env, NULL)) != 0 ||
	    (rc = st->env->log_archive(st->env, &all, DB_ARCH_LOG)) != 0) {
		ms_warnx("backup: %s: %s", st->home, db_strerror(rc));
		return -1;
	}
	for (char **p = all; p != NULL && *p != NULL; p++) {
		snprintf(from, sizeof(from), "%s/%s", st->home, *p);
		snprintf(to, sizeof(to), "%s/%s", target, *p);
		snprintf(tmp, sizeof(tmp), "%s.tmp", to);
		if (copy_file(from, tmp) == -1 || rename(tmp, to) == -1) {
			ms_warn("%s", to);
			unlink(tmp);
			free(all);
			return -1;
		}
	}
	free(all);
	return 0;
}

/*
 * Copy DB_CONFIG without its replication lines: a backup of a site of a
 * group restores as a single-site ledger (a site joins a group empty,
 * from the master).  0 or -1 (said).
 */
static int
copy_config(const char *from, const char *to)
{
	char line[4096], tmp[4200];
	FILE *in, *out;
	int rc = 0;

	if ((in = fopen(from, "r")) == NULL) {
		ms_warn("%s", from);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	if ((out = fopen(tmp, "w")) == NULL) {
		ms_warn("%s", tmp);
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof(line), in) != NULL)
		if (strncmp(line, "repmgr_", 7) != 0 &&
		    strncmp(line, "rep_", 4) != 0 &&
		    strncmp(line, "# replication:", 14) != 0)
			fputs(line, out);
	if (ferror(in) || fflush(out) == EOF || fsync(fileno(out)) == -1) {
		ms_warn("%s", tmp);
		rc = -1;
	}
	fclose(in);
	if (fclose(out) == EOF || (rc == 0 && rename(tmp, to) == -1)) {
		ms_warn("%s", to);
		rc = -1;
	}
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/*
 * From now on, logs stay in the ledger until backup -l has copied them:
 * DB_CONFIG says so to every process that opens the environment later,
 * and the open environment is told at once.
 */
static int
keep_logs(struct store *st)
{
	char path[4096], tmp[4200], *text = NULL, *at;
	size_t len = 0;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/DB_CONFIG", st->home);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(path, "r")) != NULL) {
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *p = realloc(text, len + n + 1);

			if (p == NULL)
				break;
			text = p;
			memcpy(text + len, buf, n);
			len += n;
			text[len] = '\0';
		}
		fclose(f);
	}
	if (text != NULL && strstr(text, LOGS_KEPT) != NULL &&
	    strstr(text, LOGS_REMOVED) == NULL)
		goto tell;
	if ((f = fopen(tmp, "w")) == NULL) {
		ms_warn("%s", tmp);
		free(text);
		return -1;
	}
	/* every line as it was, but the one about removing logs */
	for (char *line = text; line != NULL && *line != '\0'; line = at) {
		at = strchr(line, '\n');
		at = at != NULL ? at + 1 : line + strlen(line);
		if (strncmp(line, LOGS_REMOVED, sizeof(LOGS_REMOVED) - 1) != 0 &&
		    strncmp(line, LOGS_KEPT, sizeof(LOGS_KEPT) - 1) != 0)
			fwrite(line, 1, (size_t)(at - line), f);
	}
	fputs("# backup -l: logs stay until a backup has copied them\n"
	    LOGS_KEPT, f);
	if (fflush(f) == EOF || fsync(fileno(f)) == -1 || fclose(f) == EOF ||
	    rename(tmp, path) == -1) {
		ms_warn("%s", path);
		rc = -1;
	}
tell:
	free(text);
	if (rc == 0 && (rc = st->env->log_set_config(st->env,
	    DB_LOG_AUTO_REMOVE, 0)) != 0) {
		ms_warnx("%s: %s", st->home, db_strerror(rc));
		rc = -1;
	}
	return rc;
}

int
cmd_backup(int argc, char **argv)
{
	const char *syn = "backup [-hl] [-d dir] target";
	const char *home = NULL, *target;
	char src[4096], dst[4096], ts[MS_TIME_LEN], probe[4096];
	char **copied = NULL, real[PATH_MAX];
	struct store st;
	int ch, rc, logs = 0, full = 1;

	while ((ch = getopt(argc, argv, "d:hl")) != -1) {
		switch (ch) {
		case 'd': home = optarg; break;
		case 'l': logs = 1; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind + 1 != argc)
		return cmd_usage(syn);
	target = argv[optind];
	home = store_ledger(home, 0);
	snprintf(probe, sizeof(probe), "%s/lines.db", target);
	if (logs && access(probe, F_OK) == 0)
		full = 0;	/* the logs since are added to it */
	if (store_open(&st, home, 0) != 0)
		return MS_EX_TEMPFAIL;
	if (logs && keep_logs(&st) == -1) {
		store_close(&st);
		return MS_EX_FAIL;
	}
	/*
	 * Logs are added only where they follow on: a ledger whose first
	 * log is past the target's last (logs removed before -l was used,
	 * or copied to another target) gets a full backup instead.
	 */
	if (!full && log_number(home, 0) > log_number(target, 1) + 1) {
		fprintf(stderr, "%s: backup: %s lacks logs the ledger no longer "
		    "has: a full backup instead\n", ms_prog, target);
		full = 1;
	}
	/* a checkpoint first keeps the copied log short */
	st.env->txn_checkpoint(st.env, 0, 0, 0);
	/*
	 * The logs no process needs any more, listed before the copy: those
	 * are whole when copied, and may go once they are.
	 */
	if (logs && (rc = st.env->log_archive(st.env, &copied, 0)) != 0) {
		ms_warnx("backup: %s", db_strerror(rc));
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	if (full) {
		if ((rc = st.env->backup(st.env, target, DB_CREATE |
		    DB_BACKUP_CLEAN)) != 0)
			ms_warnx("backup %s: %s", target, db_strerror(rc));
	} else
		rc = copy_logs(&st, target);
	if (rc != 0) {
		free(copied);
		store_close(&st);
		return MS_EX_FAIL;
	}
	/* the copy gets the same settings, those of a single site */
	snprintf(src, sizeof(src), "%s/DB_CONFIG", home);
	snprintf(dst, sizeof(dst), "%s/DB_CONFIG", target);
	if (access(src, F_OK) == 0 && copy_config(src, dst) == -1)
		rc = -1;
	for (char **p = copied; rc == 0 && p != NULL && *p != NULL; p++) {
		snprintf(src, sizeof(src), "%s/%s", home, *p);
		if (unlink(src) == -1 && errno != ENOENT)
			ms_warn("%s", src);
	}
	free(copied);
	/* a client's ledger is read-only: status there shows no backup */
	if (rc == 0 && replica_writable(&st, NULL, 0)) {
		ms_time_format(ms_now_ms(), ts);
		health_note(&st, "health:backup", json_pack("{s:s,s:s,s:s}",
		    "ts", ts, "target", realpath(target, real) ? real : target,
		    "kind", full ? "full" : "logs"));
	}
	store_close(&st);
	return rc == 0 ? MS_EX_OK : MS_EX_FAIL;
}

int
cmd_restore(int argc, char **argv)
{
	const char *syn = "restore [-h] [-t time] backup dir";
	const char *until_s = NULL;
	char probe[4096];
	int64_t until = -1;
	long problems;
	int ch;

	while ((ch = getopt(argc, argv, "ht:")) != -1) {
		switch (ch) {
		case 't': until_s = optarg; break;
		case 'h': cmd_usage(syn); return MS_EX_OK;
		default: return cmd_usage(syn);
		}
	}
	if (optind + 2 != argc)
		return cmd_usage(syn);
	ms_shoptime_init();
	if (until_s != NULL && ms_shoptime_parse(until_s, &until) == -1) {
		ms_warnx("-t %s: not a date (2026-12-01) or local time "
		    "(2026-12-01T09:30:00)", until_s);
		return MS_EX_USAGE;
	}
	snprintf(probe, sizeof(probe), "%s/lines.db", argv[optind]);
	if (access(probe, F_OK) != 0) {
		ms_warnx("%s: not a backup (no lines.db)", argv[optind]);
		return MS_EX_FAIL;
	}
	if (restore_into(argv[optind], argv[optind + 1], until) == -1)
		return MS_EX_FAIL;
	if ((problems = verify_ledger(argv[optind + 1])) < 0)
		return MS_EX_TEMPFAIL;
	return problems > 0 ? MS_EX_FAIL : MS_EX_OK;
}
