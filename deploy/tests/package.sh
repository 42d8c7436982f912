#!/usr/bin/env bash
# Builds the Debian package (deploy/debian/build.sh), installs it with dpkg
# into a debootstrap chroot (a cached tarball, deploy/tests/bases.sh), and
# checks what an operator relies on: `sinkd check-config` on the installed
# conffile, the sinkd system user and its data directory, the conffile
# registered with dpkg, the unit, the manual pages and completions; then
# purges it. Needs root, debootstrap, cargo-deb. Prints the package size
# and its own duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/tests/bases.sh


root="$(mktemp -d /tmp/sinkd-package.XXXXXX)"
trap 'rm -rf "$root"' EXIT

step "build the package"
deb="$(deploy/debian/build.sh)"
deb="${deb##* }"
[ -f "$deb" ] || { echo "build.sh did not name a .deb: $deb"; exit 1; }
echo "package: $deb, $(stat -c %s "$deb") bytes"
dpkg-deb --info "$deb" | sed -n 's/^ \(Depends\|Installed-Size\):/package \1:/p'

step "install into a bookworm chroot"
tar -C "$root" -xzf "$(rootfs_tarball pkgtest adduser,init-system-helpers)"
cp "$deb" "$root/tmp/sinkd.deb"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
in_root dpkg -i /tmp/sinkd.deb

step "check-config on the installed configuration"
in_root sinkd check-config /etc/sinkd/sinkd.toml

step "what the package installed"
fail() { echo "FAIL: $*"; exit 1; }
user="$(in_root getent passwd sinkd)" || fail "no sinkd user"
echo "user: $user"
[ "$(cut -d: -f6 <<<"$user")" = /var/lib/sinkd ] || fail "sinkd's home is not /var/lib/sinkd"
[ "$(cut -d: -f3 <<<"$user")" -lt 1000 ] || fail "sinkd is not a system user"
in_root getent group sinkd >/dev/null || fail "no sinkd group"
[ "$(in_root stat -c '%U:%G %a' /var/lib/sinkd)" = "sinkd:sinkd 750" ] \
    || fail "/var/lib/sinkd is $(in_root stat -c '%U:%G %a' /var/lib/sinkd)"
conffiles="$(in_root dpkg-query -W -f='${Conffiles}' sinkd)"
echo "conffiles:$conffiles"
grep -q '^ /etc/sinkd/sinkd.toml [0-9a-f]\{32\}$' <<<"$conffiles" || fail "sinkd.toml is not a conffile"
[ "$(in_root sh -c 'command -v sinkd')" = /usr/bin/sinkd ] || fail "sinkd is not /usr/bin/sinkd"
for page in sinkd sinkd-check-config sinkd-healthcheck; do
    zcat "$root/usr/share/man/man1/$page.1.gz" | grep -q '^\.TH' || fail "no manual page $page(1)"
done
[ -s "$root/usr/share/zsh/vendor-completions/_sinkd" ] || fail "no zsh completion"
[ -s "$root/usr/share/fish/vendor_completions.d/sinkd.fish" ] || fail "no fish completion"
in_root bash -c 'source /usr/share/bash-completion/completions/sinkd && complete -p sinkd' \
    || fail "the bash completion does not load"
[ -s "$root/lib/systemd/system/sinkd.service" ] || fail "no systemd unit"
[ -L "$root/etc/systemd/system/multi-user.target.wants/sinkd.service" ] \
    || fail "the unit is not enabled"

step "an edited conffile survives reinstalling"
echo "# edited by the operator" >> "$root/etc/sinkd/sinkd.toml"
in_root dpkg -i --force-confold /tmp/sinkd.deb
grep -q 'edited by the operator' "$root/etc/sinkd/sinkd.toml" || fail "the conffile edit was lost"

step "purge"
in_root dpkg --purge sinkd
[ ! -e "$root/usr/bin/sinkd" ] || fail "/usr/bin/sinkd left after purge"
[ ! -e "$root/etc/sinkd/sinkd.toml" ] || fail "the conffile left after purge"

step "package test passed (total ${SECONDS} s)"
