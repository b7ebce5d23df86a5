# Throwaway PostgreSQL 15 server for tests: source this file, then pg_start / pg_stop /
# pg_restart / pg_cleanup. The server is a direct child of the sourcing shell (so it can be
# waited on) and lives in a temp directory on a free port.
#
# After pg_start:
#   PG_DIR PG_PORT PG_PID             data dir, TCP port on 127.0.0.1, server pid
#   PG_USER PG_PASSWORD PG_DB         unprivileged test role and its database
#   PG_ADMIN_USER                     superuser (postgres) for kills and checks
#   PG_URL                            postgresql://PG_USER:PG_PASSWORD@127.0.0.1:PG_PORT/PG_DB
# Knobs (set before pg_start): PG_BIN, PG_MAX_CONNECTIONS (default 20), PG_EXTRA_OPTS
# (more server options, e.g. "-c ssl=on -c ssl_cert_file=/x/server.crt"; read at each start).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-20}
PG_USER=${PG_USER:-dagproc}
PG_PASSWORD=${PG_PASSWORD:-pw-S3cr3t-xyz}
PG_DB=${PG_DB:-dagproc}
PG_ADMIN_USER=postgres
PG_PID=
PG_DIR=
PG_PORT=

_db_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# pg_start: initdb on first use, then start the server and wait until it accepts
# connections (at most 30 s). Returns nonzero on failure.
pg_start() {
	if [ -z "$PG_DIR" ]; then
		PG_DIR=$(mktemp -d /tmp/dagproc-pg.XXXXXX) || return 1
		chown postgres:postgres "$PG_DIR"
		chmod 700 "$PG_DIR"
		runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres \
			--no-sync >"$PG_DIR/initdb.log" 2>&1 || {
			cat "$PG_DIR/initdb.log" >&2
			return 1
		}
		PG_PORT=$(_db_free_port)
		_pg_fresh=1
	fi
	# setpriv execs postgres: $! is the postmaster itself, a direct child of this shell
	setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" \
		-c listen_addresses=127.0.0.1 -c max_connections="$PG_MAX_CONNECTIONS" \
		-c superuser_reserved_connections=3 -c fsync=off \
		-c full_page_writes=off -c logging_collector=off ${PG_EXTRA_OPTS:-} \
		>>"$PG_DIR/server.log" 2>&1 &
	PG_PID=$!
	local i
	for i in $(seq 1 300); do
		if pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 1 2>/dev/null; then
			break
		fi
		if ! kill -0 "$PG_PID" 2>/dev/null; then
			echo "pg_start: server exited; log:" >&2
			tail -20 "$PG_DIR/server.log" >&2
			return 1
		fi
		sleep 0.1
	done
	pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 1 || return 1
	if [ -n "$_pg_fresh" ]; then
		_pg_fresh=
		psql -q -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
			-c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" \
			-c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null || return 1
	fi
	PG_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
	export PG_DIR PG_PORT PG_PID PG_USER PG_PASSWORD PG_DB PG_ADMIN_USER PG_URL
}

# pg_stop [mode]: stop the server (fast shutdown: SIGINT; "immediate": SIGQUIT, a crash)
# and wait for it to exit.
pg_stop() {
	[ -n "$PG_PID" ] || return 0
	if [ "${1:-}" = immediate ]; then
		kill -QUIT "$PG_PID" 2>/dev/null
	else
		kill -INT "$PG_PID" 2>/dev/null
	fi
	wait "$PG_PID" 2>/dev/null
	PG_PID=
}

pg_restart() {
	pg_stop "$@" && pg_start
}

# pg_cleanup: stop the server and remove its directory.
pg_cleanup() {
	pg_stop
	[ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
	PG_DIR=
}

# psql as the superuser against the test database: pg_psql -c "SQL"
pg_psql() {
	psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$PG_DB" "$@"
}
