#!/bin/sh
# Carries the Dockerfile's BuildKit cache mounts (uv's, pip's, Poetry's and apt's downloads)
# across CI runs, whose builders start empty (moby/buildkit#1512): CI restores DIR from its own cache,
# runs `load DIR` before the build and `save DIR` after it, then stores DIR. The mounts are every
# --mount=type=cache of the Dockerfile, so one you add is carried too. Both run a small build on the
# Dockerfile's base image (PYTHON_IMAGE overrides it, as --build-arg does for the build) with the builder
# `docker buildx` uses (docker build where there is no buildx). DIR is this script's own: save replaces
# it, and refuses a folder it did not write. No secret is on a cache mount: credentials come as BuildKit
# secrets, which are never stored.
# usage: scripts/docker-cache-mounts.sh load|save DIR
set -eu
usage() {
    echo "usage: $0 load|save DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
action="$1"
dir="$2"
case "$action" in load | save) ;; *) usage ;; esac

dockerfile="${DOCKERFILE:-Dockerfile}"
marker=.docker-cache-mounts
scratch="$(mktemp -d)"
# save's image and container of the copies, removed however the script ends.
copies="docker-cache-mounts-save:$$"
container=""
cleanup() {
    if [ -n "$container" ]; then docker rm "$container" >/dev/null 2>&1 || true; fi
    docker rmi "$copies" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

# The cache mounts' ids, one a line: a mount's target when it names none. An id is taken as written:
# not every BuildKit fills in ${NAME} there, so the Dockerfile's ids hold no variables.
cache_ids() {
    grep -o -e '--mount=type=cache,[^ ]*' "$dockerfile" | awk -F, '{
        id = ""; target = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^id=/) id = substr($i, 4)
            if ($i ~ /^target=/) target = substr($i, 8)
        }
        print (id != "" ? id : target)
    }' | sort -u
}

# A folder name for an id: / and anything else unusual become _.
folder() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'
}

# A build whose RUN always runs: a new RUN_ID, not --no-cache, which gives a RUN empty cache mounts.
# `into_engine` gives its result to the engine as an image: buildx needs --load for that.
buildkit() {
    load=""
    if [ "$1" = into_engine ]; then shift && load=--load; fi
    set -- --build-arg "RUN_ID=$(date +%s)-$$" --quiet "$@"
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build ${load:+"$load"} "$@"
    else
        DOCKER_BUILDKIT=1 docker build "$@"
    fi
}

# A Dockerfile whose one RUN mounts every cache at /mounts/FOLDER and, to load, the saved copy at
# /saved/FOLDER; it replaces each mount's contents with the saved copy, or copies each into /saved, which
# its last stage holds.
helper_dockerfile() {
    mounts=""
    commands="true"
    for id in $ids; do
        name="$(folder "$id")"
        mounts="$mounts --mount=type=cache,id=$id,target=/mounts/$name"
        if [ "$action" = load ]; then
            mounts="$mounts --mount=type=bind,source=$name,target=/saved/$name"
            commands="$commands && find /mounts/$name -mindepth 1 -delete && cp -a /saved/$name/. /mounts/$name/"
        else
            commands="$commands && mkdir -p /saved/$name && cp -a /mounts/$name/. /saved/$name/"
        fi
    done
    printf 'FROM %s AS cache\nARG RUN_ID\nRUN%s %s && touch /saved/%s\nFROM scratch\nCOPY --from=cache /saved/ /saved/\n' \
        "$image" "$mounts" "$commands" "$marker"
}

ids="$(cache_ids)"
[ -n "$ids" ] || { echo "$dockerfile has no cache mounts: nothing to $action"; exit 0; }
image="${PYTHON_IMAGE:-$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$dockerfile" | head -n 1)}"
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -e "$dir/$marker" ]; then
    echo "error: $dir holds files this script did not write; give it a folder of its own" >&2
    exit 1
fi

if [ "$action" = load ]; then
    mkdir -p "$dir"
    for id in $ids; do mkdir -p "$dir/$(folder "$id")"; done
    helper_dockerfile | buildkit --output "type=local,dest=$scratch/out" --file - "$dir" >/dev/null
    echo "loaded the cache mounts from $dir:"
    printf '%s\n' "$ids" | sed 's/^/  /'
else
    mkdir "$scratch/context"
    # An image whose files docker cp copies out, not a build's local output: Docker 20.10's builder can
    # stall for good while it sends a large output to the client.
    helper_dockerfile | buildkit into_engine --tag "$copies" --file - "$scratch/context" >/dev/null
    container="$(docker create "$copies" save)"
    docker cp "$container:/saved" "$scratch/saved"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    mv "$scratch/saved" "$dir"
    echo "saved the cache mounts into $dir ($(du -sh "$dir" | cut -f1)):"
    printf '%s\n' "$ids" | sed 's/^/  /'
fi
