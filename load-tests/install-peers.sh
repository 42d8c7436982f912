#!/usr/bin/env bash
# Installs the peers sinkd is compared with, without disturbing the
# machine's own syslog:
#   - rsyslog and rsyslog-gnutls (TLS) from Debian, with apt;
#   - syslog-ng, which conflicts with rsyslog as a Debian package, is
#     downloaded (syslog-ng-core) and unpacked with dpkg -x under
#     $SINKD_SYSLOG_NG_ROOT (default /opt/sinkd-peers/syslog-ng); its
#     shared-library dependencies do not conflict and come from apt.
# sinkd-compare runs both in the foreground with their own config, pid and
# state files on loopback ports; nothing here starts or configures a
# system service. Idempotent: does nothing when everything is present.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
ROOT="${SINKD_SYSLOG_NG_ROOT:-/opt/sinkd-peers/syslog-ng}"

# Libraries syslog-ng-core links against (apt-cache depends syslog-ng-core).
SYSLOG_NG_LIBS="libivykis0 libnet1 libwrap0 libpcre3 libjson-c5 libglib2.0-0 libcap2 libssl3 libsystemd0"

missing=()
for package in rsyslog rsyslog-gnutls $SYSLOG_NG_LIBS; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
need_syslog_ng=0
if [ ! -x "$ROOT/usr/sbin/syslog-ng" ]; then need_syslog_ng=1; fi

if [ "${#missing[@]}" -eq 0 ] && [ "$need_syslog_ng" -eq 0 ]; then
    echo "install-peers: rsyslog and syslog-ng ($ROOT) already present"
    exit 0
fi

# apt-get update only when the package lists are missing or stale (an hour).
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -60 2>/dev/null | head -n1)" ]; then
    $SUDO apt-get update
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-peers: apt-get install ${missing[*]}"
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "$need_syslog_ng" -eq 1 ]; then
    download="$(mktemp -d)"
    chmod 0777 "$download"   # apt downloads as the _apt user
    trap 'rm -rf "$download"' EXIT
    (cd "$download" && apt-get download syslog-ng-core)
    $SUDO mkdir -p "$ROOT"
    $SUDO dpkg -x "$download"/syslog-ng-core_*.deb "$ROOT"
    echo "install-peers: syslog-ng-core unpacked into $ROOT"
fi

# Both must start far enough to print their versions.
/usr/sbin/rsyslogd -v | head -n1
LD_LIBRARY_PATH="$ROOT/usr/lib/syslog-ng" "$ROOT/usr/sbin/syslog-ng" --version | head -n1
