#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, as root on a
# clean machine. Idempotent: when everything is already there it touches
# nothing (not even `apt-get update`) and returns at once. Quiet: apt's output
# goes to a log file; one summary line is printed, or the log's tail on failure.
set -euo pipefail

PACKAGES=(
  # Native addons (better-sqlite3, the FUSE binding) build from source.
  python3 make g++ pkg-config
  # FUSE: libfuse2 and its headers for the binding; fuse3 brings fusermount3,
  # which libfuse uses for auto_unmount.
  libfuse2 libfuse-dev fuse3
  # The loopback Ceph RADOS Gateway of the tests (test/servers/rgw.ts);
  # ceph-common has the ceph CLI and radosgw-admin, ceph-base monmaptool.
  ceph-mon ceph-osd radosgw ceph-common
  # Other tools that mount buckets, for interoperability tests and benchmarks.
  s3fs rclone
  # Plain tools the mount scenario tests drive (rsync, sqlite3, setfattr, fio,
  # script for a pseudo-terminal, git).
  rsync sqlite3 attr fio bsdutils git tar
  # Operating the daemon (test/daemon): systemd-analyze and systemd-notify,
  # mount(8) and unshare for the fstab test, pgrep, curl for the metrics.
  systemd util-linux mount procps curl
)

LOG="${TMPDIR:-/tmp}/bucketfs-install-system-packages.log"

fail() {
  echo "install-system-packages: $1 (log: $LOG)" >&2
  if [[ -s "$LOG" ]]; then tail -n 30 "$LOG" >&2; fi
  exit 1
}

installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

main() {
  local started=$SECONDS missing=() package
  for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    echo "system packages: all ${#PACKAGES[@]} already installed"
    return 0
  fi
  [[ $EUID -eq 0 ]] || fail "must run as root to install: ${missing[*]}"
  : >"$LOG"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >>"$LOG" 2>&1 || fail "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 ||
    fail "apt-get install failed for: ${missing[*]}"
  for package in "${missing[@]}"; do
    installed "$package" || fail "$package is still not installed"
  done
  echo "system packages: installed ${missing[*]} in $((SECONDS - started)) s (log: $LOG)"
}

main "$@"
