/*
 * pace.c: how fast mspay starts requests.  Two limits, the lower wins:
 *
 * --rate N, the user's: a token bucket gaining N tokens a second, each
 * request (charge, search or retry) taking one.  It holds 10 ms of them,
 * two at least, so a loop that wakes a little late loses no slot and no
 * second ever sees more than N plus that.
 *
 * The gateway's, found from its 429 answers, for a gateway that limits
 * (Stripe: about 100 writes a second live, 25 in test mode) and a user
 * who did not say: a cut at each 429 and a slow rise between, as TCP
 * does with its window.  Nothing is assumed until the first 429; then
 * the rate is cut to a little less than what the gateway let through,
 * and grows again by 3% a second while mspay has requests waiting,
 * until the next 429 cuts it again.  The rate is paced, not only the
 * number in flight: against a gateway answering in 5 ms, one request in
 * flight is already 200 a second.
 *
 * A cut is made on the evidence of requests sent at the rate being cut:
 * answers to requests started before the last cut say nothing about the
 * new rate.  Nor does a stray 429 soon after a cut, which a gateway's
 * empty bucket gives even at a rate it can take, until it has had a
 * second (or its Retry-After) to fill up again; only when more than a
 * fifth of the answers since the cut are 429 (in the first second, when
 * mspay started far above the limit) is the rate cut again at once, by
 * as much as three quarters.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "mspay.h"

#define SLOT_US		50000		/* the last second, in 20 slots */
#define SECOND_US	1000000
#define GROWTH		0.03		/* per answer: 3% a second at the rate */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
pace_init(struct pace *p, double cap)
{
	memset(p, 0, sizeof(*p));
	p->cap = cap;
	p->filled = now_us();
}

/* The rate in force, or 0 when there is none. */
double
pace_rate(const struct pace *p)
{
	if (p->cap > 0 && p->found > 0)
		return p->cap < p->found ? p->cap : p->found;
	return p->cap > 0 ? p->cap : p->found;
}

static double
burst(double rate)
{
	return rate / 100 > 2 ? rate / 100 : 2;
}

static void
refill(struct pace *p, int64_t now)
{
	double r = pace_rate(p);

	if (r > 0) {
		p->tokens += (double)(now - p->filled) * r / SECOND_US;
		if (p->tokens > burst(r))
			p->tokens = burst(r);
	}
	p->filled = now;
}

/* Count one in the slot of time t (starts or admitted answers). */
static void
count(int64_t *slot_id, unsigned *slots, int64_t t)
{
	int64_t id = t / SLOT_US;
	size_t k = (size_t)(id % PACE_SLOTS);

	if (slot_id[k] != id) {
		slot_id[k] = id;
		slots[k] = 0;
	}
	slots[k]++;
}

/* Events a second over the last second (or since the first start). */
static double
per_second(const struct pace *p, const int64_t *slot_id,
    const unsigned *slots, int64_t now)
{
	int64_t id = now / SLOT_US, span = now - p->first;
	unsigned long n = 0;

	for (size_t k = 0; k < PACE_SLOTS; k++)
		if (slot_id[k] > id - PACE_SLOTS)
			n += slots[k];
	if (span > SECOND_US)
		span = SECOND_US;
	if (span < SLOT_US)
		span = SLOT_US;
	return (double)n * SECOND_US / (double)span;
}

/* Milliseconds until the next request may start; 0: now. */
int64_t
pace_delay(struct pace *p)
{
	double r = pace_rate(p);

	if (r <= 0)
		return 0;
	refill(p, now_us());
	if (p->tokens >= 1)
		return 0;
	return (int64_t)ceil((1 - p->tokens) * 1000 / r);
}

/* A request starts now; the stamp to give pace_answer with its answer. */
int64_t
pace_start(struct pace *p)
{
	int64_t now = now_us();

	refill(p, now);
	if (pace_rate(p) > 0)
		p->tokens -= 1;
	if (p->first == 0)
		p->first = now;
	count(p->start_id, p->starts, now);
	return now;
}

/*
 * An answer came to a request started at started: limited when it was a
 * 429.  Cut the rate, or let it grow.
 */
void
pace_answer(struct pace *p, int64_t started, int limited,
    int64_t retry_after_ms)
{
	int64_t now = now_us(), hold;
	double base, sent, admitted, f, cut;

	if (!limited)
		count(p->admit_id, p->admitted, now);
	if (started < p->cut)
		return;		/* sent at a rate already cut */
	sent = per_second(p, p->start_id, p->starts, now);
	p->since_cut++;
	if (!limited) {
		/* grow while the rate is what holds mspay back */
		if (p->found > 0 && sent >= 0.8 * pace_rate(p))
			p->found += GROWTH;
		return;
	}
	p->limited++;
	p->total_limited++;
	f = (double)p->limited / (double)p->since_cut;
	if (now < p->hold_until && !(p->since_cut >= 4 && f > 0.2))
		return;
	base = p->found > 0 ? p->found : sent;
	if (sent > 0 && sent < base)
		base = sent;
	cut = 1 - f;
	if (cut < 0.25)
		cut = 0.25;
	if (cut > 0.9)
		cut = 0.9;
	p->found = base * cut;
	/*
	 * Since the last cut the gateway's bucket has been empty, so what
	 * it let through since then is its rate; before the first cut, what
	 * it let through in the last second is as near as mspay knows.  Take
	 * a little less than that, if it is more than the cut, and always
	 * cut by a twentieth at least.
	 */
	if (p->cut > 0 && now - p->cut >= SLOT_US)
		admitted = (double)(p->since_cut - p->limited) * SECOND_US /
		    (double)(now - p->cut);
	else if (now - p->first >= SECOND_US)
		admitted = per_second(p, p->admit_id, p->admitted, now);
	else
		admitted = 0;
	if (admitted * 0.97 > p->found)
		p->found = admitted * 0.97 < base * 0.95 ? admitted * 0.97 :
		    base * 0.95;
	if (p->found < 1)
		p->found = 1;
	hold = retry_after_ms > 1000 ? retry_after_ms * 1000 : SECOND_US;
	p->cut = now;
	p->hold_until = now + hold;
	p->since_cut = p->limited = 0;
	p->tokens = 0;
	p->filled = now;
	p->cuts++;
}
