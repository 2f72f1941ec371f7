#!/bin/bash
# pg-entrypoint.sh: entrypoint of the edmsdr/postgres:VERSION images built by scripts/pg-image.sh.
#
# It keeps the contract of the official postgres image's docker-entrypoint.sh, for a server that
# runs as the non-root user postgres (the image's USER):
#   - a first argument starting with '-' gets 'postgres' prepended (`-c fsync=off` works), and
#     `postgres ARGS...` starts the server with ARGS; any other command (or `postgres --version`,
#     `--help`, ...) is exec'ed as given;
#   - POSTGRES_USER (default postgres) is the superuser, POSTGRES_PASSWORD its password (required
#     unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default POSTGRES_USER) is created,
#     POSTGRES_INITDB_ARGS is passed to initdb;
#   - initdb runs only when $PGDATA holds no cluster yet; a temporary server without TCP then runs
#     /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh (executable: run, else sourced), in
#     name order, and stops;
#   - so on the first start the log says "database system is ready to accept connections" twice
#     (temporary server, then the real one) and once on every later start;
#   - the real server listens on all addresses; connections from outside the container
#     authenticate with a password (POSTGRES_HOST_AUTH_METHOD, default scram-sha-256), while the
#     socket and loopback stay trusted, as in the official image.
set -Eeuo pipefail

if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi
want_help() {
	local arg
	for arg; do
		case "$arg" in
		-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}
if [ "${1:-}" != 'postgres' ] || want_help "$@"; then
	exec "$@"
fi
shift

if [ "$(id -u)" = 0 ]; then
	# Started with --user root: fix ownership and drop to postgres, as the official image does.
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
: "${POSTGRES_PASSWORD:=}"
if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
	echo >&2 'pg-entrypoint: POSTGRES_PASSWORD is required (or set POSTGRES_HOST_AUTH_METHOD=trust)'
	exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA"
	initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host=trust)
	# Word splitting of POSTGRES_INITDB_ARGS is intended (the official image does the same).
	# shellcheck disable=SC2206
	initdb_args+=(${POSTGRES_INITDB_ARGS:-})
	case " $* " in
	# The server runs with fsync=off (testcontainers' default): durability is off anyway, so
	# initdb need not sync either (saves seconds per container).
	*" fsync=off "* | *" fsync=false "* | *" fsync=0 "*) initdb_args+=(--no-sync) ;;
	esac
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# The process substitution must be on the initdb line itself: its /dev/fd is closed
		# once the command that created it ends.
		initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
	else
		initdb "${initdb_args[@]}"
	fi
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

	export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
	# Temporary server with the real server's arguments, but sockets only, so nothing outside can
	# connect before the init scripts ran.
	pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@" -c listen_addresses= -p 5432)" -w start
	psql_cmd=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER")
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql_cmd[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh)
			if [ -x "$f" ]; then
				echo "pg-entrypoint: running $f"
				"$f"
			else
				echo "pg-entrypoint: sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			echo "pg-entrypoint: running $f"
			"${psql_cmd[@]}" --dbname "$POSTGRES_DB" -f "$f"
			;;
		*.sql.gz)
			echo "pg-entrypoint: running $f"
			gunzip -c "$f" | "${psql_cmd[@]}" --dbname "$POSTGRES_DB"
			;;
		*) echo "pg-entrypoint: ignoring $f" ;;
		esac
	done
	shopt -u nullglob
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo 'pg-entrypoint: PostgreSQL init process complete; ready for start up.'
fi

exec postgres "$@"
