#!/bin/sh
# SPDX-License-Identifier: ISC
# Installs, with apt-get, the Debian packages that critgate's build, tests
# and demo need, but only those that are missing.  Sourced by test.sh and
# demo.sh; needs root (or sudo) only when something is missing.

critgate_packages="meson ninja-build pkg-config gcc libc6-dev
	libgmime-3.0-dev libglib2.0-dev libjson-glib-dev libcurl4-gnutls-dev
	libsqlite3-dev libconfig-dev libmicrohttpd-dev libssl-dev openssl
	libetpan-dev libgnutls28-dev python3 swaks libnet-ssleay-perl sqlite3
	clang libclang-rt-14-dev dovecot-imapd postfix python3-aiosmtpd strace
	libspf2-dev libopendkim-dev libpsl-dev"

critgate_install_missing() {
	missing=""
	for pkg in $critgate_packages "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
		    grep -q '^install ok installed$'; then
			missing="$missing $pkg"
		fi
	done
	[ -z "$missing" ] && return 0
	echo "installing missing packages:$missing"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	$sudo apt-get update -qq || return 1
	# Postfix installs without a system configuration, so it never
	# listens on port 25; the tests run private instances.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    $sudo debconf-set-selections
	# shellcheck disable=SC2086 # the list is split on purpose
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null || return 1
}
