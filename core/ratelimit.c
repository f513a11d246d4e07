/*
 * ratelimit.c - token buckets in shared memory
 *
 * Owns a fixed table of buckets in a MAP_SHARED region: open addressing
 * on a 64-bit hash of the key, a short probe sequence, and eviction of the
 * least recently used bucket of the sequence when all are taken (a
 * forgotten bucket only forgives its principal, never blocks one).
 * Tokens are counted in thousandths so that refill needs no division per
 * millisecond and no floating point.
 *
 * Each bucket has a tiny lock holding the owner's pid.  A waiter spins
 * briefly, then checks whether the owner still lives (kill(pid, 0)) and
 * steals the lock from a dead one, so "kill -9 a worker" never wedges it.
 *
 * API:	tly_rl_new(), tly_rl_take(), tly_rl_free().
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ratelimit.h"
#include "tly_str.h"

#define RL_PROBES	8

typedef struct rl_bucket {
	int		 lock;		/* owner pid, 0 = free */
	uint64_t	 key;		/* 0 = empty */
	int64_t		 milli;		/* tokens x 1000 */
	int64_t		 last_ms;
} rl_bucket;

struct tly_rl {
	size_t		 n;
	size_t		 bytes;
	rl_bucket	*b;
};

/* tly_rl_new - 'n' buckets in memory shared with future children */
tly_rl *
tly_rl_new(size_t n)
{
	tly_rl *rl;
	void *p;

	if (n < RL_PROBES)
		n = RL_PROBES;
	p = mmap(NULL, sizeof(*rl) + n * sizeof(rl_bucket),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	rl = p;
	rl->n = n;
	rl->bytes = sizeof(*rl) + n * sizeof(rl_bucket);
	rl->b = (rl_bucket *)(rl + 1);
	return rl;
}

/* tly_rl_free - unmap (in the process that calls it) */
void
tly_rl_free(tly_rl *rl)
{
	if (rl)
		munmap(rl, rl->bytes);
}

static void
bucket_lock(rl_bucket *b)
{
	int me = (int)getpid(), owner, spins = 0;

	for (;;) {
		owner = 0;
		if (__atomic_compare_exchange_n(&b->lock, &owner, me, 0,
		    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (++spins < 1000) {
			sched_yield();
			continue;
		}
		spins = 0;
		if (owner != me && kill(owner, 0) < 0 && errno == ESRCH)
			__atomic_compare_exchange_n(&b->lock, &owner, 0, 0,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	}
}

static void
bucket_unlock(rl_bucket *b)
{
	__atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
}

/* find - the bucket for 'key' (locked), claiming or evicting one */
static rl_bucket *
find(tly_rl *rl, uint64_t key)
{
	rl_bucket *b, *victim = NULL;
	size_t i, at;

	/*
	 * The probe sequence never wraps past the end of the table, so
	 * every process takes bucket locks in ascending order (it holds a
	 * victim while it locks the next) and no two can wait on each
	 * other in a cycle.  With (key + i) % n, sequences that wrapped
	 * deadlocked live workers once n was small against
	 * workers x RL_PROBES.
	 */
	for (i = 0; i < RL_PROBES; i++) {
		at = (size_t)(key % (rl->n - RL_PROBES + 1)) + i;
		b = &rl->b[at];
		bucket_lock(b);
		if (b->key == key)
			goto found;
		if (b->key == 0) {
			b->key = key;
			b->milli = -1;		/* fresh: full on first take */
			goto found;
		}
		if (victim == NULL || b->last_ms < victim->last_ms) {
			if (victim)
				bucket_unlock(victim);
			victim = b;
			continue;
		}
		bucket_unlock(b);
	}
	victim->key = key;
	victim->milli = -1;
	return victim;
found:
	if (victim && victim != b)
		bucket_unlock(victim);
	return b;
}

/*
 * tly_rl_take - take one token for 'key' under 'rate' at 'now_ms'.
 * Returns 1 when allowed, 0 when not, with the seconds until a token is
 * available in '*retry_after'.  A rate of 0 means unlimited.
 */
int
tly_rl_take(tly_rl *rl, const char *key, const tly_rate_conf *rate,
    int64_t now_ms, int *retry_after)
{
	rl_bucket *b;
	int64_t cap, elapsed, wait;
	int ok;

	*retry_after = 0;
	if (rl == NULL || rate->per_second <= 0)
		return 1;
	cap = (int64_t)rate->burst * 1000;
	b = find(rl, tly_hash64(key));
	if (b->milli < 0) {
		b->milli = cap;
		b->last_ms = now_ms;
	}
	elapsed = now_ms - b->last_ms;
	if (elapsed > 0) {
		b->milli += elapsed * rate->per_second;	/* ms x tokens/s */
		if (b->milli > cap)
			b->milli = cap;
		b->last_ms = now_ms;
	}
	ok = b->milli >= 1000;
	if (ok)
		b->milli -= 1000;
	else {
		/*
		 * Milliseconds to the next whole token, rounded up to whole
		 * seconds (at least 1 since milli < 1000).  "ms / 1000 + 1"
		 * said 2 s where exactly 1 s was needed.
		 */
		wait = (1000 - b->milli + rate->per_second - 1) /
		    rate->per_second;
		*retry_after = (int)((wait + 999) / 1000);
	}
	bucket_unlock(b);
	return ok;
}
