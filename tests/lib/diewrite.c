/*
 * diewrite.so: LD_PRELOADed into a process that must die at the worst
 * moment for Berkeley DB.  With DIEWRITE_ON set, the process SIGKILLs
 * itself on its first write(2) or pwrite(2) to a file whose path contains
 * that string ("/log." for the write-ahead log): it then holds the log's
 * region mutex, which nobody will ever release.
 */
#define _GNU_SOURCE
#include <sys/types.h>

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
maybe_die(int fd)
{
	const char *on = getenv("DIEWRITE_ON");
	char p[64], t[4096];
	ssize_t n;

	if (on == NULL || *on == '\0')
		return;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if ((n = readlink(p, t, sizeof(t) - 1)) <= 0)
		return;
	t[n] = '\0';
	if (strstr(t, on) != NULL)
		raise(SIGKILL);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "write");
	maybe_die(fd);
	return real(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	maybe_die(fd);
	return real(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite64");
	maybe_die(fd);
	return real(fd, buf, len, off);
}
