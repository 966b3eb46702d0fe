/* version.h: the version of every ms program, one string for all four. */
#ifndef MS_VERSION_H
#define MS_VERSION_H

/* The same as debian/changelog's (tests/admin-version.t checks). */
#define MS_VERSION	"0.9.0"

/* "prog --version": print "prog VERSION" and exit 0 (1 if stdout fails). */
void	ms_version_option(int argc, char **argv);

#endif
