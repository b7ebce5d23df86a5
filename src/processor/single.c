/* One processor per SQLite database: an flock on the database file. flock
 * locks belong to the open file description, so SQLite's own POSIX byte-range
 * locks on the same file neither see nor disturb it, and closing one of
 * SQLite's descriptors does not release it (as it would a POSIX lock). */
#include "processor/single.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/xalloc.h"

/* "instance (host, pid N), last heartbeat at T", from the database, or NULL. */
static char *holder_of(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 1000);
	if (sqlite3_prepare_v2(db,
	                       "SELECT instance_name, hostname, pid, latest_heartbeat FROM "
	                       "dag_processor ORDER BY latest_heartbeat DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *host = (const char *)sqlite3_column_text(st, 1);
		const char *hb = (const char *)sqlite3_column_text(st, 3);
		out = xasprintf("%s (host %s, pid %lld), last heartbeat %s UTC", name ? name : "?",
		                host ? host : "?", (long long)sqlite3_column_int64(st, 2),
		                hb ? hb : "unknown");
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

int proc_single_lock(const char *sqlite_path, char **why)
{
	*why = NULL;
	int fd = open(sqlite_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		(void)!fchmod(fd, 0600); /* a new database is private whatever the umask */
	else if (errno == EEXIST)
		fd = open(sqlite_path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		/* a read-only database: locked all the same; the writes it refuses
		 * are the writer's to report and retry */
		fd = open(sqlite_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = xasprintf("cannot open the SQLite database %s: %s", sqlite_path,
		                 strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	int e = errno;
	close(fd);
	if (e != EWOULDBLOCK) {
		*why =
		    xasprintf("cannot lock the SQLite database %s: %s", sqlite_path, strerror(e));
		return -1;
	}
	char *who = holder_of(sqlite_path);
	*why = xasprintf("another dagproc processor is running on the SQLite database %s%s%s; "
	                 "SQLite is for one processor (use PostgreSQL or MySQL for several)",
	                 sqlite_path, who ? ": " : "", who ? who : "");
	free(who);
	return -1;
}
