/* mscart.h: what mscart's command files share. */
#ifndef MSCART_H
#define MSCART_H

/* Each command gets argv with argv[0] = the command's name. */
int	cmd_apply(int, char **);
int	cmd_serve(int, char **);
int	cmd_record(int, char **);	/* sync_record.c */
int	cmd_push(int, char **);		/* sync_push.c */

#endif
