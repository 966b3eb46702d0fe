/*
 * cmd_loop.c: the commands built on the message loop: apply (admin, from
 * stdin), serve (one role, for sshd forced commands), import (product and
 * user records) and settle (mspay's charged lines).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "mscart.h"
#include "replica.h"

static int
loop_usage(const char *synopsis)
{
	fprintf(stderr, "usage: mscart %s\n", synopsis);
	return MS_EX_USAGE;
}

static const unsigned long requests =
    TYPE_BIT(MS_MSG_IDENTIFY) | TYPE_BIT(MS_MSG_DEPART) |
    TYPE_BIT(MS_MSG_TAKE) | TYPE_BIT(MS_MSG_RETURN) |
    TYPE_BIT(MS_MSG_DOOR) | TYPE_BIT(MS_MSG_ALARM) |
    TYPE_BIT(MS_MSG_SESSION_END) | TYPE_BIT(MS_MSG_QUERY) |
    TYPE_BIT(MS_MSG_PAY) | TYPE_BIT(MS_MSG_PRODUCT) |
    TYPE_BIT(MS_MSG_USER) | TYPE_BIT(MS_MSG_CHARGED) |
    TYPE_BIT(MS_MSG_RESTOCK) |
    TYPE_BIT(MS_MSG_HELLO);

/*
 * A hangup means the client went away: stop like on SIGTERM.  Which
 * signal stopped the loop makes the exit status of apply, import and
 * settle when input was left (128 + its number, as a shell says).
 */
static volatile sig_atomic_t stop_signal;

static void
on_stop_signal(int sig)
{
	stop_signal = sig;
	ms_sig_stop = 1;
}

/*
 * Run the loop over stdin or each file.  Returns the exit status: 0, 1
 * when a line was refused (unless refusals_ok), 75 when the database
 * failed.
 */
static int
loop_files(const char *home, int nosync, int batch, struct loop_opts *o,
    int argc, char **argv, int refusals_ok)
{
	struct store st;
	long refused = 0, r;
	int fd, status = MS_EX_OK;

	int stopped = 0;

	if (store_open(&st, home, nosync) != 0)
		return MS_EX_TEMPFAIL;
	/*
	 * Every line of import and settle is a write: on a client of a
	 * group all would be answered not-master, so say it once, before
	 * reading any, and let the caller try the master.
	 */
	if (o->writer != NULL && replica_refuse_write(&st, o->writer)) {
		store_close(&st);
		return MS_EX_TEMPFAIL;
	}
	ms_sig_install(0);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);	/* no SA_RESTART */
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	o->batch_max = batch;
	o->stopped = &stopped;
	if (argc == 0) {
		r = ledger_loop(&st, STDIN_FILENO, "-", o);
		if (r < 0)
			status = MS_EX_TEMPFAIL;
		else
			refused += r;
	}
	for (int i = 0; i < argc; i++) {
		if (ms_sig_stop) {
			stopped = 1;	/* files not even opened */
			break;
		}
		if ((fd = open(argv[i], O_RDONLY)) == -1) {
			ms_warn("%s", argv[i]);
			status = MS_EX_FAIL;
			continue;
		}
		r = ledger_loop(&st, fd, argv[i], o);
		close(fd);
		if (r < 0)
			status = MS_EX_TEMPFAIL;
		else
			refused += r;
	}
	if (o->charged != NULL)
		health_settle_run(&st, status == MS_EX_OK && refused == 0 &&
		    !stopped, o->charged);
	store_close(&st);
	if (ms_close_stdout() != 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	if (status == MS_EX_OK && refused > 0 && !refusals_ok)
		status = MS_EX_FAIL;
	/*
	 * Stopped with input left: not done, whatever was refused so far,
	 * and a script must be able to tell (serve's input is a client's,
	 * whose end is not ours to report).
	 */
	if (stopped && !refusals_ok && status != MS_EX_TEMPFAIL)
		status = 128 + (stop_signal ? stop_signal : SIGTERM);
	return status;
}

/* Options every loop command shares: -b batch -d dir -n. */
static int
common_opt(int ch, const char **home, int *nosync, int *batch)
{
	long v;

	switch (ch) {
	case 'b':
		if (ms_parse_long(optarg, 1, 100000, &v) == -1) {
			ms_warnx("-b %s: not a batch size from 1 to 100000", optarg);
			return -1;
		}
		*batch = (int)v;
		return 0;
	case 'd':
		*home = optarg;
		return 0;
	case 'n':
		*nosync = 1;
		return 0;
	default:
		return -1;
	}
}

/*
 * The loop commands an administrator runs on files or stdin (apply,
 * import, settle): the same options, the admin role, and the message
 * types each accepts.  -v (where optstring has it) turns quiet off.
 */
static int
admin_loop(int argc, char **argv, const char *syn, const char *optstring,
    const char *who, struct loop_opts *o)
{
	const char *home = NULL;
	struct role role;
	int ch, nosync = 0, batch = 1000, create = 0;

	while ((ch = getopt(argc, argv, optstring)) != -1) {
		if (ch == 'h') {
			loop_usage(syn);
			return MS_EX_OK;
		}
		if (ch == 'c') {	/* import -c: make the ledger if none */
			create = 1;
			continue;
		}
		if (ch == 'v') {
			o->quiet = 0;
			continue;
		}
		if (common_opt(ch, &home, &nosync, &batch) == -1)
			return loop_usage(syn);
	}
	argc -= optind;
	argv += optind;
	role_admin(&role, who);
	o->role = &role;
	return loop_files(store_ledger(home, create), nosync, batch, o, argc,
	    argv, 0);
}

int
cmd_apply(int argc, char **argv)
{
	struct loop_opts o = { 0 };

	o.warn = 1;
	o.allowed = requests;
	return admin_loop(argc, argv, "apply [-hn] [-b batch] [-d dir] [file ...]",
	    "b:d:hn", "apply", &o);
}

int
cmd_serve(int argc, char **argv)
{
	const char *syn = "serve --role role [-hn] [-b batch] [-d dir]";
	const char *home = NULL, *rolename = NULL;
	struct role role;
	struct loop_opts o = { 0 };
	int ch, nosync = 0, batch = 1000;

	/* --role is the spelling people put in authorized_keys */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
			rolename = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) *
			    sizeof(*argv));
			argc -= 2;
			i--;
		} else if (strncmp(argv[i], "--role=", 7) == 0) {
			rolename = argv[i] + 7;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) *
			    sizeof(*argv));
			argc -= 1;
			i--;
		}
	}
	while ((ch = getopt(argc, argv, "b:d:hnr:")) != -1) {
		if (ch == 'h') {
			loop_usage(syn);
			return MS_EX_OK;
		}
		if (ch == 'r') {
			rolename = optarg;
			continue;
		}
		if (common_opt(ch, &home, &nosync, &batch) == -1)
			return loop_usage(syn);
	}
	argc -= optind;
	if (argc != 0 || rolename == NULL)
		return loop_usage(syn);
	if (role_parse(rolename, &role) == -1) {
		ms_warnx("--role %s: must be admin, robot:ID or terminal:USER",
		    rolename);
		return loop_usage(syn);
	}
	o.role = &role;
	o.allowed = requests;
	o.outcomes = 1;
	/* a client's refused line is answered, not a server failure */
	return loop_files(store_ledger(home, 0), nosync, batch, &o, 0, NULL, 1);
}

int
cmd_import(int argc, char **argv)
{
	struct loop_opts o = { 0 };

	o.quiet = 1;
	o.allowed = TYPE_BIT(MS_MSG_PRODUCT) | TYPE_BIT(MS_MSG_USER);
	o.writer = "import";
	return admin_loop(argc, argv, "import [-chv] [-d dir] [file ...]",
	    "cd:hv", "import", &o);
}

int
cmd_settle(int argc, char **argv)
{
	struct loop_opts o = { 0 };

	long charged[CHARGED_NRESULTS] = { 0 };

	o.warn = 1;
	o.allowed = TYPE_BIT(MS_MSG_CHARGED);
	o.charged = charged;
	o.writer = "settle";
	return admin_loop(argc, argv, "settle [-h] [-d dir] [file ...]", "d:h",
	    "settle", &o);
}
