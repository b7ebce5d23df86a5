#!/usr/bin/env bash
# Secrets stay secret (issue 10), black-box, without database servers: every place a
# database URL is printed (errors, `db check`, logs, help) shows the password as ***
# and leaves the driver's words alone, passwords of 1 to 3 characters included; `ps`
# does not show a --db password; DAG files cannot read the processor's settings or
# secret-looking variables (database, API, logs, the workers' environment), and get
# W005; SQLite files are 0600; secrets from a file or a command; the start-up warning
# for a readable configuration file; the API's exposure and HTTPS.
#
#   tests/secrets_test.sh BIN
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 path/to/dagproc" >&2
	exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/dagproc-secrets.XXXXXX")
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 2

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	local x
	for x in "$@"; do
		if [ -f "$x" ]; then tail -n 15 "$x" | sed 's/^/     /'; else echo "     $x"; fi
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS CMD...: polls CMD until it succeeds
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

closed=$(free_port) # nothing listens there

# ---- 1. redaction: db check, errors, logs, help ----------------------------------

# short passwords: the driver's message is intact and the URL shows ***
for pw in p or ion t e; do
	"$BIN" db check --db "postgresql://dagproc:$pw@127.0.0.1:$closed/postgres" \
		>"$work/out" 2>"$work/err"
	rc=$?
	want="postgresql://dagproc:***@127.0.0.1:$closed/postgres: connection refused (connection to server at \"127.0.0.1\", port $closed failed: Connection refused"
	if [ "$rc" -eq 1 ] && [ "$(grep -c '' "$work/err")" -eq 1 ] && grep -qF "$want" "$work/err" &&
		! grep -q 'dagproc:[^*]' "$work/err"; then
		ok "db check, password '$pw': one line, the URL masked, libpq's words intact"
	else
		bad "db check, password '$pw'" "exit $rc" "$work/err"
	fi
done

# a URL that does not parse is printed as its scheme only
"$BIN" db check --db 'postgresql://u:Secret@host:notaport/db' >"$work/out" 2>"$work/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -qF "invalid database URL 'postgresql://***'" "$work/err" &&
	! grep -q 'Secret\|notaport\|host' "$work/err"; then
	ok "a URL that does not parse is printed as postgresql://*** ($(cat "$work/err"))"
else
	bad "malformed URL" "exit $rc" "$work/err"
fi
"$BIN" db check --db 'mysql://u:p@ss@host/db' >"$work/out" 2>"$work/err"
if grep -qF "'mysql://***'" "$work/err" && ! grep -q 'ss@host' "$work/err"; then
	ok "an unencoded '@' in the password: nothing of it printed"
else
	bad "unencoded @" "$work/err"
fi
# an unknown parameter: one line naming it, the URL masked
"$BIN" db check --db "postgresql://u:hunter2@127.0.0.1:$closed/db?sslmod=require" >"$work/out" 2>"$work/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(grep -c '' "$work/err")" -eq 1 ] &&
	grep -qF "unknown connection parameter 'sslmod' for postgresql (did you mean sslmode?)" "$work/err" &&
	! grep -q hunter2 "$work/err"; then
	ok "an unknown URL parameter is a one-line error naming it"
else
	bad "unknown parameter" "exit $rc" "$work/err"
fi
# the read commands
"$BIN" dags list --db "postgresql://u:ab@127.0.0.1:$closed/db" >"$work/out" 2>"$work/err"
if grep -qF "cannot connect to postgresql://u:***@127.0.0.1:$closed/db: connection to server at \"127.0.0.1\", port $closed failed" "$work/err"; then
	ok "dags list, password 'ab': URL masked, message intact"
else
	bad "dags list" "$work/err"
fi
# logs of the daemon: the start line and the outage line
mkdir -p "$work/dags"
for pw in p ab pwd; do
	DAGPROC__DATABASE__ONCE_TIMEOUT=2 DAGPROC__DATABASE__CONNECT_TIMEOUT=1 \
		"$BIN" run --once --dags "$work/dags" --db "postgresql://dagproc:$pw@127.0.0.1:$closed/postgres" \
		>"$work/run.log" 2>&1
	if grep -qF "database postgresql://dagproc:***@127.0.0.1:$closed/postgres" "$work/run.log" &&
		grep -qF "database unreachable: connection to server at \"127.0.0.1\", port $closed failed: Connection refused" "$work/run.log" &&
		! grep -q 'dagproc:[^*]\|\*\*\*ort\|\*\*\*ab' "$work/run.log"; then
		ok "daemon log, password '$pw': URL masked, messages intact"
	else
		bad "daemon log, password '$pw'" "$work/run.log"
	fi
done
# help and the configuration dump never show the configured password
export DAGPROC__DATABASE__SQL_CONN="postgresql://u:hunter2-help@127.0.0.1:$closed/db"
"$BIN" help config >"$work/help" 2>&1
"$BIN" --help >>"$work/help" 2>&1
"$BIN" run --help >>"$work/help" 2>&1
"$BIN" db --help >>"$work/help" 2>&1
"$BIN" serve --help >>"$work/help" 2>&1
if grep -q hunter2 "$work/help"; then
	bad "help shows the password" "$work/help"
else
	ok "help and usage never show the configured password"
fi
unset DAGPROC__DATABASE__SQL_CONN

# ---- 2. ps does not show a --db password -----------------------------------------

for form in sep eq; do
	pw=S3cretArgv$form
	url="postgresql://dagproc:$pw@127.0.0.1:$closed/postgres"
	if [ "$form" = sep ]; then args=(--db "$url"); else args=("--db=$url"); fi
	DAGPROC__API__ENABLED=false DAGPROC__DATABASE__CONNECT_TIMEOUT=1 \
		"$BIN" run --dags "$work/dags" "${args[@]}" >"$work/ps.log" 2>&1 &
	dpid=$!
	wait_until 10 grep -q "processor starting" "$work/ps.log"
	shown=$(ps -o args= -p "$dpid")
	cmdline=$(tr '\0' ' ' <"/proc/$dpid/cmdline")
	if [ -n "$shown" ] && ! grep -q "$pw" <<<"$shown$cmdline" &&
		grep -qF "dagproc:***@127.0.0.1:$closed/postgres" <<<"$shown"; then
		ok "ps -o args of run ${args[0]%%=*}${form/sep/ URL}${form/eq/=URL}: $shown"
	else
		bad "ps shows: $shown"
	fi
	kill -TERM "$dpid"
	wait "$dpid"
	dpid=
done

# ---- 3. the environment DAG files see (database, API, logs, workers) ---------------
# On PostgreSQL (tests/db/pg.sh), so that ${DAGPROC__DATABASE__SQL_CONN} holds a real
# password; on SQLite when SKIP_DB=1.

rm -rf "$work/dags" && mkdir -p "$work/dags"
cat >"$work/dags/leaky.yml" <<'YML'
leaky:
  description: "conn=${DAGPROC__DATABASE__SQL_CONN} pw=$DB_ADMIN_PASSWORD home=$ENV_PLAIN"
  tasks:
    - task_id: show
      operator: airflow.providers.standard.operators.bash.BashOperator
      bash_command: echo $DB_ADMIN_PASSWORD $DAGPROC__API__AUTH_TOKEN
YML
pgdb=
if [ "${SKIP_DB:-0}" != 1 ]; then
	# shellcheck source=tests/db/pg.sh
	. "$here/db/pg.sh"
	PG_PASSWORD=pgpw-marker-5Hd
	if pg_start >"$work/pg.out" 2>&1; then
		pgdb=1
		trap 'cleanup; pg_cleanup >/dev/null 2>&1' EXIT
	else
		bad "PostgreSQL did not start" "$work/pg.out"
	fi
fi
if [ -n "$pgdb" ]; then
	conn_marker=$PG_PASSWORD
	export DAGPROC__DATABASE__SQL_CONN=$PG_URL
else
	conn_marker=sqlite:///$work/env.db
	export DAGPROC__DATABASE__SQL_CONN=$conn_marker
fi
port=$(free_port)
export DAGPROC__API__AUTH_TOKEN=tok-marker-3Kx DAGPROC__API__PORT=$port
export DB_ADMIN_PASSWORD=pw-marker-9Vw ENV_PLAIN=plain-value
"$BIN" run --dags "$work/dags" >"$work/env.log" 2>&1 &
dpid=$!
api() { curl -s -H "Authorization: Bearer tok-marker-3Kx" "http://127.0.0.1:$port$1"; }
has_warning() { api "/api/v2/dagWarnings?dag_id=leaky" | grep -q DB_ADMIN_PASSWORD; }
wait_until 30 has_warning
details=$(api /api/v2/dags/leaky/details)
warnings=$(api "/api/v2/dagWarnings?dag_id=leaky")
worker_env=
for w in $(pgrep -P "$dpid"); do
	worker_env+=$(tr '\0' '\n' <"/proc/$w/environ" 2>/dev/null)
done
if [ -n "$pgdb" ]; then
	dump=$(pg_dump -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB" 2>/dev/null)
else
	dump=$(sqlite3 "$work/env.db" .dump 2>/dev/null)
fi
if grep -q '"description": *"conn=${DAGPROC__DATABASE__SQL_CONN} pw=$DB_ADMIN_PASSWORD home=plain-value"' <<<"$details"; then
	ok "the API serves the description with the denied variables as written"
else
	bad "details: $details" "$work/env.log"
fi
if grep -q '"warning_type": *"environment"' <<<"$warnings" &&
	grep -q 'DB_ADMIN_PASSWORD is not expanded' <<<"$warnings" &&
	grep -q 'DAGPROC__DATABASE__SQL_CONN is not expanded' <<<"$warnings"; then
	ok "dagWarnings has the W005 'environment' warning naming both variables"
else
	bad "dagWarnings: $warnings"
fi
leak=
for m in "$conn_marker" tok-marker-3Kx pw-marker-9Vw; do
	grep -q -- "$m" <<<"$details$warnings$(api /api/v2/dags)$(api /api/v2/importErrors)" && leak+=" API:$m"
	grep -q -- "$m" <<<"$dump" && leak+=" database:$m"
	[ -n "$pgdb" ] && grep -q -- "$m" "$work/env.log" && leak+=" log:$m"
	grep -q -- "$m" <<<"$worker_env" && leak+=" worker-environment:$m"
done
if [ -z "$leak" ] && [ -n "$worker_env" ] && grep -q leaky <<<"$dump"; then
	ok "no value of DAGPROC__* or *_PASSWORD in the database, the API, ${pgdb:+the log, }a worker's environment${pgdb:+ (PostgreSQL)}"
else
	bad "leaked:$leak (worker env read: ${#worker_env} bytes, dump ${#dump} bytes)" "$work/env.log"
fi
grep -q '^ENV_PLAIN=plain-value$' <<<"$worker_env" && ok "the workers keep the other variables" ||
	bad "worker environment: $worker_env"
kill -TERM "$dpid"
wait "$dpid"
dpid=
[ -n "$pgdb" ] && pg_cleanup >/dev/null 2>&1
unset DAGPROC__DATABASE__SQL_CONN DAGPROC__API__AUTH_TOKEN DAGPROC__API__PORT DB_ADMIN_PASSWORD ENV_PLAIN

# ---- 4. SQLite files 0600 whatever the umask; an existing file keeps its mode ------

mode() { stat -c %a "$1"; }
(
	umask 000
	exec env DAGPROC__API__ENABLED=false "$BIN" run --dags "$work/dags" --db "sqlite:///$work/new.db"
) >"$work/perm.log" 2>&1 &
dpid=$!
if wait_until 20 test -e "$work/new.db-wal" -a -e "$work/new.db-shm" &&
	[ "$(mode "$work/new.db")" = 600 ] && [ "$(mode "$work/new.db-wal")" = 600 ] &&
	[ "$(mode "$work/new.db-shm")" = 600 ]; then
	ok "umask 000: the database, -wal and -shm are created 0600"
else
	bad "modes: $(stat -c '%n %a' "$work"/new.db* 2>&1 | tr '\n' ' ')" "$work/perm.log"
fi
kill -TERM "$dpid"
wait "$dpid"
dpid=
(
	umask 0277 # even one that takes the owner's write bit
	exec env DAGPROC__API__ENABLED=false "$BIN" run --once --dags "$work/dags" \
		--db "sqlite:///$work/odd-umask.db"
) >"$work/perm2.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] && [ "$(mode "$work/odd-umask.db")" = 600 ] &&
	ok "umask 0277: run --once creates the database 0600 and writes it" ||
	bad "umask 0277: exit $rc, mode $(mode "$work/odd-umask.db" 2>&1)" "$work/perm2.log"
(umask 000 && "$BIN" db migrate --db "sqlite:///$work/migrated.db" >/dev/null 2>&1)
[ "$(mode "$work/migrated.db")" = 600 ] && ok "umask 000: db migrate creates the database 0600" ||
	bad "db migrate: mode $(mode "$work/migrated.db")"
install -m 640 /dev/null "$work/old.db"
(umask 000 && "$BIN" db migrate --db "sqlite:///$work/old.db" >/dev/null 2>&1)
[ "$(mode "$work/old.db")" = 640 ] && ok "an existing database keeps its mode (0640)" ||
	bad "old.db mode $(mode "$work/old.db")"

# ---- 5. secrets from a file or a command; the readable-config warning -------------

printf 'sqlite:///%s/from-file.db\n' "$work" >"$work/db.secret"
DAGPROC__DATABASE__SQL_CONN_FILE=$work/db.secret "$BIN" db migrate >"$work/out" 2>&1 &&
	[ -e "$work/from-file.db" ] && ok "DAGPROC__DATABASE__SQL_CONN_FILE gives the URL" ||
	bad "sql_conn_file" "$work/out"
DAGPROC__DATABASE__SQL_CONN_CMD="printf 'sqlite:///%s/from-cmd.db' $work" "$BIN" db migrate >"$work/out" 2>&1 &&
	[ -e "$work/from-cmd.db" ] && ok "DAGPROC__DATABASE__SQL_CONN_CMD gives the URL" ||
	bad "sql_conn_cmd" "$work/out"
DAGPROC__DATABASE__SQL_CONN_CMD="exit 4" "$BIN" db check >"$work/out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -qx "dagproc: \[database\] sql_conn_cmd: the command exited with status 4" "$work/out" &&
	ok "a failing sql_conn_cmd: exit 2, one line naming it" || bad "sql_conn_cmd failing: $rc" "$work/out"
printf '[api]\nauth_token = cfg-token-1\nenabled = false\n' >"$work/open.cfg"
chmod 644 "$work/open.cfg"
"$BIN" run --once --config "$work/open.cfg" --dags "$work/dags" --db "sqlite:///$work/w.db" >"$work/out" 2>&1
if grep -q "warning $work/open.cfg holds the API token (\[api\] auth_token) and other users can read it (mode 0644): chmod 600" "$work/out" &&
	! grep -q cfg-token-1 "$work/out"; then
	ok "a config file others can read that holds the token: a warning at start"
else
	bad "readable config warning" "$work/out"
fi
chmod 600 "$work/open.cfg"
"$BIN" run --once --config "$work/open.cfg" --dags "$work/dags" --db "sqlite:///$work/w.db" >"$work/out" 2>&1
grep -q "other users can read" "$work/out" && bad "warning at mode 0600" "$work/out" ||
	ok "no warning at mode 0600"

# ---- 6. the API's exposure and HTTPS ----------------------------------------------

timeout 15 "$BIN" serve --db "sqlite:///$work/w.db" --host 0.0.0.0 --port "$(free_port)" \
	>"$work/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && [ "$(grep -c '' "$work/out")" -eq 1 ] &&
	grep -q "\[api\] host 0.0.0.0 is not a loopback address and \[api\] auth_token is not set" "$work/out"; then
	ok "serve on 0.0.0.0 without a token: exit 2, one line naming the setting"
else
	bad "serve 0.0.0.0: exit $rc" "$work/out"
fi
DAGPROC__API__HOST=0.0.0.0 DAGPROC__API__PORT=$(free_port) timeout 15 "$BIN" run \
	--dags "$work/dags" --db "sqlite:///$work/w.db" >"$work/out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q "allow_unauthenticated" "$work/out" &&
	ok "run with the API on 0.0.0.0 without a token: exit 2 at start" || bad "run 0.0.0.0: exit $rc" "$work/out"
port=$(free_port)
DAGPROC__API__ALLOW_UNAUTHENTICATED=true "$BIN" serve --db "sqlite:///$work/w.db" --host 0.0.0.0 \
	--port "$port" >"$work/open.log" 2>&1 &
dpid=$!
if wait_until 10 grep -q "listening on" "$work/open.log" &&
	grep -q "warning api: serving /api on 0.0.0.0:$port without authentication" "$work/open.log"; then
	ok "allow_unauthenticated = true: served, with a warning at start"
else
	bad "allow_unauthenticated" "$work/open.log"
fi
kill -TERM "$dpid"
wait "$dpid"
dpid=

if command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$work/api.key" -out "$work/api.crt" -subj "/CN=localhost" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
	port=$(free_port)
	DAGPROC__API__TLS_CERT=$work/api.crt DAGPROC__API__TLS_KEY=$work/api.key \
		"$BIN" serve --db "sqlite:///$work/w.db" --port "$port" >"$work/tls.log" 2>&1 &
	dpid=$!
	wait_until 10 grep -q "listening on" "$work/tls.log"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/api.crt" "https://127.0.0.1:$port/livez")
	plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/livez")
	if [ "$code" = 200 ] && [ "$plain" != 200 ] && grep -q "listening on https://127.0.0.1:$port/" "$work/tls.log"; then
		ok "tls_cert/tls_key: HTTPS verified with the certificate (200), plain HTTP refused ($plain)"
	else
		bad "HTTPS: $code, plain $plain" "$work/tls.log"
	fi
	kill -TERM "$dpid"
	wait "$dpid"
	dpid=
	DAGPROC__API__TLS_CERT=$work/api.crt timeout 15 "$BIN" serve --db "sqlite:///$work/w.db" \
		--port "$(free_port)" >"$work/out" 2>&1
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "tls_cert and \[api\] tls_key are set together" "$work/out" &&
		ok "tls_cert without tls_key: exit 2, one line" || bad "tls_cert alone: exit $rc" "$work/out"
	DAGPROC__API__TLS_CERT=$work/api.crt DAGPROC__API__TLS_KEY=$work/nope.key timeout 15 \
		"$BIN" serve --db "sqlite:///$work/w.db" --port "$(free_port)" >"$work/out" 2>&1
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "\[api\] tls_key: cannot read $work/nope.key" "$work/out" &&
		ok "an unreadable tls_key: exit 2 naming it" || bad "tls_key missing: exit $rc" "$work/out"
else
	bad "openssl is not installed (scripts/deps.sh installs it)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
