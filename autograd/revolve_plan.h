/* revolve_plan.h - the binomial schedule's arithmetic (revolve_plan.c),
 * for the driver (revolve.c). */
#ifndef TG_REVOLVE_PLAN_H
#define TG_REVOLVE_PLAN_H
#include <stdint.h>

/* The least number of unrecorded steps that reverse l >= 1 steps with
 * s >= 1 snapshots (x_0 in one of them); INT64_MAX when it overflows. */
int64_t tg__revolve_cost(int64_t l, int64_t s);

/* Where to put the next snapshot: the number m in [1, l - 1] of steps to
 * advance from the snapshot at the start of l >= 2 steps, with s >= 2
 * snapshots for them, such that m + cost(l - m, s - 1) + cost(m, s) =
 * cost(l, s) (the least of that sum; it is convex in m). */
int64_t tg__revolve_split(int64_t l, int64_t s);

#endif
