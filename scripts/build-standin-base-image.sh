#!/usr/bin/env bash
# Build a local stand-in for the official python:X.Y-slim image from Debian packages,
# for machines that cannot pull from a registry (air-gapped networks, CI without Docker Hub).
#
# usage: build-standin-base-image.sh PYTHON_VERSION [TAG]
#   PYTHON_VERSION  3.11 (Debian bookworm) or 3.13 (Debian trixie)
#   TAG             default: localhost/python-standin:PYTHON_VERSION
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), CA_BUNDLE (default: the host's
# /etc/ssl/certs/ca-certificates.crt, so builds behind an intercepting proxy can reach the package index).
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

python_version="${1:?usage: $0 PYTHON_VERSION [TAG]}"
tag="${2:-localhost/python-standin:${python_version}}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

case "$python_version" in
    3.11) suite=bookworm ;;
    3.13) suite=trixie ;;
    *) echo "error: no Debian suite ships Python ${python_version}; use 3.11 or 3.13, or a registry mirror of python:${python_version}-slim" >&2
       exit 2 ;;
esac

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT

# python3-dev: the official image carries Python's headers, which building a C extension needs.
debootstrap --variant=minbase --include=python3,python3-venv,python3-dev,ca-certificates \
    "$suite" "$rootfs" "$mirror" >&2
# A venv at /usr/local puts python and pip in /usr/local/bin, owned by pip, as in the official image.
chroot "$rootfs" python3 -m venv /usr/local
cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

bundle=/etc/ssl/certs/ca-certificates.crt
# The script's own hash, so a machine that keeps an older stand-in can tell it needs a new one.
script_sha256="$(sha256sum "$0" | cut -d' ' -f1)"
tar -C "$rootfs" -c . | docker import \
    -c "LABEL poetry-service-template.standin-script-sha256=${script_sha256}" \
    -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c "ENV SSL_CERT_FILE=${bundle} REQUESTS_CA_BUNDLE=${bundle} PIP_CERT=${bundle}" \
    -c 'CMD ["python3"]' \
    - "$tag" >/dev/null
echo "$tag"
