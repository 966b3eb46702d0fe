/*
 * sync/push.c: "mscart push", the robot's forwarder.
 *
 * push runs a bidirectional command (by default ssh to the server's
 * "mscart serve") and keeps a window of messages in flight on it: the
 * events of the outbox that the server has not acknowledged yet, in seq
 * order, and the queries and pay requests that arrive on stdin.  The
 * server answers every line with one line, in order, so the replies are
 * matched to what was sent by position.  An ack (applied or duplicate)
 * marks its event delivered; every reply goes to stdout for the robot's
 * display.
 *
 * stdin is the output of "mscart record": stamped events, which only
 * tell push that the outbox grew (the outbox, not the pipe, is what is
 * sent), and requests.  A request waits until the events recorded
 * before it were sent, so a cart shown after a take includes the take.
 * Without a link a request is answered at once with an "offline" error.
 * When stdin ends, push delivers what is left and exits; with -f it goes
 * on.  While idle it looks at the outbox every RESCAN_MS, so record and
 * push may also run as separate services.
 *
 * When the link fails (the command exits, a write fails, a reply is
 * malformed or late) push kills the command, answers the requests in
 * flight with "offline", and starts again after a backoff, resending
 * from the last acknowledged event; the server answers "duplicate" for
 * whatever it had already applied.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mscart.h"
#include "../store.h"
#include "../bell.h"
#include "outbox.h"

#define WINDOW		2048	/* messages in flight on the link */
#define READ_CHUNK	256	/* events read from the outbox at once */
#define PENDING_MAX	1000	/* requests waiting for their turn */
#define BACKOFF_MIN_MS	100
#define FAST_CAP_MS	1500	/* the longest wait in the first minute down */
#define FAST_FOR_MS	60000
#define STOP_GRACE_MS	2000	/* SIGTERM: time left for replies in flight */
#define RESCAN_MS	250	/* idle, no bell: how often to look for events */
#define BELL_RESCAN_MS	5000	/* idle, with the bell: the same, to be sure */
#define HELLO_MS	60000	/* a hello (the backlog) this often on a link */
#define PUSH_SERVERS	16	/* -s commands */

struct inflight {
	int64_t	 seq;		/* the event's seq, or 0 for a request */
	char	*id;		/* the request's "id", if it had one */
	int	 retry;		/* a held event sent again (mscart held) */
	int	 hello;		/* our hello, whose reply is ours */
};

struct request {
	int64_t	 after;		/* send once the events up to here are sent */
	char	*line;
	size_t	 len;
	char	*id;
};

struct link {
	pid_t		 pid;
	int		 to, from;	/* the command's stdin and stdout */
	struct ms_reader rd;
	int		 confirmed;	/* the server has answered on it */
};

enum shown { SHOWN_NONE, SHOWN_ONLINE, SHOWN_OFFLINE };

struct push {
	struct outbox	 ob;
	char		**cmd;
	const char	*cmdname;
	/* -s: the servers of a replication group, tried in turn */
	char		*servers[PUSH_SERVERS];
	size_t		 nservers, server;
	int64_t		 acked;		/* delivered, durably marked */
	int64_t		 sent;		/* last event seq written to the link */
	int64_t		 last;		/* last seq known to be recorded */
	int		 up;
	struct link	 ln;
	struct inflight	 fifo[WINDOW];
	size_t		 fhead, fcount;
	struct request	*req;
	size_t		 rhead, rcount;	/* a ring of PENDING_MAX */
	char		*out;
	size_t		 outoff, outlen, outcap;
	int64_t		 backoff, backoff_max, timeout;
	int64_t		 next_attempt, waiting_since;
	int64_t		 down_since;	/* offline since (0: the link is up) */
	int		 bell;		/* the outbox bell's inotify fd, or -1 */
	enum shown	 shown;
	int		 catching_up;
	struct ms_reader in;
	int		 in_eof;
	long		 bad;
	int		 dbfail;
	int		 finishing;	/* the end is ours: no link messages */
	int		 follow;	/* -f: keep going after the end of stdin */
	int		 refused;	/* the server refuses this link: stop */
	/* events answered but not applied, held when their acks are marked */
	struct outbox_refusal ref[WINDOW];
	size_t		 nref;
	int		 retry_scan;	/* look for held events to send again */
	size_t		 retry_inflight;
	int		 hello_ok;	/* the server knows hello (else quiet) */
	int64_t		 hello_at;	/* when the last hello went */
};

static void
usage(void)
{
	fprintf(stderr, "usage: mscart push [-fh] [-b backoff] [-d dir] "
	    "[-s command] [-t timeout] [-w seconds] -r robot "
	    "[-- command ...]\n");
}

static void	link_fail(struct push *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Reply to a request that cannot be answered by the server. */
static void
reply_error(const char *id, const char *code, const char *message)
{
	json_t *e = json_object();

	json_object_set_new(e, "type", json_string("error"));
	if (id != NULL)
		json_object_set_new(e, "id", json_string(id));
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "message", json_string(message));
	ms_write_json(stdout, e, 1);
	json_decref(e);
}

static char *
request_id(const json_t *j)
{
	const char *id = json_string_value(json_object_get(j, "id"));

	return id != NULL ? strdup(id) : NULL;
}

static int
out_append(struct push *p, const char *s, size_t len)
{
	if (p->outoff > 0 && p->outoff == p->outlen)
		p->outoff = p->outlen = 0;
	if (p->outlen + len + 1 > p->outcap) {
		size_t cap = p->outcap ? p->outcap : 65536;
		char *nb;

		while (cap < p->outlen + len + 1)
			cap *= 2;
		if ((nb = realloc(p->out, cap)) == NULL)
			return -1;
		p->out = nb;
		p->outcap = cap;
	}
	memcpy(p->out + p->outlen, s, len);
	p->out[p->outlen + len] = '\n';
	p->outlen += len + 1;
	return 0;
}

static void
fifo_push(struct push *p, int64_t seq, char *id, int retry)
{
	struct inflight *f = &p->fifo[(p->fhead + p->fcount) % WINDOW];

	if (p->fcount == 0)
		p->waiting_since = ms_mono_ms();
	f->seq = seq;
	f->id = id;
	f->retry = retry;
	f->hello = 0;
	if (retry)
		p->retry_inflight++;
	p->fcount++;
}

static struct inflight
fifo_pop(struct push *p)
{
	struct inflight f = p->fifo[p->fhead];

	p->fhead = (p->fhead + 1) % WINDOW;
	p->fcount--;
	if (f.retry)
		p->retry_inflight--;
	return f;
}

static void
status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "stopped");
}

/*
 * Reap the command.  It was told (EOF on its stdin) or has shown (EOF on
 * its stdout) that it is ending; give it grace_ms, then kill it.
 */
static int
reap(pid_t pid, int64_t grace_ms)
{
	int64_t end = ms_mono_ms() + grace_ms;
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r == -1 && errno != EINTR)
			return 0;
		if (r == 0 && ms_mono_ms() >= end)
			break;
		if (r == 0)
			poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	return r == pid ? st : 0;
}

static void
answer_offline(struct push *p)
{
	while (p->fcount > 0) {
		struct inflight f = fifo_pop(p);

		if (f.seq == 0 && !f.hello)
			reply_error(f.id, "offline", "the link to the server "
			    "went down before it answered");
		free(f.id);
	}
	while (p->rcount > 0) {
		struct request *r = &p->req[p->rhead];

		reply_error(r->id, "offline", "the link to the server went down");
		free(r->line);
		free(r->id);
		p->rhead = (p->rhead + 1) % PENDING_MAX;
		p->rcount--;
	}
	p->fhead = 0;
}

/* The link is gone: clean up, say so once, and schedule the next try. */
static void
link_down(struct push *p, const char *why, int64_t grace_ms)
{
	char st[64];
	int64_t delay, now;
	int status;

	if (p->ln.to != -1)
		close(p->ln.to);
	close(p->ln.from);
	if (grace_ms == 0)
		kill(p->ln.pid, SIGKILL);
	status = reap(p->ln.pid, grace_ms);
	ms_reader_free(&p->ln.rd);
	p->up = 0;
	p->outoff = p->outlen = 0;
	p->sent = p->acked;
	answer_offline(p);
	fflush(stdout);
	if (why == NULL) {
		status_text(status, st, sizeof(st));
		why = st;
	}
	if (p->nservers > 1 && !p->finishing) {
		/*
		 * One of several servers (a replication group): the next
		 * one may be the master, or the new one after a failover.
		 * It is tried at once unless every server failed in turn.
		 */
		ms_warnx("push: %s %s; trying the next server", p->cmdname, why);
		p->server = (p->server + 1) % p->nservers;
		p->cmd[2] = p->servers[p->server];
		p->cmdname = p->servers[p->server];
		if (p->server != 0) {
			p->next_attempt = ms_mono_ms();
			return;
		}
	} else if (p->shown != SHOWN_OFFLINE && !p->finishing) {
		ms_warnx("push: %s: %s %s; %s", p->shown == SHOWN_ONLINE ?
		    "link down" : "offline", p->cmdname, why,
		    "retrying with backoff");
		p->shown = SHOWN_OFFLINE;
	}
	/*
	 * A link that just went down most often comes back soon (a dead
	 * zone, a restarted server): for the first minute the wait stays
	 * at most 1.5 s, so that with the login the robot is back within
	 * two seconds of the link (at 2 s, one return in ten took 2.02).
	 * A connection attempt costs a server that is down nothing more
	 * than a refused connection; after a minute the wait grows to -b.
	 * Full jitter in [backoff/2, backoff], so robots do not stampede.
	 */
	now = ms_mono_ms();
	if (p->down_since == 0)
		p->down_since = now;
	if (now - p->down_since < FAST_FOR_MS && p->backoff > FAST_CAP_MS)
		p->backoff = FAST_CAP_MS;
	delay = p->backoff / 2 + random() % (p->backoff / 2 + 1);
	p->next_attempt = now + delay;
	p->backoff = p->backoff * 2 > p->backoff_max ? p->backoff_max :
	    p->backoff * 2;
}

static void
link_fail(struct push *p, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	link_down(p, why, 0);
}

static void	refresh_positions(struct push *);
static void	send_hello(struct push *);

static void
link_start(struct push *p)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) == -1)
		goto fail;
	if (pipe(out) == -1) {
		close(in[0]);
		close(in[1]);
		goto fail;
	}
	/* our ends must not leak into the next link's command */
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	fcntl(out[0], F_SETFD, FD_CLOEXEC);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		goto fail;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (dup2(in[0], STDIN_FILENO) == -1 ||
		    dup2(out[1], STDOUT_FILENO) == -1)
			_exit(127);
		closefrom(3);	/* the outbox's files are ours alone */
		execvp(p->cmd[0], p->cmd);
		ms_warn("push: %s", p->cmd[0]);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	memset(&p->ln, 0, sizeof(p->ln));
	p->ln.pid = pid;
	p->ln.to = in[1];
	p->ln.from = out[0];
	ms_reader_init(&p->ln.rd, out[0], "server");
	p->up = 1;
	p->sent = p->acked;
	p->outoff = p->outlen = 0;
	p->retry_scan = 1;
	p->hello_ok = 1;
	send_hello(p);
	return;
fail:
	ms_warn("push: cannot start %s", p->cmdname);
	p->next_attempt = ms_mono_ms() + p->backoff_max;
}

/*
 * Tell the server how many recorded events it has not acknowledged yet
 * (for mscart status), at the start of a link and every HELLO_MS.  A
 * server from before hello answers unknown-type: then no more on that
 * link, and its reply, like every reply to a hello, is not passed on.
 */
static void
send_hello(struct push *p)
{
	char line[128], ts[MS_TIME_LEN];
	int n;

	p->hello_at = ms_mono_ms();
	if (!p->up || !p->hello_ok || p->fcount >= WINDOW)
		return;
	refresh_positions(p);
	ms_time_format(ms_now_ms(), ts);
	n = snprintf(line, sizeof(line), "{\"type\":\"hello\",\"backlog\":%lld,"
	    "\"ts\":\"%s\"}", (long long)(p->last > p->acked ?
	    p->last - p->acked : 0), ts);
	if (out_append(p, line, (size_t)n) == -1)
		return;
	fifo_push(p, 0, NULL, 0);
	p->fifo[(p->fhead + p->fcount - 1) % WINDOW].hello = 1;
}

static void
refresh_positions(struct push *p)
{
	int64_t last, acked;
	int rc;

	if ((rc = outbox_positions(&p->ob, &last, &acked)) != 0) {
		ms_warnx("push: outbox: %s", db_strerror(rc));
		p->dbfail = 1;
		return;
	}
	if (last > p->last)
		p->last = last;
}

/* Put what may go now into the output buffer, up to the window. */
static void
fill_output(struct push *p)
{
	struct outbox_event ev[READ_CHUNK];
	size_t n, want;
	int rc;

	/* held events an administrator asked to send again go first */
	if (p->up && p->retry_scan && p->retry_inflight == 0) {
		p->retry_scan = 0;
		if ((rc = outbox_held_due(&p->ob, ev, READ_CHUNK, &n)) != 0) {
			ms_warnx("push: outbox: %s", db_strerror(rc));
			p->dbfail = 1;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			if (p->fcount < WINDOW &&
			    out_append(p, ev[i].line, ev[i].len) == 0)
				fifo_push(p, ev[i].seq, NULL, 1);
			free(ev[i].line);
		}
		if (n > 0)
			ms_warnx("push: sending %zu held event%s again", n,
			    n == 1 ? "" : "s");
	}
	while (p->up && p->fcount < WINDOW) {
		if (p->rcount > 0 && p->req[p->rhead].after <= p->sent) {
			struct request *r = &p->req[p->rhead];

			if (out_append(p, r->line, r->len) == -1)
				break;
			fifo_push(p, 0, r->id, 0);
			free(r->line);
			p->rhead = (p->rhead + 1) % PENDING_MAX;
			p->rcount--;
			continue;
		}
		if (p->sent >= p->last)
			break;
		want = WINDOW - p->fcount;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		if ((rc = outbox_read_after(&p->ob, p->sent, ev, want, &n)) != 0) {
			ms_warnx("push: outbox: %s", db_strerror(rc));
			p->dbfail = 1;
			return;
		}
		if (n == 0) {
			/* nothing stored beyond sent: only acked ones were */
			p->last = p->sent;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (out_append(p, ev[i].line, ev[i].len) == 0)
				fifo_push(p, ev[i].seq, NULL, 0);
			else
				p->dbfail = 1;
			p->sent = ev[i].seq;
			free(ev[i].line);
		}
		if (p->sent > p->last)
			p->last = p->sent;
	}
}

/*
 * Codes after which the event is sent again: a busy or failing server,
 * a site of a replication group that is not the master, and a commit
 * that a quorum of sites did not acknowledge in time.
 */
static int
transient_code(const char *code)
{
	return code != NULL && (strcmp(code, "busy") == 0 ||
	    strcmp(code, "internal") == 0 || strcmp(code, "not-master") == 0 ||
	    strcmp(code, "retry") == 0);
}

/*
 * Codes that say the link itself is wrong (a key whose forced role is
 * another robot's): every event behind would be refused the same way,
 * so push stops and the outbox stays as it is.
 */
static int
link_refused_code(const char *code)
{
	return code != NULL && strcmp(code, "forbidden") == 0;
}

/*
 * The event at the head of the window was answered but not applied:
 * keep it (held), never drop it.  A resent held event gets its new
 * reason at once; an outbox event moves to held when its ack is marked.
 */
static void
hold_event(struct push *p, const struct inflight *f, const char *code,
    const char *message)
{
	struct outbox_refusal *r;
	int rc;

	ms_warnx("push: server did not apply %s:%lld: %s: %s; kept (mscart "
	    "held)", p->ob.robot, (long long)f->seq, code, message ? message : "");
	if (f->retry) {
		if ((rc = outbox_held_settle(&p->ob, f->seq, code, message)) != 0) {
			ms_warnx("push: outbox: %s", db_strerror(rc));
			p->dbfail = 1;
		}
		return;
	}
	r = &p->ref[p->nref++];
	r->seq = f->seq;
	snprintf(r->code, sizeof(r->code), "%s", code);
	r->message = message ? strdup(message) : NULL;
}

/* The link is refused (see link_refused_code): say so and stop. */
static void
link_refused(struct push *p, const char *want, const char *code,
    const char *message)
{
	ms_warnx("push: the server refuses %s on this link: %s: %s", want,
	    code, message ? message : "");
	ms_warnx("push: stopping; nothing is removed from the outbox (is "
	    "this the key of robot %s?)", p->ob.robot);
	p->refused = 1;
	p->finishing = 1;
	link_down(p, "refused", 0);
}

/* One reply line from the server: match it to the oldest message sent. */
static int
handle_reply(struct push *p, json_t *j, int64_t *acked)
{
	struct inflight f;
	enum ms_msg_type t = ms_msg_type(j);
	char want[MS_ID_MAX + 24], err[256];
	const char *ev, *code;

	if (p->fcount == 0) {
		link_fail(p, "sent a reply to nothing (line %lu)", p->ln.rd.lineno);
		return -1;
	}
	if (ms_msg_validate(j, err, sizeof(err)) == -1) {
		link_fail(p, "sent a bad reply (line %lu): %s", p->ln.rd.lineno, err);
		return -1;
	}
	if (p->fifo[p->fhead].hello) {
		code = json_string_value(json_object_get(j, "code"));
		ev = json_string_value(json_object_get(j, "event"));
		if ((t != MS_MSG_ACK && t != MS_MSG_ERROR) || ev != NULL) {
			link_fail(p, "answered hello with an unexpected \"%s\"%s%s",
			    ms_msg_type_name(t), ev ? " for " : "", ev ? ev : "");
			return -1;
		}
		if (t == MS_MSG_ERROR && code != NULL &&
		    (strcmp(code, "unknown-type") == 0 ||
		    strcmp(code, "invalid") == 0))
			p->hello_ok = 0;
		fifo_pop(p);
		return 0;
	}
	if (p->fifo[p->fhead].seq > 0) {
		const struct inflight *head = &p->fifo[p->fhead];
		const char *msg = json_string_value(json_object_get(j, "message"));
		int rc;

		snprintf(want, sizeof(want), "%s:%lld", p->ob.robot,
		    (long long)head->seq);
		ev = json_string_value(json_object_get(j, "event"));
		code = json_string_value(json_object_get(j, "code"));
		if ((t != MS_MSG_ACK && t != MS_MSG_ERROR) ||
		    (ev != NULL && strcmp(ev, want) != 0)) {
			link_fail(p, "answered %s with an unexpected \"%s\"%s%s",
			    want, ms_msg_type_name(t), ev ? " for " : "",
			    ev ? ev : "");
			return -1;
		}
		if (t == MS_MSG_ERROR && transient_code(code)) {
			link_fail(p, "could not take %s now (%s)", want, code);
			return -1;
		}
		if (t == MS_MSG_ERROR && link_refused_code(code)) {
			link_refused(p, want, code, msg);
			return -1;
		}
		if (t == MS_MSG_ERROR)
			/* refused for good: resending as it is cannot help */
			hold_event(p, head, code, msg);
		else if (head->retry &&
		    (rc = outbox_held_settle(&p->ob, head->seq, NULL, NULL)) != 0) {
			ms_warnx("push: outbox: %s", db_strerror(rc));
			p->dbfail = 1;
		}
		if (!head->retry)
			*acked = head->seq;
	}
	f = fifo_pop(p);
	free(f.id);
	ms_write_raw(stdout, p->ln.rd.line, p->ln.rd.len, 0);
	return 0;
}

static void
read_replies(struct push *p)
{
	json_t *j;
	char err[256];
	int64_t acked = p->acked;
	int rc, got = 0;

	while (p->up) {
		rc = ms_reader_next(&p->ln.rd, 1, &j, err, sizeof(err));
		if (rc == MS_READ_AGAIN)
			break;
		if (rc == MS_READ_EOF) {
			link_down(p, NULL, 1000);
			break;
		}
		if (rc == MS_READ_ERROR) {
			link_fail(p, "read: %s", err);
			break;
		}
		if (rc == MS_READ_BAD && strstr(err, "longer") != NULL &&
		    p->fcount > 0) {
			/*
			 * Too long to read, but one line: the framing holds.
			 * Resending would get the same reply for ever, so the
			 * event is kept aside (its seq makes a later resend
			 * safe) and a request gets an error.
			 */
			struct inflight f = p->fifo[p->fhead];

			if (f.seq > 0)
				hold_event(p, &f, "too-long", "the server's reply "
				    "was longer than the line limit");
			else
				reply_error(f.id, "too-long", "the server's reply "
				    "was longer than the line limit");
			if (f.seq > 0 && !f.retry)
				acked = f.seq;
			f = fifo_pop(p);
			free(f.id);
			got++;
			continue;
		}
		if (rc == MS_READ_BAD) {
			link_fail(p, "sent a bad reply (line %lu): %s",
			    p->ln.rd.lineno, err);
			break;
		}
		rc = handle_reply(p, j, &acked);
		json_decref(j);
		if (rc == -1)
			break;
		got++;
		p->waiting_since = ms_mono_ms();
		if (!p->ln.confirmed) {
			p->ln.confirmed = 1;
			p->backoff = BACKOFF_MIN_MS;
			p->down_since = 0;
			if (p->shown != SHOWN_ONLINE) {
				if (p->last > p->acked)
					ms_warnx("push: connected; %lld events to "
					    "send", (long long)(p->last - p->acked));
				else
					ms_warnx("push: connected");
				p->shown = SHOWN_ONLINE;
				p->catching_up = 1;
			}
		}
	}
	if (got)
		fflush(stdout);
	if (acked > p->acked) {
		rc = outbox_mark_delivered(&p->ob, acked, p->ref, p->nref);
		for (size_t i = 0; i < p->nref; i++)
			free(p->ref[i].message);
		p->nref = 0;
		if (rc != 0) {
			ms_warnx("push: outbox: %s", db_strerror(rc));
			p->dbfail = 1;
			return;
		}
		p->acked = acked;
		if (p->sent < p->acked)
			p->sent = p->acked;
	}
}

static void
write_output(struct push *p)
{
	ssize_t n;

	while (p->up && p->outoff < p->outlen) {
		n = write(p->ln.to, p->out + p->outoff, p->outlen - p->outoff);
		if (n > 0) {
			p->outoff += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1 && errno == EPIPE) {
			/* it stopped reading: its exit status says why */
			link_down(p, NULL, 1000);
			return;
		}
		link_fail(p, "write: %s", strerror(errno));
		return;
	}
}

static void
read_stdin(struct push *p)
{
	struct request *r;
	json_t *j;
	enum ms_msg_type t;
	const char *robot;
	char err[512];
	int rc;

	while (!p->in_eof) {
		rc = ms_reader_next(&p->in, 1, &j, err, sizeof(err));
		if (rc == MS_READ_AGAIN)
			return;
		if (rc == MS_READ_EOF || rc == MS_READ_ERROR) {
			if (rc == MS_READ_ERROR)
				ms_warnx("push: stdin: %s", err);
			p->in_eof = 1;
			return;
		}
		if (rc == MS_READ_BAD) {
			ms_warn_at(p->in.source, p->in.lineno, "%s", err);
			p->bad++;
			continue;
		}
		t = ms_msg_type(j);
		robot = json_string_value(json_object_get(j, "robot"));
		if (ms_msg_is_event(t)) {
			/* record's copy: the outbox has grown to this seq */
			json_t *seq = json_object_get(j, "seq");

			if (robot != NULL && strcmp(robot, p->ob.robot) == 0 &&
			    json_is_integer(seq)) {
				if (json_integer_value(seq) > p->last)
					p->last = json_integer_value(seq);
			} else {
				ms_warn_at(p->in.source, p->in.lineno, "%s is not "
				    "an event recorded for robot %s by mscart record",
				    ms_msg_type_name(t), p->ob.robot);
				p->bad++;
			}
		} else if (t == MS_MSG_QUERY || t == MS_MSG_PAY) {
			if (ms_msg_validate(j, err, sizeof(err)) == -1) {
				ms_warn_at(p->in.source, p->in.lineno, "%s", err);
				reply_error(json_string_value(json_object_get(j,
				    "id")), "invalid", err);
				p->bad++;
			} else if (!p->up) {
				reply_error(json_string_value(json_object_get(j,
				    "id")), "offline", "no link to the server");
			} else if (p->rcount == PENDING_MAX) {
				/* never stop reading: record must not block */
				reply_error(json_string_value(json_object_get(j,
				    "id")), "busy", "too many requests waiting");
			} else {
				r = &p->req[(p->rhead + p->rcount) % PENDING_MAX];
				r->after = p->last;
				r->line = strndup(p->in.line, p->in.len);
				r->len = p->in.len;
				r->id = request_id(j);
				if (r->line != NULL)
					p->rcount++;
			}
		} else {
			ms_warn_at(p->in.source, p->in.lineno, "\"%s\" is not "
			    "an event, query or pay", ms_msg_type_name(t));
			p->bad++;
		}
		json_decref(j);
	}
}

/*
 * The end: stop writing, let the server answer what is in flight (it
 * sees EOF and exits), and take its last acks.
 */
static void
link_finish(struct push *p, int64_t grace_ms)
{
	int64_t end = ms_mono_ms() + grace_ms, now;
	struct pollfd pfd;

	if (!p->up)
		return;
	p->finishing = 1;
	/* what is still buffered goes first, if the link takes it */
	while (p->up && p->outoff < p->outlen && (now = ms_mono_ms()) < end) {
		pfd.fd = p->ln.to;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(end - now)) > 0)
			write_output(p);
		if (p->up)
			read_replies(p);
	}
	if (!p->up)
		return;
	close(p->ln.to);
	p->ln.to = -1;
	while (p->up && (now = ms_mono_ms()) < end) {
		pfd.fd = p->ln.from;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(end - now)) > 0)
			read_replies(p);
	}
	if (p->up)
		link_down(p, "did not end in time", 0);
}

#define WATCHDOG_SECS	10	/* an outbox transaction stuck this long */

static char **push_argv;	/* the whole command line, to start again */

/*
 * The outbox is stuck behind a mutex of a killed process (see
 * outbox_watchdog_secs).  Nothing push holds in memory is lost by
 * starting again: what was sent but not acknowledged is sent again and
 * answered "duplicate", and the link's pipes are close-on-exec, so the
 * old command sees its input end.  Only async-signal-safe calls here.
 */
static void
on_stuck(int sig)
{
	static const char msg[] = "mscart: push: the outbox is stuck behind "
	    "a killed process; starting again\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	outbox_restart(push_argv, -1);
}

int
cmd_push(int argc, char **argv)
{
	static char *server_cmd[] = { "/bin/sh", "-c", NULL, NULL };
	static char *default_cmd[] = { "ssh", "-T", "shop@server", "mscart",
	    "serve", NULL };
	/* one push per process: static, so early returns leak nothing */
	static struct push push;
	static struct request requests[PENDING_MAX];
	struct push *p;
	struct pollfd pfd[4];
	const char *dir = NULL, *robot = NULL;
	char err[512];
	int ch, nfd, in_i, from_i, to_i, bell_i, rc, status = MS_EX_OK;
	long wsecs;
	int64_t now, wait;

	p = &push;
	p->req = requests;
	p->backoff_max = 30000;
	p->timeout = 30000;
	optind = 1;
	{
		struct sigaction sa;

		push_argv = argv - 1;	/* main passes argv + 1 */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stuck;
		sa.sa_flags = SA_NODEFER;	/* the new image needs SIGALRM */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		outbox_watchdog_secs = WATCHDOG_SECS;
	}
	while ((ch = getopt(argc, argv, "+b:d:fhr:s:t:w:")) != -1) {
		switch (ch) {
		case 'b':
			if (ms_parse_seconds(optarg, &p->backoff_max) == -1 ||
			    p->backoff_max < BACKOFF_MIN_MS) {
				ms_warnx("push: -b %s: want seconds, at least 0.1",
				    optarg);
				usage();
				return MS_EX_USAGE;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'f':
			p->follow = 1;
			break;
		case 'h':
			usage();
			return MS_EX_OK;
		case 'r':
			robot = optarg;
			break;
		case 's':
			if (p->nservers == PUSH_SERVERS) {
				ms_warnx("push: more than %d -s", PUSH_SERVERS);
				return MS_EX_USAGE;
			}
			p->servers[p->nservers++] = optarg;
			break;
		case 't':
			if (ms_parse_seconds(optarg, &p->timeout) == -1 ||
			    p->timeout < 1) {
				ms_warnx("push: -t %s: want seconds", optarg);
				usage();
				return MS_EX_USAGE;
			}
			break;
		case 'w':
			if (ms_parse_long(optarg, 0, 86400, &wsecs) == -1) {
				ms_warnx("push: -w %s: not 0 to 86400 seconds",
				    optarg);
				usage();
				return MS_EX_USAGE;
			}
			outbox_watchdog_secs = (unsigned int)wsecs;
			break;
		default:
			usage();
			return MS_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (robot == NULL) {
		usage();
		return MS_EX_USAGE;
	}
	if (!ms_id_valid(robot)) {
		ms_warnx("push: robot \"%s\" must be 1 to %d letters, digits "
		    "or . _ - @", robot, MS_ID_MAX);
		return MS_EX_USAGE;
	}
	if (p->nservers > 0 && argc > 0) {
		ms_warnx("push: -s and -- command: give one or the other");
		usage();
		return MS_EX_USAGE;
	}
	p->cmd = argc > 0 ? argv : default_cmd;
	p->cmdname = p->cmd[0];
	if (p->nservers > 0) {
		/* each server's command is a line for sh -c */
		p->cmd = server_cmd;
		p->cmd[2] = p->servers[0];
		p->cmdname = p->servers[0];
	}
	p->backoff = BACKOFF_MIN_MS;
	srandom((unsigned)getpid() ^ (unsigned)ms_now_ms());
	ms_sig_install(0);
	alarm(outbox_watchdog_secs);	/* the open may meet the dead mutex */
	rc = outbox_open(&p->ob, store_home(dir), robot, err, sizeof(err));
	alarm(0);
	if (rc != 0) {
		ms_warnx("push: %s", err);
		return MS_EX_TEMPFAIL;
	}
	if (outbox_positions(&p->ob, &p->last, &p->acked) != 0) {
		ms_warnx("push: cannot read the outbox");
		outbox_close(&p->ob);
		return MS_EX_TEMPFAIL;
	}
	p->sent = p->acked;
	ms_reader_init(&p->in, STDIN_FILENO, "-");
	/* a record beside us rings when it has committed (-f) */
	p->bell = p->follow ? bell_watch(p->ob.home) : -1;

	while (!ms_sig_stop && !p->dbfail && !p->refused) {
		now = ms_mono_ms();
		if (!p->up && now >= p->next_attempt)
			link_start(p);
		else if (p->up && now - p->hello_at >= HELLO_MS)
			send_hello(p);
		fill_output(p);
		write_output(p);
		if (p->up && p->catching_up && p->fcount == 0 &&
		    p->acked >= p->last) {
			ms_warnx("push: up to date at %s:%lld", robot,
			    (long long)p->acked);
			p->catching_up = 0;
		}
		if (p->in_eof && !p->follow && p->rcount == 0 &&
		    p->fcount == 0 && p->acked >= p->last) {
			refresh_positions(p);
			if (p->acked >= p->last)
				break;	/* all delivered */
			continue;
		}

		nfd = 0;
		in_i = from_i = to_i = bell_i = -1;
		if (p->bell != -1) {
			pfd[nfd].fd = p->bell;
			pfd[nfd].events = POLLIN;
			bell_i = nfd++;
		}
		if (!p->in_eof) {
			pfd[nfd].fd = STDIN_FILENO;
			pfd[nfd].events = POLLIN;
			in_i = nfd++;
		}
		if (p->up) {
			pfd[nfd].fd = p->ln.from;
			pfd[nfd].events = POLLIN;
			from_i = nfd++;
			if (p->outoff < p->outlen) {
				pfd[nfd].fd = p->ln.to;
				pfd[nfd].events = POLLOUT;
				to_i = nfd++;
			}
		}
		/*
		 * Idle: look at the outbox now and then, for a record that
		 * does not write to our stdin (-f, or separate services);
		 * with -f its bell wakes us at once, and the look is only to
		 * be sure.
		 */
		wait = p->bell != -1 ? BELL_RESCAN_MS : RESCAN_MS;
		if (!p->up && p->next_attempt - now < wait)
			wait = p->next_attempt - now;
		if (p->up && p->fcount > 0 &&
		    p->waiting_since + p->timeout - now < wait)
			wait = p->waiting_since + p->timeout - now;
		if (wait < 0)
			wait = 0;
		rc = poll(pfd, (nfds_t)nfd, (int)wait);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			ms_warn("push: poll");
			status = MS_EX_FAIL;
			break;
		}
		if (rc == 0 && (!p->up || p->fcount == 0)) {
			refresh_positions(p);
			p->retry_scan = 1;
		}
		if (bell_i != -1 && pfd[bell_i].revents) {
			bell_heard(p->bell);
			refresh_positions(p);
		}
		if (in_i != -1 && pfd[in_i].revents)
			read_stdin(p);
		if (from_i != -1 && p->up && pfd[from_i].revents)
			read_replies(p);
		if (to_i != -1 && p->up && pfd[to_i].revents)
			write_output(p);
		if (p->up && p->fcount > 0 &&
		    ms_mono_ms() - p->waiting_since >= p->timeout)
			link_fail(p, "gave no reply in %lld.%03lld s",
			    (long long)(p->timeout / 1000),
			    (long long)(p->timeout % 1000));
	}

	link_finish(p, ms_sig_stop ? STOP_GRACE_MS : p->timeout);
	answer_offline(p);
	if (p->last > p->acked)
		ms_warnx("push: stopped with %lld events not yet delivered",
		    (long long)(p->last - p->acked));
	if (p->dbfail)
		status = MS_EX_TEMPFAIL;
	else if (p->refused)
		status = MS_EX_FAIL;
	if (p->bad > 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	if (p->bell != -1)
		close(p->bell);
	outbox_close(&p->ob);
	ms_reader_free(&p->in);
	free(p->out);
	if (ms_close_stdout() != 0 && status == MS_EX_OK)
		status = MS_EX_FAIL;
	return status;
}
