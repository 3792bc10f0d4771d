#!/bin/sh
# Puts promtool and the prometheus server into DIR (default .tools) from
# Debian's prometheus package, without installing the package or starting
# its service. The deploy tests use promtool to check and unit-test the
# alert rules, and the server to prove the alerts against a live
# regsync serve.
#
# It never fails: when the package cannot be had, it says so and the
# checks that need it skip with the same message.
set -u
dir=${1:-.tools}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 0

download() { apt-get download prometheus >download.log 2>&1; }

if ! command -v apt-get >/dev/null 2>&1; then
	echo "fetch-prometheus: no apt-get here; install promtool and prometheus or set PROMTOOL and PROMETHEUS, or the checks that need them skip" >&2
	exit 0
fi
if ! download; then
	# A machine whose package lists were never fetched needs them once.
	if [ "$(id -u)" -eq 0 ] && apt-get update -qq >update.log 2>&1 && download; then
		:
	else
		echo "fetch-prometheus: apt-get download prometheus failed; the promtool checks and the live alert test will skip:" >&2
		tail -n 3 download.log >&2
		exit 0
	fi
fi
if ! dpkg -x prometheus_*.deb pkg; then
	echo "fetch-prometheus: could not unpack the prometheus package; the promtool checks and the live alert test will skip" >&2
	exit 0
fi
for tool in promtool prometheus; do
	if cp "pkg/usr/bin/$tool" "$dir/$tool.tmp" && mv "$dir/$tool.tmp" "$dir/$tool"; then
		echo "fetch-prometheus: $("$dir/$tool" --version 2>&1 | head -n 1) in $dir" >&2
	else
		echo "fetch-prometheus: no $tool in the prometheus package; the checks that need it will skip" >&2
	fi
done
exit 0
