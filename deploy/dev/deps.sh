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
#   deploy/dev/deps.sh clients  the ClickHouse clients the tests connect to `sluice run`
#                               (deploy/dev/clients): python, jdbc and chgo below
#   deploy/dev/deps.sh python [--installed]
#                               a virtualenv with clickhouse-connect and pandas (pip,
#                               python/requirements.txt); prints its python
#   deploy/dev/deps.sh jdbc [--installed]
#                               ClickHouse's JDBC driver (Maven, jdbc/pom.xml) and
#                               SluiceJDBC compiled against it; prints their directory
#   deploy/dev/deps.sh ecs      the ECS field definitions of @elastic/ecs (npm, pinned
#                               below) as flat JSON (field: type, normalize); prints its path
#   deploy/dev/deps.sh chgo     the modules of the clickhouse-go v2.47 client (chgo/go.mod)
#                               and of the same client re-pinned to the project's version
#
# With --installed, python and jdbc install nothing: they print the path if
# it is there and exit 3 if not (the tests ask so).
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
# in make test's progress lines; python3 and python3-venv: the virtualenv of
# the Python ClickHouse client (deps.sh python); maven and openjdk-17-jdk-headless:
# the JDBC client and the Kafka broker's jars; rsyslog and rsyslog-gnutls:
# the syslog receiver (TLS, octet-counted TCP) of the SIEM syslog/CEF tests;
# systemd: systemd-analyze, which checks deploy/systemd's units (deploy/check).
readonly debian_packages=(tshark gcc libc6-dev curl softflowd pmacct snmpd snmp nfdump procps
	python3 python3-venv maven openjdk-17-jdk-headless rsyslog rsyslog-gnutls systemd)
readonly clients="$script_dir/clients"

log() { echo "deps.sh: $*" >&2; }
# die MESSAGE [STATUS] logs MESSAGE and exits with STATUS (1).
die() {
	log "$1"
	exit "${2:-1}"
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

# The ECS version pipeline/siem/ecs writes (ecs.Version) and tests against.
readonly ecs_package="@elastic/ecs@9.4.0"
readonly ecs_dir="$cache/ecs-9.4.0"

# ecs fetches @elastic/ecs and writes ecs-flat.json, each field's type and
# normalize list from the package's EcsFlat, and ecs-version.txt, the
# version its generated types fix ecs.version to.
ecs() {
	local out="$ecs_dir/ecs-flat.json"
	if [[ ! -s "$out" ]]; then
		command -v npm >/dev/null || die "npm not found: it fetches $ecs_package"
		command -v node >/dev/null || die "node not found: it reads $ecs_package"
		local staging="$ecs_dir.tmp.$$"
		rm -rf "$staging"
		mkdir -p "$staging"
		(cd "$staging" && npm pack --silent --cache "$staging/npm-cache" "$ecs_package" >/dev/null) || die "npm pack $ecs_package failed"
		tar -xzf "$staging"/*.tgz -C "$staging" || die "cannot unpack $ecs_package"
		sed -n "s/^ *version: '\\([0-9.]*\\)';$/\\1/p" "$staging/package/generated/ecs.ts" | head -n1 >"$staging/ecs-version.txt"
		(cd "$staging/package" && node -e '
			const {EcsFlat} = require("./build/commonjs/ecs_flat.js");
			const o = {};
			for (const [k, v] of Object.entries(EcsFlat)) o[k] = {type: v.type, normalize: v.normalize || [], allowed: (v.allowed_values || []).map(a => a.name)};
			process.stdout.write(JSON.stringify(o));' >"$staging/ecs-flat.json") || die "cannot read $ecs_package"
		rm -rf "$staging/npm-cache" "$staging"/*.tgz "$staging/package"
		rm -rf "$ecs_dir"
		mv "$staging" "$ecs_dir"
	fi
	echo "$out"
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
	# deploy/check: the deploy tests' own module (Helm, compose-go, BuildKit).
	(cd "$repo/deploy/check" && go mod download)
}

# cached DIR-PREFIX FILE... names the cache directory for what FILEs build:
# the prefix and a hash of their contents, so that editing one (a version
# bump) builds anew instead of mixing old and new.
cached() {
	local prefix=$1
	shift
	echo "$prefix-$(cat "$@" | sha256sum | cut -c1-12)"
}

# python [--installed] makes the virtualenv of the Python client and prints
# its python.
python() {
	local req="$clients/python/requirements.txt" venv
	venv=$(cached "$cache/venv-clients" "$req")
	if [[ ! -x "$venv/bin/python" ]]; then
		[[ ${1:-} != --installed ]] || die "no virtualenv at $venv: deploy/dev/deps.sh python makes it" 3
		command -v python3 >/dev/null || die "python3 not found (deploy/dev/deps.sh debian installs it)"
		log "making a virtualenv at $venv: pip install -r ${req#"$repo"/}"
		local staging="$venv.tmp.$$" start=$SECONDS
		rm -rf "$staging"
		python3 -m venv "$staging" >&2 || die "python3 -m venv failed (Debian package python3-venv)"
		if ! "$staging/bin/pip" install -q --disable-pip-version-check -r "$req" >&2; then
			rm -rf "$staging"
			die "pip install -r $req failed"
		fi
		# Moved into place whole: its python finds the packages from where
		# it is (its pip's first line names the staging path, but nothing
		# runs pip there again: a new requirements file makes a new one).
		rm -rf "$venv"
		mv "$staging" "$venv"
		log "virtualenv ready in $((SECONDS - start)) s"
	fi
	echo "$venv/bin/python"
}

# jdbc [--installed] fetches the JDBC driver, compiles SluiceJDBC against it,
# and prints the directory (classes/ and lib/).
jdbc() {
	local pom="$clients/jdbc/pom.xml" src="$clients/jdbc/SluiceJDBC.java" dir
	dir=$(cached "$cache/jdbc-client" "$pom" "$src")
	if [[ ! -f "$dir/classes/SluiceJDBC.class" ]]; then
		[[ ${1:-} != --installed ]] || die "no JDBC client at $dir: deploy/dev/deps.sh jdbc builds it" 3
		command -v mvn >/dev/null || die "mvn not found (deploy/dev/deps.sh debian installs maven)"
		command -v javac >/dev/null || die "javac not found (Java 17: openjdk-17-jdk-headless)"
		log "fetching the JDBC driver (${pom#"$repo"/}) with Maven into $dir"
		local staging="$dir.tmp.$$" start=$SECONDS
		rm -rf "$staging"
		mkdir -p "$staging"
		# As deploy/dev/kafka.sh: quiet, batch mode, no colour reset.
		if ! MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }-Djansi.noreset=true" \
			mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$pom" \
			dependency:copy-dependencies -DoutputDirectory="$staging/lib" >&2; then
			rm -rf "$staging"
			die "mvn dependency:copy-dependencies failed"
		fi
		if ! javac -d "$staging/classes" -cp "$staging/lib/*" "$src" >&2; then
			rm -rf "$staging"
			die "javac $src failed"
		fi
		rm -rf "$dir"
		mv "$staging" "$dir"
		log "JDBC client built in $((SECONDS - start)) s"
	fi
	echo "$dir"
}

# chgo downloads the modules the clickhouse-go v2.47 client needs, and those
# of the same program re-pinned to the project's clickhouse-go, as the test
# TestClickHouseClientsGo runs it.
chgo() {
	local version tmp
	(cd "$clients/chgo" && go mod download)
	version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/ClickHouse/clickhouse-go/v2)
	tmp=$(mktemp -d)
	cp "$clients/chgo"/{go.mod,go.sum,main.go} "$tmp/"
	(cd "$tmp" && go mod edit -require="github.com/ClickHouse/clickhouse-go/v2@$version" &&
		GOFLAGS=-mod=mod go mod download) || {
		rm -rf "$tmp"
		die "go mod download of the client re-pinned to clickhouse-go $version failed"
	}
	rm -rf "$tmp"
}

case "${1:-}" in
chdb) chdb ;;
python) python "${2:-}" ;;
jdbc) jdbc "${2:-}" ;;
chgo) chgo ;;
ecs) ecs ;;
clients)
	python >/dev/null
	jdbc >/dev/null
	chgo
	;;
debian) debian ;;
go) gomod ;;
kafka) "$script_dir/kafka.sh" install ;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
