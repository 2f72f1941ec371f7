#!/usr/bin/env bash
# Runs every Go fuzz target of the repository for FUZZTIME each (default 30s; Go's -fuzztime
# syntax, e.g. 5s or 2000x): `make fuzz`, and a short pass in `make test` (FUZZTIME=5s).
# Targets are discovered, never listed by hand: the packages whose test files declare a
# func FuzzXxx, then `go test -list '^Fuzz'` on those packages (listing every package would run
# every TestMain). A crasher fails the run; Go saves the input under the package's
# testdata/fuzz/FuzzXxx/, where plain `go test` replays it as a seed from then on: commit it
# with the fix.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}

candidates=()
while read -r pkg dir files; do
	for f in $files; do
		if grep -q '^func Fuzz[A-Z0-9_]' "$dir/$f"; then
			candidates+=("$pkg")
			break
		fi
	done
done < <(go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...)
if [ ${#candidates[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found"
	exit 0
fi

status=0
listing=$(go test -run '^$' -list '^Fuzz' "${candidates[@]}" 2>&1) || {
	echo "$listing"
	echo "fuzz: listing the fuzz targets failed (a package does not build?)"
	status=1
}
targets=()
names=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) names+=("$line") ;;
	"ok "*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	*) names=() ;;
	esac
done <<<"$listing"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	start=$SECONDS
	dir=$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name
	before=$(ls "$dir" 2>/dev/null | wc -l)
	ok=0
	for attempt in 1 2; do
		if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			ok=1
			break
		fi
		# Go's fuzzing engine can end a run whose time is up with "context deadline exceeded"
		# and no crasher saved (a worker still busy when the clock ran out): run it once more;
		# a second failure, or any saved crasher, fails.
		if [ "$(ls "$dir" 2>/dev/null | wc -l)" != "$before" ] || ! grep -q 'context deadline exceeded' "$log"; then
			break
		fi
		echo "fuzz: $pkg $name ended with 'context deadline exceeded' and no crasher: once more"
	done
	if [ "$ok" = 1 ]; then
		echo "fuzz: ok   $pkg $name ($fuzztime, $((SECONDS - start))s)"
	else
		tail -n 40 "$log"
		echo "fuzz: FAIL $pkg $name: a crasher is saved under $(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name/ (commit it with the fix)"
		status=1
	fi
done
echo "fuzz: ${#targets[@]} targets, $fuzztime each"
exit $status
