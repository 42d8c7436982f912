#!/usr/bin/env bash
# Builds the Debian package into target/debian/: the release binary, then
# the manual pages and shell completions generated from its CLI (into
# target/release/deb-extra, which the [package.metadata.deb] assets name), then
# `cargo deb` (cargo install --locked cargo-deb), stripping the binary's
# debug information (the release profile keeps line tables). Prints the .deb's path
# last. Arguments are passed to cargo deb.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --locked -p sinkd
sinkd=target/release/sinkd
extra=target/release/deb-extra
rm -rf "$extra"
mkdir -p "$extra/man" "$extra/completions"
"$sinkd" man "$extra/man"
gzip -9n "$extra"/man/*.1
"$sinkd" completions bash > "$extra/completions/sinkd.bash"
"$sinkd" completions zsh > "$extra/completions/_sinkd"
"$sinkd" completions fish > "$extra/completions/sinkd.fish"
cargo deb --locked --no-build --strip -p sinkd "$@" | tail -n 1
