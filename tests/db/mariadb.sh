# Throwaway MariaDB 10.11 server for tests: source this file, then mariadb_start /
# mariadb_stop / mariadb_restart / mariadb_cleanup. The server is a direct child of the
# sourcing shell and lives in a temp directory on a free port.
#
# After mariadb_start:
#   MY_DIR MY_PORT MY_PID MY_SOCK     data dir, TCP port on 127.0.0.1, server pid, socket
#   MY_USER MY_PASSWORD MY_DB         unprivileged test user ('MY_USER'@'127.0.0.1') and db
#   MY_ADMIN_USER MY_ADMIN_PASSWORD   root@127.0.0.1, for kills and checks
#   MY_URL                            mysql://MY_USER:MY_PASSWORD@127.0.0.1:MY_PORT/MY_DB
# Knobs (set before mariadb_start): MY_MAX_CONNECTIONS (default 20), MY_EXTRA_OPTS (more
# server options, e.g. "--ssl-cert=/x/server.crt"; read at each start).

MY_MAX_CONNECTIONS=${MY_MAX_CONNECTIONS:-20}
MY_USER=${MY_USER:-dagproc}
MY_PASSWORD=${MY_PASSWORD:-pw-S3cr3t-xyz}
MY_DB=${MY_DB:-dagproc}
MY_ADMIN_USER=root
MY_ADMIN_PASSWORD=${MY_ADMIN_PASSWORD:-admin-pw}
MY_PID=
MY_DIR=
MY_PORT=

_my_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# mariadb_start: install the data dir on first use, start the server, wait until it
# answers (at most 60 s). Returns nonzero on failure.
mariadb_start() {
	local fresh=
	if [ -z "$MY_DIR" ]; then
		MY_DIR=$(mktemp -d /tmp/dagproc-my.XXXXXX) || return 1
		mkdir -p "$MY_DIR/data" "$MY_DIR/tmp"
		chown -R mysql:mysql "$MY_DIR"
		mariadb-install-db --no-defaults --user=mysql --datadir="$MY_DIR/data" \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$MY_DIR/install.log" 2>&1 || {
			cat "$MY_DIR/install.log" >&2
			return 1
		}
		MY_PORT=$(_my_free_port)
		MY_SOCK=$MY_DIR/sock
		fresh=1
	fi
	mariadbd --no-defaults --user=mysql --datadir="$MY_DIR/data" --socket="$MY_SOCK" \
		--port="$MY_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
		--tmpdir="$MY_DIR/tmp" --max-connections="$MY_MAX_CONNECTIONS" \
		--innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=64M \
		--skip-log-bin --log-error="$MY_DIR/server.log" ${MY_EXTRA_OPTS:-} \
		>>"$MY_DIR/server.out" 2>&1 &
	MY_PID=$!
	local i
	for i in $(seq 1 600); do
		# ping answers as soon as the server accepts connections, even with access denied
		if mariadb-admin --no-defaults --socket="$MY_SOCK" -uroot --connect-timeout=1 \
			ping >/dev/null 2>&1; then
			break
		fi
		if ! kill -0 "$MY_PID" 2>/dev/null; then
			echo "mariadb_start: server exited; log:" >&2
			tail -20 "$MY_DIR/server.log" >&2
			return 1
		fi
		sleep 0.1
	done
	if [ -n "$fresh" ]; then
		mariadb --no-defaults --socket="$MY_SOCK" -uroot <<-SQL || return 1
			CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
			ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MY_ADMIN_PASSWORD';
			GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
			ALTER USER 'root'@'localhost' IDENTIFIED BY '$MY_ADMIN_PASSWORD';
			CREATE DATABASE $MY_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
			CREATE USER '$MY_USER'@'127.0.0.1' IDENTIFIED BY '$MY_PASSWORD';
			GRANT ALL ON $MY_DB.* TO '$MY_USER'@'127.0.0.1';
			FLUSH PRIVILEGES;
		SQL
	fi
	mariadb_sql -e "SELECT 1" >/dev/null || return 1
	MY_URL="mysql://$MY_USER:$MY_PASSWORD@127.0.0.1:$MY_PORT/$MY_DB"
	export MY_DIR MY_PORT MY_PID MY_SOCK MY_USER MY_PASSWORD MY_DB MY_ADMIN_USER \
		MY_ADMIN_PASSWORD MY_URL
}

# mariadb_stop [mode]: SIGTERM (clean shutdown) or "immediate": SIGKILL (a crash); waits.
mariadb_stop() {
	[ -n "$MY_PID" ] || return 0
	if [ "${1:-}" = immediate ]; then
		kill -KILL "$MY_PID" 2>/dev/null
	else
		kill -TERM "$MY_PID" 2>/dev/null
	fi
	wait "$MY_PID" 2>/dev/null
	MY_PID=
}

mariadb_restart() {
	mariadb_stop "$@" && mariadb_start
}

mariadb_cleanup() {
	mariadb_stop
	[ -n "$MY_DIR" ] && rm -rf "$MY_DIR"
	MY_DIR=
}

# The client as root over TCP: mariadb_sql -e "SQL"
mariadb_sql() {
	mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root -p"$MY_ADMIN_PASSWORD" "$@"
}
