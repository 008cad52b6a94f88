/* revolve_plan.c - the arithmetic of the binomial checkpointing schedule
 * (Griewank & Walther, "Algorithm 799: revolve", ACM TOMS 26(1), 2000).
 *
 * With s snapshots (the first holding the start of the range) and r sweeps,
 * at most beta(s, r) = C(s + r, r) steps can be reversed, each step
 * advanced at most r times. For l steps, with r the least integer such
 * that beta(s, r) >= l, the least total number of advances (unrecorded
 * step evaluations) is
 *     cost(l, s) = r l - beta(s + 1, r - 1) = r l - C(s + r, r - 1).
 * A schedule reaches it by recursion: advance m steps, put a snapshot
 * there, reverse the l - m steps after it with the s - 1 other snapshots,
 * free it, and reverse the first m with all s:
 *     cost(l, s) = min over m of  m + cost(l - m, s - 1) + cost(m, s).
 * cost(., s) is convex (its slope is r, growing by one where l passes
 * beta(s, r)), so the sum is convex in m and a bisection on its forward
 * difference finds a best m. tests/test_revolve.c checks cost (as
 * tg_revolve_advances) against that recursion solved by brute force, and
 * the driver's count against cost.
 */
#include "revolve_plan.h"

#include "tg_revolve.h"

#define SAT INT64_MAX

/* a * b, saturating at SAT (a, b >= 0). */
static int64_t mul_sat(int64_t a, int64_t b) {
    if (a && b > SAT / a) return SAT;
    return a * b;
}

/* C(s + r, r) from C(s + r - 1, r - 1) = c: c (s + r) / r, exact (the
 * product is divisible by r), computed without forming the product. */
static int64_t next_beta(int64_t c, int64_t s, int64_t r) {
    if (c == SAT) return SAT;
    int64_t q = c / r, rem = c % r;
    int64_t hi = mul_sat(q, s + r);
    int64_t lo = rem * (s + r) / r; /* rem < r: rem (s + r) fits when r, s < 2^31 */
    return hi > SAT - lo ? SAT : hi + lo;
}

int64_t tg__revolve_cost(int64_t l, int64_t s) {
    if (l <= 1) return 0;
    if (s == 1) /* advance i steps to reverse step i: 0 + 1 + ... + (l - 1) */
        return l % 2 ? mul_sat(l, (l - 1) / 2) : mul_sat(l / 2, l - 1);
    if (s >= l - 1) return l - 1; /* one sweep that stores every state */
    /* r, beta(s, r - 1) = C(s + r - 1, r - 1), beta(s, r) */
    int64_t r = 1, prev = 1, beta = s + 1;
    while (beta < l) {
        r++;
        prev = beta;
        beta = next_beta(beta, s, r);
    }
    /* C(s + r, r - 1) = C(s + r - 1, r - 1) (s + r) / (s + 1) */
    int64_t q = prev / (s + 1), rem = prev % (s + 1);
    int64_t b1 = mul_sat(q, s + r);
    if (b1 != SAT) b1 += rem * (s + r) / (s + 1);
    int64_t rl = mul_sat(r, l);
    return rl == SAT || b1 == SAT ? SAT : rl - b1;
}

static int64_t total(int64_t l, int64_t s, int64_t m) {
    int64_t a = tg__revolve_cost(l - m, s - 1), b = tg__revolve_cost(m, s);
    if (a == SAT || b == SAT || a > SAT - b - m) return SAT;
    return m + a + b;
}

int64_t tg__revolve_split(int64_t l, int64_t s) {
    if (s >= l - 1) return 1;
    /* the least m in [1, l - 1] with total(m) <= total(m + 1) */
    int64_t lo = 1, hi = l - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (total(l, s, mid) <= total(l, s, mid + 1)) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

int64_t tg_revolve_advances(int64_t nsteps, int snapshots) {
    if (snapshots < 1 || nsteps < 0) return -1;
    int64_t c = tg__revolve_cost(nsteps, snapshots);
    return c == SAT ? -1 : c;
}
