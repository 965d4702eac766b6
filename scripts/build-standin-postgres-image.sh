#!/usr/bin/env bash
# Build a local stand-in for the official postgres:MAJOR image from Debian packages, for machines that
# cannot pull from a registry (air-gapped networks, CI without Docker Hub). It keeps the official image's
# interface: POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres), POSTGRES_DB (default the
# user), PGDATA (default /var/lib/postgresql/data), port 5432, pg_isready on PATH, initialised on the
# first start of an empty data directory and run as the postgres user.
#
# usage: build-standin-postgres-image.sh MAJOR [TAG]
#   MAJOR  15 (Debian bookworm) or 17 (Debian trixie)
#   TAG    default: localhost/postgres-standin:MAJOR
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

major="${1:?usage: $0 MAJOR [TAG]}"
tag="${2:-localhost/postgres-standin:${major}}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
here="$(cd "$(dirname "$0")" && pwd)"

case "$major" in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    *) echo "error: no Debian suite ships PostgreSQL ${major}; use 15 or 17, or a registry mirror of postgres:${major}" >&2
       exit 2 ;;
esac

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase --include="postgresql-${major}" "$suite" "$rootfs" "$mirror" >&2
# Debian's package creates a cluster of its own under /var/lib/postgresql/MAJOR/main: the official image
# has none, and initialises PGDATA on its first start instead.
rm -rf "$rootfs/var/lib/postgresql/${major}" "$rootfs/etc/postgresql/${major}"
install -m 0755 "$here/standin-postgres-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# The scripts' own hash, so a machine that keeps an older stand-in can tell it needs a new one.
scripts_sha256="$(cat "$0" "$here/standin-postgres-entrypoint.sh" | sha256sum | cut -d' ' -f1)"
rootfs_tag="${tag}-rootfs"
tar -C "$rootfs" -c . | docker import - "$rootfs_tag" >/dev/null
# docker import cannot set STOPSIGNAL: the official image stops on SIGINT, PostgreSQL's fast shutdown
# (SIGTERM waits for every client to disconnect).
DOCKER_BUILDKIT=1 docker build --quiet --tag "$tag" - >/dev/null <<DOCKERFILE
FROM ${rootfs_tag}
LABEL poetry-service-template.standin-script-sha256=${scripts_sha256}
ENV PATH=/usr/lib/postgresql/${major}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 \\
    PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
docker image rm "$rootfs_tag" >/dev/null
echo "$tag"
