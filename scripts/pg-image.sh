#!/bin/bash
# pg-image.sh SUITE VERSION: builds the image edmsdr/postgres:VERSION (PostgreSQL VERSION from Debian
# SUITE's own packages) without any container registry, unless that image already exists.
#
#   scripts/pg-image.sh bookworm 15
#   scripts/pg-image.sh trixie 17
#
# How: mmdebstrap (installed with apt-get when missing) bootstraps a minbase Debian with
# postgresql-VERSION and no recommends, streams it as a tarball into `docker import`, which adds the
# image config (ENV, USER postgres, ENTRYPOINT scripts/pg-entrypoint.sh, CMD postgres); a
# metadata-only legacy-builder step adds STOPSIGNAL SIGINT, which `docker import --change` rejects.
# The result is tagged only after every step succeeded: a failed build leaves no image behind.
#
# Apt sources: the host's own (/etc/apt/sources.list.d/*.sources, *.list, /etc/apt/sources.list),
# keeping the Debian entries of the host's release and renaming that release to SUITE; no mirror is
# hard-coded. Knobs (environment):
#   PG_IMAGE_REPO     image repository (default edmsdr/postgres)
#   PG_IMAGE_SOURCES  an apt sources file (deb822 or one-line) used instead of the host's
#   PG_IMAGE_REBUILD  non-empty: build even if the image exists (replaces the tag at the end)
#   PG_IMAGE_JIT      non-empty: keep LLVM and the JIT provider (by default both are removed with
#                     dpkg --force-depends: ~130 MB less; a derived image that apt-get installs
#                     more packages needs `apt-get -f install` first, which brings LLVM back)
set -Eeuo pipefail

die() {
	echo "pg-image: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: $0 SUITE VERSION   (e.g. $0 bookworm 15, $0 trixie 17)"
SUITE=$1
VERSION=$2
[[ $SUITE =~ ^[a-z]+$ ]] || die "SUITE must be a Debian release name such as bookworm, got '$SUITE'"
[[ $VERSION =~ ^[0-9]+$ ]] || die "VERSION must be a PostgreSQL major version such as 15, got '$VERSION'"
REF=${PG_IMAGE_REPO:-edmsdr/postgres}:$VERSION
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENTRYPOINT_SRC=$HERE/pg-entrypoint.sh
[ -r "$ENTRYPOINT_SRC" ] || die "missing $ENTRYPOINT_SRC"

command -v docker >/dev/null || die "the docker CLI is not installed"
if ! out=$(docker info --format '{{.ServerVersion}}' 2>&1); then
	die "the Docker daemon is unreachable (docker info: ${out//$'\n'/ }); start it or set DOCKER_HOST"
fi
if [ -z "${PG_IMAGE_REBUILD:-}" ] && docker image inspect "$REF" >/dev/null 2>&1; then
	echo "pg-image: $REF already exists (set PG_IMAGE_REBUILD=1 to rebuild)"
	exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
	[ "$(id -u)" = 0 ] || die "mmdebstrap is missing; install it (apt-get install mmdebstrap) or run as root"
	echo "pg-image: installing mmdebstrap"
	apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; } ||
		die "apt-get install mmdebstrap failed"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pg-image.XXXXXX")
TMP_REF=${REF%%:*}:building-$VERSION-$$
cleanup() {
	docker image rm "$TMP_REF" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# sources: the host's Debian entries for its own release, renamed to SUITE.
sources_for_suite() {
	local host_codename files=()
	host_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ -n "$host_codename" ] || die "cannot tell the host's Debian release from /etc/os-release; set PG_IMAGE_SOURCES"
	shopt -s nullglob
	files=(/etc/apt/sources.list.d/*.sources)
	# deb822 stanzas: keep enabled 'deb' stanzas whose Suites are HOST or HOST-xxx.
	if [ ${#files[@]} -gt 0 ]; then
		awk -v host="$host_codename" -v suite="$SUITE" '
			function flush() {
				if (n > 0 && keep && types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*(no|false)/) {
					for (i = 1; i <= n; i++) print lines[i]
					print ""
				}
				n = 0; keep = 0; types = ""; enabled = ""
			}
			FNR == 1 { flush() }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			{
				line = $0
				if (tolower($1) == "types:") { types = substr(line, index(line, ":") + 1); line = "Types: deb" }
				if (tolower($1) == "enabled:") enabled = substr(line, index(line, ":") + 1)
				if (tolower($1) == "suites:") {
					out = "Suites:"; keep = 0
					for (i = 2; i <= NF; i++) {
						s = $i
						if (s == host || index(s, host "-") == 1) { s = suite substr(s, length(host) + 1); keep = 1 }
						out = out " " s
					}
					line = out
				}
				lines[++n] = line
			}
			END { flush() }' "${files[@]}"
	fi
	# one-line entries, converted to deb822.
	files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
	shopt -u nullglob
	for f in "${files[@]}"; do
		[ -r "$f" ] || continue
		awk -v host="$host_codename" -v suite="$SUITE" '
			$1 != "deb" { next }
			{
				opts = ""; i = 2
				if ($2 ~ /^\[/) {
					while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break }; i++ }
				}
				uri = $i; s = $(i + 1)
				if (!(s == host || index(s, host "-") == 1)) next
				s = suite substr(s, length(host) + 1)
				comps = ""; for (j = i + 2; j <= NF; j++) comps = comps " " $j
				print "Types: deb"; print "URIs: " uri; print "Suites: " s; print "Components:" comps
				gsub(/[][]/, "", opts); m = split(opts, kv, " ")
				for (j = 1; j <= m; j++) {
					split(kv[j], p, "=")
					if (p[1] == "signed-by") print "Signed-By: " p[2]
					if (p[1] == "arch") print "Architectures: " p[2]
				}
				print ""
			}' "$f"
	done
}

if [ -n "${PG_IMAGE_SOURCES:-}" ]; then
	[ -r "$PG_IMAGE_SOURCES" ] || die "PG_IMAGE_SOURCES=$PG_IMAGE_SOURCES is not readable"
	SOURCES=$WORK/custom.list
	grep -qi '^URIs:' "$PG_IMAGE_SOURCES" && SOURCES=$WORK/custom.sources # deb822
	cp "$PG_IMAGE_SOURCES" "$SOURCES"
else
	SOURCES=$WORK/$SUITE.sources
	sources_for_suite >"$SOURCES"
	grep -q '^URIs:' "$SOURCES" ||
		die "no Debian apt source for the host's release found in /etc/apt; set PG_IMAGE_SOURCES to a sources file for $SUITE"
fi
echo "pg-image: building $REF (postgresql-$VERSION from Debian $SUITE) with apt sources:"
sed 's/^/    /' "$SOURCES"

# LLVM (the optional JIT provider, ~130 MB with libz3) is dropped unless PG_IMAGE_JIT is set; the
# server then runs without JIT, as if jit=off. dpkg records the removal with --force-depends.
SLIM_HOOK=true
if [ -z "${PG_IMAGE_JIT:-}" ]; then
	SLIM_HOOK='rm -rf "$1"/usr/lib/postgresql/*/lib/llvmjit* "$1"/usr/lib/postgresql/*/lib/bitcode &&
		pkgs=$(chroot "$1" dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" |
			awk "\$1 == \"ii\" && \$2 ~ /^(libllvm|libz3-)/ { print \$2 }") &&
		if [ -n "$pkgs" ]; then chroot "$1" dpkg --purge --force-depends $pkgs >/dev/null 2>&1; fi'
fi

old_id=$(docker image inspect --format '{{.Id}}' "$REF" 2>/dev/null || true)
start=$SECONDS
# shellcheck disable=SC2016 # the hooks get the chroot as "$1", expanded by mmdebstrap's shell.
mmdebstrap --mode=auto --variant=minbase --format=tar --quiet \
	--include="postgresql-$VERSION" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--essential-hook='mkdir -p "$1"/etc/postgresql-common/createcluster.d &&
		echo "create_main_cluster = false" >"$1"/etc/postgresql-common/createcluster.d/edmsdr.conf' \
	--customize-hook='rm -rf "$1"/var/lib/postgresql/*/main "$1"/etc/postgresql/*/main' \
	--customize-hook='chroot "$1" install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data' \
	--skip=cleanup/run \
	--customize-hook='find "$1"/run -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} +' \
	--customize-hook='chroot "$1" install -d -o postgres -g postgres -m 3777 /run/postgresql' \
	--customize-hook="$SLIM_HOOK" \
	--customize-hook="sed -ri \"s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!\" \"\$1\"/usr/share/postgresql/$VERSION/postgresql.conf.sample" \
	--customize-hook="grep -q \"^listen_addresses = '\\*'\" \"\$1\"/usr/share/postgresql/$VERSION/postgresql.conf.sample" \
	--customize-hook="install -m 755 '$ENTRYPOINT_SRC' \"\$1\"/usr/local/bin/pg-entrypoint.sh" \
	--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/cache/debconf/*-old \
		"$1"/var/lib/dpkg/*-old "$1"/var/log/* "$1"/tmp/* "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
	"$SUITE" - "$SOURCES" |
	docker import \
		-c "ENV PATH=/usr/lib/postgresql/$VERSION/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		-c "ENV PG_MAJOR=$VERSION" \
		-c 'ENV PGDATA=/var/lib/postgresql/data' \
		-c 'ENV LANG=C.UTF-8' \
		-c 'USER postgres' \
		-c 'WORKDIR /var/lib/postgresql' \
		-c 'EXPOSE 5432' \
		-c 'ENTRYPOINT ["/usr/local/bin/pg-entrypoint.sh"]' \
		-c 'CMD ["postgres"]' \
		-c "LABEL org.opencontainers.image.title=edmsdr-postgres org.opencontainers.image.description=PostgreSQL-$VERSION-from-Debian-$SUITE" \
		-m "postgresql-$VERSION from Debian $SUITE (scripts/pg-image.sh)" \
		- "$TMP_REF" >/dev/null ||
	die "bootstrap or import of $REF failed (no image was tagged)"
bootstrap=$((SECONDS - start))

# Smoke test before tagging: the binaries run and the entrypoint is in place.
server_version=$(docker run --rm --entrypoint postgres "$TMP_REF" --version) ||
	die "the built image cannot run postgres --version"
docker run --rm --entrypoint test "$TMP_REF" -x /usr/local/bin/pg-entrypoint.sh ||
	die "the built image has no executable /usr/local/bin/pg-entrypoint.sh"

# STOPSIGNAL SIGINT (fast shutdown, as in the official image): a metadata-only step of the legacy
# builder, which uses the local base image and never contacts a registry (no --pull, no BuildKit).
if ! printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$TMP_REF" |
	DOCKER_BUILDKIT=0 docker build --quiet --tag "$REF" - >/dev/null 2>"$WORK/build.err"; then
	echo "pg-image: warning: could not set STOPSIGNAL SIGINT ($(tr '\n' ' ' <"$WORK/build.err")); tagging without it" >&2
	docker tag "$TMP_REF" "$REF"
fi
docker image rm "$TMP_REF" >/dev/null
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect --format '{{.Id}}' "$REF")" ]; then
	docker image rm "$old_id" >/dev/null 2>&1 || true # the image replaced by PG_IMAGE_REBUILD, unless in use
fi

size=$(docker image inspect --format '{{.Size}}' "$REF")
echo "pg-image: built $REF ($server_version) in $((SECONDS - start))s (bootstrap+import ${bootstrap}s), size $((size / 1000000)) MB"
