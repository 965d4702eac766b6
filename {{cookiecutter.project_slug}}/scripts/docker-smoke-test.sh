{% raw %}#!/bin/sh
# Smoke-test an image the way it runs: a service must turn healthy by its own HEALTHCHECK (so this script
# knows no port or health path), a command line must run --help. The container is always removed.
# usage: scripts/docker-smoke-test.sh IMAGE [docker run options, e.g. --env-file .env]
# SMOKE_TEST_ENV, if set, holds KEY=value lines for the container (CI passes a variable this way).
set -eu
image="${1:?usage: $0 IMAGE [docker run options]}"
shift
timeout_seconds="${SMOKE_TEST_TIMEOUT:-60}"
container=""
env_file=""
trap 'if [ -n "$container" ]; then docker rm --force "$container" >/dev/null; fi; rm -f "$env_file"' EXIT

if [ -n "${SMOKE_TEST_ENV:-}" ]; then
    env_file="$(mktemp)"
    printf '%s\n' "$SMOKE_TEST_ENV" >"$env_file"
    set -- --env-file "$env_file" "$@"
fi

if [ "$(docker image inspect --format '{{.Config.Healthcheck}}' "$image")" = "<nil>" ]; then
    docker run --rm "$@" "$image" --help >/dev/null
    echo "ok: $image --help"
    exit 0
fi

container="$(docker run --detach --health-interval 1s "$@" "$image")"
waited=0
status=""
while [ "$waited" -lt "$timeout_seconds" ]; do
    status="$(docker inspect --format '{{.State.Status}} {{.State.Health.Status}}' "$container")"
    case "$status" in
        "running healthy") echo "ok: $image turned healthy in about ${waited} s"; exit 0 ;;
        "running starting") ;;
        *) break ;;
    esac
    sleep 1
    waited=$((waited + 1))
done
docker logs "$container" >&2
echo "error: $image did not turn healthy (after ${waited} s of at most ${timeout_seconds}; state: $status)" >&2
exit 1{% endraw %}
