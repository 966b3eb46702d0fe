/*
 * Bells, and the side directory they ring in.  mscart's own files that
 * are not databases (bells, notes such as the last election a site saw)
 * live in ms/ inside the environment's directory, not among the
 * databases: Berkeley DB reads every file there when it copies the
 * databases to a new site of a group.
 *
 * A process that committed something another process waits for closes
 * an empty file in ms/, and the waiter, watching that directory with
 * inotify, wakes (IN_CLOSE_WRITE).  The
 * settlement bell wakes "due -f" and devices waiting for an outcome; the
 * outbox bell wakes "push -f" when "record" has committed events.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bell.h"

int
side_path(const char *home, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", home, SIDE_DIR);
	if (mkdir(path, 0770) == -1 && errno != EEXIST)
		return -1;
	if (name != NULL)
		snprintf(path, len, "%s/%s/%s", home, SIDE_DIR, name);
	return 0;
}

void
bell_ring(const char *home, const char *name)
{
	char path[1200];
	int fd;

	if (side_path(home, name, path, sizeof(path)) == -1)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0660)) != -1)
		close(fd);	/* IN_CLOSE_WRITE is the ring */
}

/*
 * The directory, not the file, is watched: the bell need not exist yet,
 * and one removed still rings once made again.  Every bell of the
 * directory wakes the watch; a waiter looks at what it waits for on
 * every wake, so one for another bell costs a look and nothing more.
 */
int
bell_watch(const char *home)
{
	char dir[1100];
	int fd;

	if (side_path(home, NULL, dir, sizeof(dir)) == -1)
		return -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE) == -1) {
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
