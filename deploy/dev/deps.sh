#!/usr/bin/env bash
# deps.sh installs, when missing, what building and testing sluice needs on a
# fresh Debian machine, using only the package managers, by package name:
#
#   deploy/dev/deps.sh chdb     the embedded ClickHouse engine (libchdb.so, from npm);
#                               prints the library's path and, as root, links it
#                               as /usr/local/lib/libchdb.so, where chdb-go looks
#   deploy/dev/deps.sh debian   Debian packages the tests use (tshark, exporters)
#   deploy/dev/deps.sh go       Go modules
#   deploy/dev/deps.sh kafka    Apache Kafka jars (deploy/dev/kafka.sh install)
#
# Environment: SLUICE_CACHE (default ~/.cache/sluice) holds what is fetched.
set -euo pipefail

readonly script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly repo=$(cd "$script_dir/../.." && pwd)
readonly cache=${SLUICE_CACHE:-$HOME/.cache/sluice}
# The engine version pinned by the architecture (chdb-go v1.11.0 loads it).
readonly chdb_package="@chdb/lib-linux-x64-gnu@26.7.3-stable.1"
readonly chdb_dir="$cache/chdb-26.7.3-stable.1"
# tshark: reference decoder; gcc and libc6-dev: cgo, which `go test -race`
# needs; curl: scripts and docs; softflowd and pmacct (pmacctd's nfprobe and
# sfprobe): real exporters for collector/interop; snmpd: the real SNMP agent
# pipeline/enrich/snmp's tests start on 127.0.0.1:16161-16960 (their own
# config; a system snmpd the package may start on 161 does not matter), and
# snmp: its command-line tools (snmpwalk, snmpget) to look at an agent;
# nfdump (nfcapd) and pmacct (nfacctd, sfacctd): the peers deploy/bench
# measures sluice against; procps: ps, which names the running test binaries
# in make test's progress lines.
readonly debian_packages=(tshark gcc libc6-dev curl softflowd pmacct snmpd snmp nfdump procps)

log() { echo "deps.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# progress PID DIR logs, every 10 s while PID runs, how many MB DIR holds.
progress() {
	local pid=$1 dir=$2 what=$3 start=$SECONDS next=$((SECONDS + 10)) bytes
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if ((SECONDS >= next)); then
			bytes=$(du -sb "$dir" 2>/dev/null | cut -f1) || bytes=0
			log "$what: $((${bytes:-0} / 1000000)) MB so far ($((SECONDS - start)) s)"
			next=$((SECONDS + 10))
		fi
	done
}

chdb() {
	local lib="$chdb_dir/package/libchdb.so"
	if [[ ! -s "$lib" ]]; then
		command -v npm >/dev/null || die "npm not found: it fetches libchdb ($chdb_package)"
		log "fetching $chdb_package (about 180 MB) into $chdb_dir"
		local staging="$chdb_dir.tmp.$$" start=$SECONDS npm_pid
		rm -rf "$staging"
		mkdir -p "$staging"
		# npm's cache goes in the staging directory (and with it): the
		# download grows there as it arrives, which the progress lines
		# measure, and nothing is left outside SLUICE_CACHE.
		(cd "$staging" && exec npm pack --silent --cache "$staging/npm-cache" "$chdb_package" >/dev/null 2>"$staging/npm.log") &
		npm_pid=$!
		progress "$npm_pid" "$staging/npm-cache/_cacache" "$chdb_package"
		if ! wait "$npm_pid"; then
			tail -n 20 "$staging/npm.log" >&2 || true
			rm -rf "$staging"
			die "npm pack $chdb_package failed"
		fi
		log "downloaded in $((SECONDS - start)) s; unpacking"
		tar -xzf "$staging"/*.tgz -C "$staging" || die "cannot unpack $chdb_package"
		rm -rf "$staging"/*.tgz "$staging/npm-cache" "$staging/npm.log"
		rm -rf "$chdb_dir"
		mv "$staging" "$chdb_dir"
		log "fetched and unpacked $chdb_package in $((SECONDS - start)) s"
	fi
	# chdb-go looks for /usr/local/lib/libchdb.so when CHDB_LIB_PATH is unset:
	# linking it there lets an operator run `sluice sql` or `sluice demo`
	# without setting anything. Only where we may write, and never over a
	# library someone else installed.
	local system=/usr/local/lib/libchdb.so
	if [[ -w /usr/local/lib && (! -e "$system" || -L "$system") ]]; then
		ln -sfn "$lib" "$system"
	elif [[ "$(readlink -f "$system" 2>/dev/null)" != "$lib" ]]; then
		log "every sluice command loads libchdb: export CHDB_LIB_PATH=$lib"
	fi
	echo "$lib"
}

debian() {
	local missing=()
	for p in "${debian_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null || die "apt-get not found; install: ${missing[*]}"
	local as_root=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "not root and no sudo; install as root: ${missing[*]}"
		as_root=(sudo)
	fi
	log "installing Debian packages: ${missing[*]}"
	# env inside sudo: sudo resets the environment, and tshark's debconf
	# question would otherwise wait for an answer.
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

gomod() {
	(cd "$repo" && go mod download)
}

case "${1:-}" in
chdb) chdb ;;
debian) debian ;;
go) gomod ;;
kafka) "$script_dir/kafka.sh" install ;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
