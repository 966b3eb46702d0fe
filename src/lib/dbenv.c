/* dbenv.c: the Berkeley DB environment every mscart process shares. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbenv.h"
#include "dbrep.h"
#include "ms.h"

#define MS_STR_(x)	#x
#define MS_STR(x)	MS_STR_(x)

static const char db_config[] =
    "# written by ms: the db5.3_* utilities read this too\n"
    "set_lk_detect DB_LOCK_DEFAULT\n"
    "set_lg_bsize 1048576\n"
    "set_lg_max 10485760\n"
    "set_lk_max_locks 100000\n"
    "set_lk_max_objects 100000\n"
    "set_lk_max_lockers 10000\n"
    "set_tx_max 1000\n"
    "set_lock_timeout " MS_STR(MS_DBENV_LOCK_TIMEOUT_US) "\n"
    "log_set_config DB_LOG_AUTO_REMOVE on\n";

void
ms_dbenv_write_config(const char *home)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/DB_CONFIG", home);
	if (access(path, F_OK) == 0)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return;	/* another process won the race: same content */
	if (write(fd, db_config, sizeof(db_config) - 1) == -1)
		ms_warn("%s", path);
	fsync(fd);
	close(fd);
}

/*
 * Berkeley DB's own messages.  After a process was killed inside the
 * environment, the next opener and the processes still attached print a
 * burst of them (BDB1546 unable to join the environment, BDB0126 mmap:
 * Invalid argument, a dozen "PANIC: fatal region error detected; run
 * recovery") and then carry on correctly, since ms reopens and recovers.
 * They are said once, in our own words; anything else is passed on.
 */
static int recovery_said;

static void
db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	static const char *const recovery[] = {
		"BDB1546", "unable to join the environment", "BDB0126",
		"mmap: Invalid argument", "PANIC", "run recovery",
		"DB_RUNRECOVERY", "BDB0060", "BDB1507", "BDB1581", NULL
	};
	const char *home = NULL;

	(void)pfx;
	for (const char *const *r = recovery; *r != NULL; r++)
		if (strstr(msg, *r) != NULL) {
			if (recovery_said++)
				return;
			if (env->get_home((DB_ENV *)env, &home) != 0 || home == NULL)
				home = ".";
			fprintf(stderr, "%s: %s: a process died while it used the "
			    "database; it is being recovered, nothing is lost\n",
			    ms_prog, home);
			return;
		}
	fprintf(stderr, "%s: %s\n", ms_prog, msg);
}

int
ms_dbenv_open(const char *home, const struct ms_dbenv_opts *opts,
    DB_ENV **envp, char *err, size_t errlen)
{
	DB_ENV *env;
	int rc, mb, rep;
	u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK |
	    DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER | DB_REGISTER | DB_THREAD;

	*envp = NULL;
	if (mkdir(home, 0700) == -1 && errno != EEXIST) {
		SET_ERR("%s: %s", home, strerror(errno));
		return errno;
	}
	ms_dbenv_write_config(home);
	if ((rep = ms_rep_configured(home)))
		flags |= DB_INIT_REP;
	if ((rc = db_env_create(&env, 0)) != 0) {
		SET_ERR("db_env_create: %s", db_strerror(rc));
		return rc;
	}
	env->set_errcall(env, db_errcall);
	mb = opts && opts->cachesize_mb > 0 ? opts->cachesize_mb : 32;
	env->set_cachesize(env, (u_int32_t)(mb / 1024), (u_int32_t)(mb % 1024) << 20, 1);
	env->set_lk_detect(env, DB_LOCK_DEFAULT);
	/*
	 * A process SIGKILLed while holding locks keeps them until someone
	 * runs recovery, and a waiter without a timeout would wait forever.
	 * With one, the waiter gets DB_LOCK_NOTGRANTED and can reopen the
	 * environment (DB_REGISTER then finds the dead process and recovers).
	 */
	env->set_timeout(env, MS_DBENV_LOCK_TIMEOUT_US, DB_SET_LOCK_TIMEOUT);
	env->set_thread_count(env, 64);
	if (opts && opts->nosync)
		env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1);
	env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
	if (rep)
		ms_rep_prepare(env);
	if ((rc = env->open(env, home, flags, 0600)) != 0) {
		SET_ERR("%s: cannot open environment: %s", home, db_strerror(rc));
		env->close(env, 0);
		return rc;
	}
	/* the first process to start listens; the others are subordinate */
	if (rep && (rc = ms_rep_start(env)) != 0) {
		SET_ERR("%s: cannot join the replication group: %s", home,
		    db_strerror(rc));
		env->close(env, 0);
		return rc;
	}
	*envp = env;
	return 0;
}

void
ms_dbenv_close(DB_ENV *env)
{
	if (env == NULL)
		return;
	env->txn_checkpoint(env, 0, 0, 0);
	env->close(env, 0);
}

int
ms_dbenv_needs_reopen(int rc)
{
	return rc == DB_RUNRECOVERY || rc == DB_REP_HANDLE_DEAD;
}

int
ms_dbenv_stuck(int rc, int tries)
{
	return rc == DB_LOCK_NOTGRANTED && tries >= 2;
}

void
ms_be64_put(unsigned char b[8], int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--, u >>= 8)
		b[i] = (unsigned char)(u & 0xff);
}

int64_t
ms_be64_get(const unsigned char b[8])
{
	uint64_t u = 0;

	for (int i = 0; i < 8; i++)
		u = (u << 8) | b[i];
	return (int64_t)u;
}
