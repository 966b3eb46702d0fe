/*
 * Bells: a process that committed something another process waits for
 * closes an empty file in the environment's directory, and the waiter,
 * watching that directory with inotify, wakes (IN_CLOSE_WRITE).  The
 * settlement bell wakes "due -f" and devices waiting for an outcome; the
 * outbox bell wakes "push -f" when "record" has committed events.
 */
#include <sys/inotify.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bell.h"

void
bell_ring(const char *home, const char *name)
{
	char path[1100];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", home, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0660)) != -1)
		close(fd);	/* IN_CLOSE_WRITE is the ring */
}

/*
 * The directory, not the file, is watched: the bell need not exist yet,
 * and one removed (a backup restored) still rings once made again.  The
 * database's own files are opened once and kept open, so the watch
 * hardly ever wakes for anything else; a waiter looks at what it waits
 * for on every wake, so one that does costs a look and nothing more.
 */
int
bell_watch(const char *home)
{
	int fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(fd, home, IN_CLOSE_WRITE) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
bell_heard(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}
