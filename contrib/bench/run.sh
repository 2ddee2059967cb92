#!/bin/sh
# SPDX-License-Identifier: ISC
# Benchmark critgate against smtp-sink, a private Postfix and a Python
# aiosmtpd gateway on 127.0.0.1, and write the tables to RESULTS.md.
#   sh contrib/bench/run.sh [--quick] [--out FILE] [--only a,b] [--keep]
# --quick runs every scenario at a small size (under a minute) and writes
# to a temporary file unless --out is given.  Missing Debian packages are
# installed with apt-get (root needed the first time); Postfix is installed
# without a system configuration, so nothing listens on port 25.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=""
out=""
extra=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick="--quick" ;;
	--out) out="$2"; shift ;;
	--only|--keep)
		if [ "$1" = "--only" ]; then extra="$extra --only $2"; shift
		else extra="$extra --keep"; fi ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$out" ]; then
	if [ -n "$quick" ]; then
		out=$(mktemp /tmp/critgate-bench-quick.XXXXXX.md)
	else
		out="$here/RESULTS.md"
	fi
fi

# Debian packages install into the system Python, not a pyenv one.
py=/usr/bin/python3
# The packages that build and test critgate cover the benchmark's too
# (Postfix, aiosmtpd, strace); only the missing ones are installed.
. "$root/contrib/deps.sh"
critgate_install_missing || { echo "run.sh: could not install" \
	"the packages it needs" >&2; exit 1; }
PATH="$PATH:/usr/sbin:/sbin"
export PATH

build="$here/build"
[ -f "$build/build.ninja" ] ||
	meson setup "$build" "$root" --buildtype=release >/dev/null
ninja -C "$build" src/critgate >/dev/null
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -I"$root/include" -o "$build/bench-blocks" \
	"$here/blocks.c" "$build/src/libcritgate.a" \
	$(pkg-config --cflags --libs gmime-3.0 glib-2.0 gio-2.0 json-glib-1.0 \
	libcurl sqlite3 libconfig)

# shellcheck disable=SC2086
exec "$py" "$here/bench.py" $quick $extra --out "$out" \
	--critgate "$build/src/critgate" --blocks "$build/bench-blocks"
