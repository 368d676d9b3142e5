# shellcheck shell=bash
# Shared helpers for the scripts in this directory. Source it, do not run it.

# Repository root, resolved from this file's location.
TT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TT_ROOT

# Debian packages the test suite and benchmarks rely on.
# shellcheck disable=SC2034 # used by the scripts that source this file
TT_TEST_PACKAGES=(
	python3-libtorrent
	transmission-cli
	transmission-daemon
	aria2
	mktorrent
	opentracker
	nginx-light
	nftables
	miniupnpd-nftables
	tshark
	tmux
	iputils-ping
	iproute2
	jq
	time
)

# The interpreter that carries the libtorrent binding.
TT_LT_PYTHON=${TT_LT_PYTHON:-/usr/bin/python3}

if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
	_tt_bold=$'\e[1m' _tt_red=$'\e[31m' _tt_yellow=$'\e[33m' _tt_reset=$'\e[0m'
else
	_tt_bold='' _tt_red='' _tt_yellow='' _tt_reset=''
fi

log() { printf '%s==>%s %s\n' "$_tt_bold" "$_tt_reset" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_tt_yellow" "$_tt_reset" "$*" >&2; }
err() { printf '%serror:%s %s\n' "$_tt_red" "$_tt_reset" "$*" >&2; }
die() {
	err "$*"
	exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

is_ci() { [[ ${CI:-} == true || ${CI:-} == 1 ]]; }

# pkg_installed NAME: true when dpkg reports the package fully installed.
pkg_installed() {
	local status
	status=$(dpkg -s "$1" 2>/dev/null | sed -n 's/^Status: //p') || return 1
	[[ $status == "install ok installed" ]]
}

# missing_packages NAME...: print the names that are not installed.
missing_packages() {
	local p
	for p in "$@"; do
		pkg_installed "$p" || printf '%s\n' "$p"
	done
}

# ensure_packages NAME...: install missing Debian packages with apt-get.
# Without root (or without dpkg) it fails under CI and only warns otherwise.
ensure_packages() {
	local -a missing
	if ! have dpkg; then
		if is_ci; then
			err "dpkg not found: cannot check for test dependencies ($*)"
			return 1
		fi
		warn "dpkg not found: not checking for test dependencies"
		return 0
	fi
	mapfile -t missing < <(missing_packages "$@")
	((${#missing[@]} == 0)) && return 0

	if ! is_root; then
		local msg="missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
		if is_ci; then
			err "$msg"
			return 1
		fi
		warn "$msg; interop tests that need them will be skipped"
		return 0
	fi

	log "installing ${missing[*]}"
	local aptlog
	aptlog=$(mktemp "${TMPDIR:-/tmp}/tt-apt.XXXXXX")
	if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$aptlog" 2>&1 ||
		! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			-o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
		tail -n 30 "$aptlog" >&2
		rm -f "$aptlog"
		err "apt-get failed to install: ${missing[*]}"
		return 1
	fi
	rm -f "$aptlog"
	mapfile -t missing < <(missing_packages "$@")
	if ((${#missing[@]} > 0)); then
		err "still missing after apt-get: ${missing[*]}"
		return 1
	fi
}

# fmt_duration SECONDS: "1m23s" or "45s".
fmt_duration() {
	local s=$1
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}
