/* mscart.h: what mscart's command files share. */
#ifndef MSCART_H
#define MSCART_H

#include <stdint.h>

/* Each command gets argv with argv[0] = the command's name. */
int	cmd_apply(int, char **);	/* cmd_loop.c */
int	cmd_serve(int, char **);
int	cmd_import(int, char **);
int	cmd_settle(int, char **);
int	cmd_due(int, char **);		/* cmd_admin.c */
int	cmd_show(int, char **);
int	cmd_void(int, char **);
int	cmd_refund(int, char **);
int	cmd_report(int, char **);
int	cmd_log(int, char **);		/* cmd_maint.c */
int	cmd_init(int, char **);
int	cmd_list(int, char **);		/* cmd_list.c */
int	cmd_card(int, char **);		/* cmd_edit.c */
int	cmd_price(int, char **);
int	cmd_block(int, char **);
int	cmd_unblock(int, char **);
int	cmd_stock(int, char **);	/* cmd_stock.c */
int	cmd_restock(int, char **);
int	cmd_backup(int, char **);
int	cmd_verify(int, char **);
int	cmd_status(int, char **);	/* health.c */
int	cmd_restore(int, char **);	/* backup.c */
int	cmd_record(int, char **);	/* sync/record.c */
int	cmd_push(int, char **);		/* sync/push.c */
int	cmd_held(int, char **);		/* sync/held.c */
int	cmd_replicate(int, char **);	/* replica.c */
int	cmd_archive(int, char **);	/* archive.c */

/* Verify a ledger (cmd_maint.c): its problems, or -1 if unreadable. */
long	verify_ledger(const char *home);
/*
 * backup.c: is home a copy (a backup: no process ever opened it, so no
 * region files), and verify one in a restored copy beside it.
 */
int	backup_is_copy(const char *home);
long	verify_backup(const char *home);

/* "90", "1.5s", "15m", "2h", "7d" into milliseconds; -1 if not one. */
int	parse_duration(const char *, int64_t *ms);

/* "usage: mscart SYNOPSIS" on stderr; returns MS_EX_USAGE. */
int	cmd_usage(const char *synopsis);

#endif
