#!/bin/bash
# images.sh: builds the PostgreSQL images the container tests use, each only when missing:
# edmsdr/postgres:15 (Debian bookworm) and edmsdr/postgres:17 (Debian trixie). `make images` runs it.
#
# The builds run one after the other: in parallel they took longer here (both are bound by dpkg's
# unpacking on the same disk and cores). Exits non-zero at the first failed build, which leaves no
# image behind (see pg-image.sh). The environment knobs of pg-image.sh apply to both builds.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
start=$SECONDS
"$HERE/pg-image.sh" bookworm 15
"$HERE/pg-image.sh" trixie 17
echo "images: done in $((SECONDS - start))s"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' "${PG_IMAGE_REPO:-edmsdr/postgres}"
