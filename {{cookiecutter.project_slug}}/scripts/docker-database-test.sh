#!/bin/sh
# Test an image against a real database, as a deploy runs it: apply the migrations with the image's own
# command, then {% if cookiecutter.app_type == "fastapi" %}start the service and wait until GET /ready answers 200 (the database answers){% else %}store an item with the image's example command{% endif %}.
# usage: DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/NAME scripts/docker-database-test.sh IMAGE
# The URL comes from the environment, never the command line; the containers use the host's network, so
# a database on this machine's 127.0.0.1 (CI's PostgreSQL service) is reachable.
set -eu
image="${1:?usage: DATABASE_URL=... $0 IMAGE}"
: "${DATABASE_URL:?set DATABASE_URL to the database the test may migrate}"
export DATABASE_URL
{%- if cookiecutter.app_type == "fastapi" %}
port="${READY_TEST_PORT:-8000}"
timeout_seconds="${READY_TEST_TIMEOUT:-60}"
container=""
trap 'if [ -n "$container" ]; then docker rm --force "$container" >/dev/null; fi' EXIT
{%- endif %}

# The migrations as a deploy applies them: the image's own command.
docker run --rm --network host --env DATABASE_URL "$image" migrate
{%- if cookiecutter.app_type == "fastapi" %}
container="$(docker run --detach --network host --env DATABASE_URL --env HOST=127.0.0.1 \
    --env "PORT=$port" "$image")"
waited=0
while [ "$waited" -lt "$timeout_seconds" ]; do
    # The image asks itself (it has Python, not curl).
    if docker exec "$container" python -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/ready" 2>/dev/null; then
        echo "ok: $image migrated the database and turned ready in about ${waited} s"
        exit 0
    fi
    sleep 1
    waited=$((waited + 1))
done
docker logs "$container" >&2
echo "error: $image did not answer 200 on /ready within ${timeout_seconds} s" >&2
exit 1
{%- else %}
item="$(docker run --rm --network host --env DATABASE_URL "$image" add-item docker-database-test)"
echo "ok: $image migrated the database and stored item $item"
{%- endif %}
