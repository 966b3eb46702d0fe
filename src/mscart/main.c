/* mscart: the ledger of carts, tabs and settlements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms.h"
#include "version.h"
#include "mscart.h"

static const struct command {
	const char	*name;
	int		(*run)(int, char **);
	const char	*synopsis;
} commands[] = {
	{ "init", cmd_init, "init [-ch] [-d dir] [-P priority] [-p host:port] [-s host:port]" },
	{ "apply", cmd_apply, "apply [-hn] [-b batch] [-d dir] [file ...]" },
	{ "replicate", cmd_replicate, "replicate [-h] [-d dir] [-r host:port]" },
	{ "serve", cmd_serve, "serve --role role [-hn] [-b batch] [-d dir]" },
	{ "list", cmd_list, "list [-Hh] [-d dir] users | products | cards | robots | review | settlements | credits" },
	{ "card", cmd_card, "card [-h] [-d dir] add | remove user card" },
	{ "price", cmd_price, "price [-h] [-d dir] sku amount [currency]" },
	{ "block", cmd_block, "block [-h] [-d dir] user" },
	{ "unblock", cmd_unblock, "unblock [-h] [-d dir] user" },
	{ "stock", cmd_stock, "stock [-Hh] [-d dir] [-l level] [robot]" },
	{ "restock", cmd_restock, "restock [-h] [-d dir] [-s sku] robot slot count" },
	{ "show", cmd_show, "show [-aHh] [-d dir] user | card" },
	{ "import", cmd_import, "import [-chv] [-d dir] [file ...]" },
	{ "due", cmd_due, "due [-fhn] [-d dir] [-o duration] [-s id] [-u user] [-w duration]" },
	{ "settle", cmd_settle, "settle [-h] [-d dir] [file ...]" },
	{ "void", cmd_void, "void [-h] [-d dir] [-m reason] line" },
	{ "refund", cmd_refund, "refund [-h] [-d dir] [-m reason] line" },
	{ "report", cmd_report, "report [-ch] [-b by] [-d dir]" },
	{ "log", cmd_log, "log [-h] [-d dir] [-n count]" },
	{ "archive", cmd_archive, "archive [-hn] [-d dir] -b time -o file | -t file" },
	{ "backup", cmd_backup, "backup [-hl] [-d dir] target" },
	{ "restore", cmd_restore, "restore [-h] [-t time] backup dir" },
	{ "verify", cmd_verify, "verify [-h] [-d dir]" },
	{ "status", cmd_status, "status [-Hh] [-d dir] [-p file]" },
	{ "record", cmd_record, "record [-h] [-d dir] [-w seconds] -r robot" },
	{ "push", cmd_push, "push [-fh] [-b backoff] [-d dir] [-s command] [-t timeout] [-w seconds] -r robot [-- command ...]" },
	{ "held", cmd_held, "held [-ah] [-d dir] [-s seq] -r robot" },
	{ NULL, NULL, NULL }
};

static void
usage(void)
{
	fprintf(stderr, "usage: mscart [-h] [-d dir] command [args]\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(stderr, "  mscart %s\n", c->synopsis);
}

int
main(int argc, char *argv[])
{
	ms_setprog(argv[0]);
	ms_version_option(argc, argv);
	/* mscart -d dir command ...: the same as MSCART_DB=dir */
	if (argc >= 3 && strcmp(argv[1], "-d") == 0) {
		if (setenv("MSCART_DB", argv[2], 1) == -1)
			ms_err(MS_EX_FAIL, "setenv");
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0) {
		usage();
		return argc < 2 ? MS_EX_USAGE : MS_EX_OK;
	}
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	ms_warnx("unknown command \"%s\"", argv[1]);
	usage();
	return MS_EX_USAGE;
}
