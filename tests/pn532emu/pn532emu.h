/*
 * pn532emu: an NXP PN532 reader on a pseudo-terminal, speaking the PN532
 * UART frame protocol well enough for libnfc's real pn532_uart driver.
 * It stands in for the chip and the cards in its field, nothing more:
 * libnfc, its driver and the termios layer are the real ones.
 *
 * The library is driven from a poll(2) loop: poll pn532emu_fd() for
 * input, call pn532emu_io() when it is readable and pn532emu_timer()
 * when pn532emu_timeout() has passed.  Control commands (the same as the
 * standalone tool reads on stdin, see main.c) go to pn532emu_control().
 */
#ifndef PN532EMU_H
#define PN532EMU_H

#include <stddef.h>
#include <stdint.h>

struct pn532emu;

/* Called with one line of news ("enter iso14443a:04A1B2C3 1234"). */
typedef void pn532emu_note_fn(void *arg, const char *line);

/* Open a pty and point the symlink `link' at its slave side. */
struct pn532emu *pn532emu_new(const char *link, pn532emu_note_fn *, void *arg,
	    char *err, size_t errlen);
void	pn532emu_free(struct pn532emu *);
/* The master side to poll, or -1 while the reader has vanished. */
int	pn532emu_fd(const struct pn532emu *);
/* Milliseconds until pn532emu_timer() is due, -1 for none. */
int	pn532emu_timeout(const struct pn532emu *);
void	pn532emu_io(struct pn532emu *);
void	pn532emu_timer(struct pn532emu *);
/* One control command; 0, or -1 with a reason in err. */
int	pn532emu_control(struct pn532emu *, const char *line, char *err,
	    size_t errlen);
/* Log every frame on stderr. */
void	pn532emu_set_trace(struct pn532emu *, int);
/* Path of the pty slave ("" while vanished). */
const char *pn532emu_pty(const struct pn532emu *);
/* CLOCK_MONOTONIC in milliseconds, the clock of every note. */
int64_t	pn532emu_now_ms(void);

#endif
