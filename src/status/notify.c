/* sd_notify(3) in a few lines: a datagram to $NOTIFY_SOCKET. */
#include "status/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static double watchdog_every;

void notify_init(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	notify_len = 0;
	watchdog_every = 0;
	if (sock && (sock[0] == '/' || sock[0] == '@') &&
	    strlen(sock) < sizeof(notify_addr.sun_path)) {
		memset(&notify_addr, 0, sizeof(notify_addr));
		notify_addr.sun_family = AF_UNIX;
		size_t n = strlen(sock);
		memcpy(notify_addr.sun_path, sock, n);
		if (sock[0] == '@')
			notify_addr.sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		                         (sock[0] == '@' ? 0 : 1));
	}
	const char *usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
	if (notify_len && usec) {
		char *end;
		unsigned long long us = strtoull(usec, &end, 10);
		bool ours = !wpid || strtol(wpid, NULL, 10) == (long)getpid();
		if (usec[0] >= '0' && usec[0] <= '9' && *end == '\0' && us > 0 && ours)
			watchdog_every = (double)us / 2e6;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

bool notify_enabled(void)
{
	return notify_len > 0;
}

double notify_watchdog_interval(void)
{
	return watchdog_every;
}

int notify_send(const char *msg)
{
	if (!notify_len)
		return 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* never blocks the main loop: a full queue loses the message */
	ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	                   (struct sockaddr *)&notify_addr, notify_len);
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(msg) ? 0 : -1;
}
