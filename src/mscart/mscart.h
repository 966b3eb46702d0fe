/* mscart.h: what mscart's command files share. */
#ifndef MSCART_H
#define MSCART_H

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
int	cmd_backup(int, char **);
int	cmd_verify(int, char **);
int	cmd_record(int, char **);	/* sync/record.c */
int	cmd_push(int, char **);		/* sync/push.c */
int	cmd_held(int, char **);		/* sync/held.c */
int	cmd_replicate(int, char **);	/* replica.c */

/* "usage: mscart SYNOPSIS" on stderr; returns MS_EX_USAGE. */
int	cmd_usage(const char *synopsis);

#endif
