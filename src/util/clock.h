/* Seconds as doubles: the monotonic clock for deadlines and durations, the
 * wall clock for timestamps. */
#ifndef DAGPROC_CLOCK_H
#define DAGPROC_CLOCK_H

double clock_mono(void);
double clock_epoch(void);

#endif
