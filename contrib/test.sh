#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs what is missing, builds critgate twice (warnings as errors, then
# with AddressSanitizer and UndefinedBehaviorSanitizer), runs every meson
# test suite in the first build and all but the fuzz, demo and benchmark
# suites (which build their own binaries) in the second, and ends with one
# line:
#	tests: N passed, N failed
# The counts come from meson's own results (meson-logs/testlog.json).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
. contrib/deps.sh
critgate_install_missing || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
skipped=0

# Adds the results of one meson test run to the totals.
count_results() {
	log="$1/meson-logs/testlog.json"
	if [ ! -f "$log" ]; then
		failed=$((failed + 1))
		return
	fi
	set -- $(python3 - "$log" <<'PY'
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    result = json.loads(line)["result"]
    if result in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif result == "SKIP":
        skip += 1
    else:
        bad += 1
print(ok, bad, skip)
PY
)
	passed=$((passed + $1))
	failed=$((failed + $2))
	skipped=$((skipped + $3))
}

# Builds into $1 with the meson options that follow, then runs the tests.
run_build() {
	dir="$1"
	suites="$2"
	shift 2
	echo "== build $dir ($*)"
	rm -rf "$dir"
	if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
	    ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		cat "$dir.setup.log" "$dir.build.log" 2>/dev/null | tail -40
		echo "build in $dir failed"
		failed=$((failed + 1))
		return
	fi
	# shellcheck disable=SC2086 # suites is a list of options
	meson test -C "$dir" --print-errorlogs --num-processes 2 $suites
	count_results "$dir"
}

run_build build-test "" -Dwerror=true
run_build build-asan "--no-suite fuzz --no-suite demo --no-suite bench" \
    -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

echo "skipped: $skipped (each prints why)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
