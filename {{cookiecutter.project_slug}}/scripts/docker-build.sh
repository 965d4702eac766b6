{%- set c = cookiecutter -%}
#!/bin/sh
# docker build, given the package index's credentials as the BuildKit secret `netrc` when
# POETRY_HTTP_BASIC_PACKAGE_INDEX_USERNAME and _PASSWORD are set (the variables Poetry reads on the host),
# so the same command builds from a public or a private index. The netrc is a file of this user's own
# outside the build context, removed when the build ends; the credentials are never a build argument.
# usage: scripts/docker-build.sh [docker build arguments]   (poe docker-build, poe docker-test)
set -eu
index_host='{{ c.package_index_url | url_host }}'
netrc=""
trap 'rm -f "$netrc"' EXIT

if [ -n "$index_host" ] && [ -n "${POETRY_HTTP_BASIC_PACKAGE_INDEX_USERNAME:-}" ]; then
    netrc="$(mktemp)"
    chmod 600 "$netrc"
    printf 'machine %s login %s password %s\n' "$index_host" \
        "$POETRY_HTTP_BASIC_PACKAGE_INDEX_USERNAME" "${POETRY_HTTP_BASIC_PACKAGE_INDEX_PASSWORD:-}" >"$netrc"
    set -- --secret "id=netrc,src=$netrc" "$@"
fi

DOCKER_BUILDKIT=1 docker build "$@"
