#!/bin/sh
# The entrypoint of the PostgreSQL stand-in image (scripts/build-standin-postgres-image.sh), with the
# official postgres image's interface: on the first start of an empty PGDATA it creates the cluster with
# POSTGRES_USER / POSTGRES_PASSWORD (scram-sha-256 from every address) and the database POSTGRES_DB, then
# runs the server as the postgres user in the foreground, as PID 1's child-free replacement (exec).
set -eu

if [ "${1:-postgres}" != postgres ]; then
    exec "$@"
fi
shift

: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb --username="$user" --pwfile="$pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 --pgdata="$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.auto.conf"
    if [ "$database" != postgres ]; then
        # A server on the socket only, waited for, then stopped: no client can connect before it is ready.
        as_postgres pg_ctl --pgdata="$PGDATA" --wait --silent --options="-c listen_addresses=''" start
        # From standard input: psql quotes the name (:"name") there, not in --command.
        echo 'CREATE DATABASE :"name";' | PGPASSWORD="$POSTGRES_PASSWORD" as_postgres psql --quiet \
            --username="$user" --dbname=postgres --set=ON_ERROR_STOP=1 --set=name="$database"
        as_postgres pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
    fi
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups postgres "$@"
