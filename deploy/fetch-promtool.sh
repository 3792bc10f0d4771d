#!/bin/sh
# Puts promtool into DIR (default .tools) from Debian's prometheus package,
# without installing the package or starting its service. The deploy tests
# use it to check and unit-test the alert rules.
#
# It never fails: when the package cannot be had, it says so and the
# promtool checks skip with the same message.
set -u
dir=${1:-.tools}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 0

download() { apt-get download prometheus >download.log 2>&1; }

if ! command -v apt-get >/dev/null 2>&1; then
	echo "fetch-promtool: no apt-get here; install promtool or set PROMTOOL, or the promtool checks skip" >&2
	exit 0
fi
if ! download; then
	# A machine whose package lists were never fetched needs them once.
	if [ "$(id -u)" -eq 0 ] && apt-get update -qq >update.log 2>&1 && download; then
		:
	else
		echo "fetch-promtool: apt-get download prometheus failed; the promtool checks will skip:" >&2
		tail -n 3 download.log >&2
		exit 0
	fi
fi
if dpkg -x prometheus_*.deb pkg && cp pkg/usr/bin/promtool "$dir/promtool.tmp" && mv "$dir/promtool.tmp" "$dir/promtool"; then
	echo "fetch-promtool: $("$dir/promtool" --version 2>&1 | head -n 1) in $dir" >&2
else
	echo "fetch-promtool: could not unpack promtool from the prometheus package; the promtool checks will skip" >&2
fi
exit 0
