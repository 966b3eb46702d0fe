/*
 * Bells: one process wakes another after a commit (see bell.c).  A
 * commit that opened or ended a settlement rings SETTLEMENT_BELL; a
 * follower (due -f, serve waiting for an outcome) wakes at once.  A
 * record commit rings OUTBOX_BELL in the robot's outbox; push -f wakes.
 * watch returns an fd that polls readable when any bell of that
 * directory rang, or -1; heard drains it.
 */
#ifndef MSCART_BELL_H
#define MSCART_BELL_H

#define SIDE_DIR	"ms"	/* in the environment's directory */
#define SETTLEMENT_BELL	"settlements.bell"
#define OUTBOX_BELL	"outbox.bell"

/* home/ms/name (home/ms when name is NULL), ms/ made if need be; or -1. */
int	side_path(const char *home, const char *name, char *path, size_t len);
void	bell_ring(const char *home, const char *name);
int	bell_watch(const char *home);
void	bell_heard(int fd);

#endif
