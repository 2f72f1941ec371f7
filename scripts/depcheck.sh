#!/usr/bin/env bash
# Keeps the dependency rules true:
#   - the engine imports no harness code, and no object-store SDK (store/ holds that; the CLI
#     wires it): the engine reads and writes packages through io.Reader and pack.Sink;
#   - the storage layer (store/) imports no harness code;
#   - the operator binary (cmd/edmsdr) links no test harness: no package testing, testcontainers,
#     Docker/moby client, gofakeit, Ginkgo/Gomega, nor the harness folders (the drill lives in
#     cmd/edmsdr-drill, which `edmsdr drill` runs);
#   - the package format (engine/pack) is readable without the database driver: no github.com/jackc/;
#   - engine/pgquote and engine/copytext link the standard library only;
#   - only generators/ imports gofakeit; only fixtures/containerpg imports testcontainers; only
#     suites/ imports Ginkgo/Gomega; nothing imports suites/.
# Rules on what a package links (go list -deps) cover everything it pulls in; rules on what it
# imports cover its own source. Test files are not linked into binaries and are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
bad=0
check() { # package pattern, forbidden dependency regexp, rule
	local pkgs
	pkgs=$(go list "$1" 2>/dev/null) || return 0
	for p in $pkgs; do
		if go list -deps "$p" | grep -Eq "$2"; then
			echo "depcheck: $p depends on $(go list -deps "$p" | grep -E "$2" | head -3 | tr '\n' ' ')— $3"
			bad=1
		fi
	done
}
harness="$mod/(fixtures|generators|corrupt|suites|drill|reports|oracle)"
check "./engine/..." "^($harness|github.com/onsi/|github.com/brianvoe/gofakeit|github.com/testcontainers/)" "the engine imports no harness code"
check "./cmd/edmsdr" "^(testing|$harness|github\.com/(onsi|brianvoe/gofakeit|testcontainers|docker|moby))(/|$)" "the operator binary links no test harness (the drill is cmd/edmsdr-drill)"
check "./engine/pack" "^github.com/jackc/" "the package format is readable without the database driver"
check "./engine/..." "^($mod/store|github.com/aws/)" "the engine links no object-store SDK (store/ does, for the CLI)"
# The leaves at the bottom of the engine (quoting SQL, reading COPY text) link the standard library only.
for leaf in engine/pgquote engine/copytext; do
	if go list -deps "./$leaf" | grep -v "^$mod/$leaf\$" | grep -Eq '^[^/]+\.[^/]*/'; then
		echo "depcheck: $mod/$leaf depends on $(go list -deps "./$leaf" | grep -v "^$mod/$leaf\$" | grep -E '^[^/]+\.[^/]*/' | head -3 | tr '\n' ' ')— it links the standard library only"
		bad=1
	fi
done
check "./store" "^($harness|github.com/onsi/|github.com/testcontainers/)" "the storage layer imports no harness code"
# Direct imports, one line per package: "path import import ...".
imports=$(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
only() { # import regexp, package regexp allowed to import it, rule
	local offenders
	offenders=$(awk -v imp="$1" -v ok="$2" '$1 !~ ok { for (i = 2; i <= NF; i++) if ($i ~ imp) { print $1; break } }' <<<"$imports")
	for p in $offenders; do
		echo "depcheck: $p — $3"
		bad=1
	done
}
only '^github.com/brianvoe/gofakeit' "^$mod/generators(/|$)" "imports gofakeit: only generators/ may"
only '^github.com/testcontainers/' "^$mod/fixtures/containerpg$" "imports testcontainers: only fixtures/containerpg may"
only '^github.com/onsi/(ginkgo|gomega)' "^$mod/suites(/|$)" "imports Ginkgo/Gomega: only suites/ may"
only "^$mod/suites(/|$)" "^$mod/suites(/|$)" "imports suites/: nothing outside suites/ may"
[ $bad -eq 0 ] && echo "depcheck: ok"
exit $bad
