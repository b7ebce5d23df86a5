#!/usr/bin/env bash
# TLS to the database, end to end (issue 10): a throwaway CA and server certificate made
# with openssl, PostgreSQL 15 with ssl=on and MariaDB 10.11 with TLS, started by
# tests/db/pg.sh and tests/db/mariadb.sh. For each, `dagproc db check` must connect
# with the right CA and full verification, fail in one line naming the cause with a
# wrong CA, and fail when TLS is required of a server that does not offer it.
#
# usage: tests/db/tls_test.sh DAGPROC_BIN [pg|mariadb|all]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
which=${2:-all}
# shellcheck disable=SC2046
unset $(compgen -e | grep '^DAGPROC_') 2>/dev/null || true

. "$here/pg.sh"
. "$here/mariadb.sh"

work=$(mktemp -d /tmp/dagproc-tls.XXXXXX)
chmod 755 "$work"
cleanup() {
	pg_cleanup
	mariadb_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# certs: a CA, a server certificate it signs for 127.0.0.1 and localhost, another CA
mkcerts() {
	local d=$work/certs
	mkdir -p "$d" && cd "$d" || return 1
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 2 \
		-subj "/CN=dagproc test CA" 2>/dev/null &&
		openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.crt -days 2 \
			-subj "/CN=some other CA" 2>/dev/null &&
		openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost" \
			2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext &&
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out server.crt -days 2 -extfile ext 2>/dev/null || return 1
	chmod 644 ./*.crt
	cd - >/dev/null || return 1
}

# check NAME WANT_RC URL [STDERR_PATTERN]: runs `dagproc db check --db URL`
check() {
	local name=$1 want=$2 url=$3 pat=${4:-} out err rc lines
	out=$("$bin" db check --db "$url" 2>"$work/err")
	rc=$?
	err=$(cat "$work/err")
	lines=$(printf '%s' "$err" | grep -c '')
	if [ "$rc" -ne "$want" ]; then
		bad "$name: exit status $rc, expected $want: $err"
	elif [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; then
		bad "$name: $lines lines of error, expected one: $err"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" <<<"$err$out"; then
		bad "$name: no /$pat/ in: $err$out"
	elif grep -q -- "${PG_PASSWORD}" <<<"$err$out"; then
		bad "$name: the password is printed"
	else
		ok "$name${err:+ ($err)}"
	fi
}

if ! command -v openssl >/dev/null 2>&1; then
	echo "openssl is not installed (scripts/deps.sh installs it)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkcerts || { echo "cannot make the certificates"; echo "0 passed, 1 failed"; exit 1; }
c=$work/certs

case $which in
pg | all)
	mkdir -p "$work/pg"
	cp "$c/server.crt" "$c/server.key" "$work/pg/"
	chown postgres:postgres "$work/pg/server.crt" "$work/pg/server.key"
	chmod 600 "$work/pg/server.key"
	PG_EXTRA_OPTS="-c ssl=on -c ssl_cert_file=$work/pg/server.crt -c ssl_key_file=$work/pg/server.key"
	if pg_start >&2; then
		base="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
		"$bin" db migrate --db "$base" >/dev/null 2>&1
		check "pg: sslmode=verify-full with the right CA connects" 0 \
			"$base?sslmode=verify-full&sslrootcert=$c/ca.crt" "^server: postgresql 15"
		check "pg: the other conninfo options pass (application_name, keepalives, options, target_session_attrs)" 0 \
			"$base?sslmode=require&application_name=tls-check&keepalives_idle=5&keepalives_count=2&tcp_user_timeout=3000&target_session_attrs=read-write&options=-c%20search_path%3Dpublic" \
			"^server: postgresql"
		check "pg: a wrong CA fails in one line naming the cause" 1 \
			"$base?sslmode=verify-full&sslrootcert=$c/other-ca.crt" \
			"server certificate not trusted .*certificate verify failed"
		check "pg: an unknown parameter is an error naming it" 2 \
			"$base?sslmod=verify-full" "unknown connection parameter 'sslmod' .*did you mean sslmode"
		pg_stop >&2
		PG_EXTRA_OPTS=
		if pg_start >&2; then
			check "pg: sslmode=require against a server without TLS fails" 1 \
				"$base?sslmode=require" \
				"TLS required but the server does not offer it .*server does not support SSL, but SSL was required"
			check "pg: without sslmode the same server is fine (prefer)" 0 "$base" \
				"^server: postgresql"
		else
			bad "pg: server without TLS did not start"
		fi
		pg_cleanup
	else
		bad "pg: server with ssl=on did not start"
		tail -5 "$PG_DIR/server.log" 2>/dev/null
	fi
	;;
esac

case $which in
mariadb | all)
	mkdir -p "$work/my"
	cp "$c/server.crt" "$c/server.key" "$c/ca.crt" "$work/my/"
	chown mysql:mysql "$work/my/"*
	chmod 600 "$work/my/server.key"
	MY_EXTRA_OPTS="--ssl-ca=$work/my/ca.crt --ssl-cert=$work/my/server.crt --ssl-key=$work/my/server.key"
	if mariadb_start >&2; then
		base="mysql://$MY_USER:$MY_PASSWORD@127.0.0.1:$MY_PORT/$MY_DB"
		"$bin" db migrate --db "$base" >/dev/null 2>&1
		check "mariadb: ssl_ca + ssl_verify_server_cert with the right CA connects" 0 \
			"$base?ssl_ca=$c/ca.crt&ssl_verify_server_cert=true" "^server: mysql"
		check "mariadb: SQLAlchemy's spelling (ssl_check_hostname) likewise" 0 \
			"$base?ssl_ca=$c/ca.crt&ssl_check_hostname=true" "^server: mysql"
		check "mariadb: ssl=true (required, not verified) connects" 0 "$base?ssl=true" \
			"^server: mysql"
		check "mariadb: ssl_mode=VERIFY_IDENTITY likewise" 0 \
			"$base?ssl_mode=VERIFY_IDENTITY&ssl_ca=$c/ca.crt" "^server: mysql"
		check "mariadb: a wrong CA fails in one line naming the cause" 1 \
			"$base?ssl_ca=$c/other-ca.crt&ssl_verify_server_cert=true" \
			"server certificate not trusted|TLS failed"
		mariadb_stop >&2
		MY_EXTRA_OPTS=
		if mariadb_start >&2; then
			check "mariadb: ssl=true against a server without TLS fails" 1 "$base?ssl=true" \
				"TLS required but the server does not offer it"
			check "mariadb: ssl_ca without verification: TLS still required" 1 \
				"$base?ssl_ca=$c/ca.crt" "TLS required but the server does not offer it"
			check "mariadb: ssl_mode=PREFERRED goes on without TLS" 0 \
				"$base?ssl_mode=PREFERRED" "^server: mysql"
			check "mariadb: without TLS options the same server is fine" 0 "$base" \
				"^server: mysql"
		else
			bad "mariadb: server without TLS did not start"
		fi
		mariadb_cleanup
	else
		bad "mariadb: server with TLS did not start"
		tail -5 "$MY_DIR/server.log" 2>/dev/null
	fi
	;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
