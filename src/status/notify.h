/* systemd's notification protocol (sd_notify(3)) without libsystemd: one
 * datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or '@' for the abstract namespace). Everything here is a no-op when the
 * variable is unset, which is every run not under Type=notify. */
#ifndef DAGPROC_NOTIFY_H
#define DAGPROC_NOTIFY_H

#include <stdbool.h>

/* Reads $NOTIFY_SOCKET and $WATCHDOG_USEC / $WATCHDOG_PID, then unsets them
 * so that the worker processes do not inherit them. */
void notify_init(void);

/* true when $NOTIFY_SOCKET was set */
bool notify_enabled(void);

/* seconds between two WATCHDOG=1 (half of WatchdogSec), or 0 when systemd
 * asked for none */
double notify_watchdog_interval(void);

/* Sends "READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1" (several may be
 * joined by '\n'). 0, or -1 when it could not be sent (never fatal). */
int notify_send(const char *msg);

#endif
