#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Builds test/fuzz/fuzz_NAME.c with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer against the library sources (src/*/*.c except
# src/daemon/ and src/imap/), then fuzzes for SECONDS starting from copies of the seed
# files.  Exits 0 when the run ends clean, 1 on a crash, leak, timeout or
# sanitizer report, 77 (skip) when clang or libFuzzer is missing.
#
# Usage: run_fuzz.sh NAME SECONDS SEED_DIR...

set -u

if [ $# -lt 3 ]; then
	echo "usage: run_fuzz.sh NAME SECONDS SEED_DIR..." >&2
	exit 2
fi
name=$1
seconds=$2
shift 2

top=$(cd "$(dirname "$0")/../.." && pwd)
target="$top/test/fuzz/fuzz_$name.c"
if [ ! -f "$target" ]; then
	echo "run_fuzz: fuzz target not found: $target" >&2
	exit 2
fi
cc=${CLANG:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run_fuzz: $cc not found; install clang to fuzz (skipped)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/critgate-fuzz-$name.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

# A program with main() lets the probe tell a missing libFuzzer runtime
# from a broken build of the project sources.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n'\
'{ (void)d; (void)n; return 0; }\n' >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer -o "$work/probe" "$work/probe.c" \
    >/dev/null 2>&1; then
	echo "run_fuzz: $cc cannot link libFuzzer (-fsanitize=fuzzer);" \
	    "install the clang runtime to fuzz (skipped)"
	exit 77
fi

packages="gmime-3.0 glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libcurl"
packages="$packages sqlite3 libconfig libmicrohttpd opendkim openssl libpsl"
if ! deps=$(pkg-config --cflags --libs $packages); then
	echo "run_fuzz: pkg-config cannot find: $packages" >&2
	exit 1
fi
# libspf2 ships no pkg-config file.
deps="$deps -lspf2"
# The daemon and the IMAP poller (libetpan) are not fuzzed here.
sources=$(find "$top/src" -name '*.c' ! -path "$top/src/daemon/*" \
    ! -path "$top/src/imap/*" | sort)

# $deps and $sources are split on blanks on purpose: the tree's paths have
# none, and pkg-config output is a list of flags.
# shellcheck disable=SC2086
if ! "$cc" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -g -O1 -std=gnu11 -I"$top/include" -D_GNU_SOURCE \
    -DCRITGATE_VERSION=\"fuzz\" -o "$work/fuzz_$name" "$target" $sources \
    $deps; then
	echo "run_fuzz: build of fuzz_$name failed" >&2
	exit 1
fi

mkdir "$work/corpus"
for dir in "$@"; do
	if [ ! -d "$dir" ]; then
		echo "run_fuzz: seed folder not found: $dir" >&2
		exit 2
	fi
	find "$dir" -type f -exec cp {} "$work/corpus/" \;
done

# Findings (crash-*, leak-*, timeout-*) are kept in FUZZ_ARTIFACTS or the
# current folder, so a failed run can be replayed.
artifacts=${FUZZ_ARTIFACTS:-$(pwd)}
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$work/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work/corpus" >"$work/log" 2>&1
rc=$?
tail -n 40 "$work/log"
if [ $rc -ne 0 ]; then
	echo "run_fuzz: fuzz_$name failed (exit $rc); findings are in" \
	    "$artifacts" >&2
	exit 1
fi
exit 0
