/* The parse duration histogram's bucket bounds, shared by the processor that
 * counts and the API that prints them. */
#include "status/status.h"

const double proc_hist_bounds[PROC_HIST_BUCKETS - 1] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,  1,    10};
