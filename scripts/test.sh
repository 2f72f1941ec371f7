#!/usr/bin/env bash
# Runs every check and test the way CI does (`make test`): gofmt, go vet, the dependency rules,
# the plain go tests, then the Ginkgo suites; ends with the line "N passed, M failed, K skipped".
# Reports land in out/test: gotest.json, ginkgo.json, junit.xml, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${EDMSDR_TEST_OUT:-out/test}
rm -rf "$out"
mkdir -p "$out"
status=0

echo "== static checks"
# Each check is recorded as a test event, so that the closing line counts it.
static() { # name, command...
	local name=$1
	shift
	if "$@"; then
		printf '{"Action":"pass","Package":"static","Test":"%s"}\n' "$name" >>"$out/static.json"
	else
		printf '{"Action":"fail","Package":"static","Test":"%s"}\n' "$name" >>"$out/static.json"
		status=1
	fi
}
gofmt_clean() {
	local unformatted
	unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
	[ -z "$unformatted" ] || { echo "gofmt would change: $unformatted"; return 1; }
}
static gofmt gofmt_clean
static go-mod-tidy go mod tidy -diff
static go-vet go vet ./...
static depcheck scripts/depcheck.sh
# The GitHub workflows (.github/workflows), with shellcheck on their scripts where installed.
static actionlint go tool actionlint
# A short pass of every fuzz target (make fuzz runs them longer).
static fuzz env FUZZTIME="${EDMSDR_FUZZTIME:-5s}" scripts/fuzz.sh

echo "== go test (packages outside suites/)"
pkgs=$(go list ./... | grep -v '/suites/')
go test -json -count=1 -timeout 30m -p 2 $pkgs >"$out/gotest.json" 2>"$out/gotest.stderr" || status=1
cat "$out/gotest.stderr"

echo "== ginkgo suites"
# The CLI the suites run, built once for all of them (each suite's bootstrap would link it again).
clidir=$(mktemp -d)
trap 'rm -rf "$clidir"' EXIT
go build -o "$clidir/" ./cmd/edmsdr ./cmd/edmsdr-drill || status=1
# shellcheck disable=SC2086 # label filter and procs are optional words
EDMSDR_CLI_DIR=$clidir go tool ginkgo -r -p --procs="${EDMSDR_PROCS:-2}" --timeout=60m --keep-going --poll-progress-after=120s \
	${EDMSDR_LABEL_FILTER:+--label-filter="$EDMSDR_LABEL_FILTER"} \
	--json-report=ginkgo.json --junit-report=junit.xml --output-dir="$out" ./suites || status=1

echo "== summary"
# shellcheck disable=SC2086 # required labels are words
go run ./cmd/testsummary ${EDMSDR_REQUIRE_LABELS:-} "$out/static.json" "$out/gotest.json" "$out/ginkgo.json" >"$out/summary.txt" || status=1
cat "$out/summary.txt"
exit $status
