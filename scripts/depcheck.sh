#!/usr/bin/env bash
# Keeps the dependency rules true: the engine imports no harness code; only generators/ imports
# gofakeit; only fixtures/containerpg imports testcontainers; only suites/ imports Ginkgo/Gomega;
# nothing imports suites/.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
bad=0
check() { # package pattern, forbidden import regexp, rule
	local pkgs
	pkgs=$(go list "$1" 2>/dev/null) || return 0
	for p in $pkgs; do
		if go list -deps "$p" | grep -Eq "$2"; then
			echo "depcheck: $p depends on $(go list -deps "$p" | grep -E "$2" | head -3 | tr '\n' ' ')— $3"
			bad=1
		fi
	done
}
check "./engine/..." "^($mod/(fixtures|generators|corrupt|suites|drill|reports)|github.com/onsi/|github.com/brianvoe/gofakeit|github.com/testcontainers/)" "the engine imports no harness code"
for p in $(go list ./... | grep -v -E "^$mod/(generators|suites)(/|$)|^$mod/drill$|^$mod/cmd/edmsdr$"); do
	if go list -f '{{join .Imports "\n"}}' "$p" | grep -q '^github.com/brianvoe/gofakeit'; then
		echo "depcheck: $p imports gofakeit — only generators/ may"; bad=1
	fi
done
for p in $(go list ./... | grep -v -E "^$mod/fixtures/containerpg$"); do
	if go list -f '{{join .Imports "\n"}}' "$p" | grep -q '^github.com/testcontainers/'; then
		echo "depcheck: $p imports testcontainers — only fixtures/containerpg may"; bad=1
	fi
done
for p in $(go list ./... | grep -v -E "^$mod/suites(/|$)"); do
	if go list -f '{{join .Imports "\n"}}' "$p" | grep -qE '^github.com/onsi/(ginkgo|gomega)'; then
		echo "depcheck: $p imports Ginkgo/Gomega — only suites/ may"; bad=1
	fi
	if go list -f '{{join .Imports "\n"}}' "$p" | grep -q "^$mod/suites"; then
		echo "depcheck: $p imports suites/ — nothing may"; bad=1
	fi
done
[ $bad -eq 0 ] && echo "depcheck: ok"
exit $bad
