# Sourced by container.sh and package.sh: Debian bookworm root filesystems
# made with debootstrap and cached outside the repository, and the local base
# images the Dockerfile names, made from them. No container registry is
# needed: the images get exactly the names a registry would serve.
#
# Cache: $SINKD_CI_CACHE (default /var/cache/sinkd-ci), one tarball per
# variant; image storage: buildah's vfs store. Delete either to rebuild.

SINKD_CI_CACHE="${SINKD_CI_CACHE:-/var/cache/sinkd-ci}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BUILDAH=(buildah --storage-driver vfs)

# step WHAT: prints WHAT after the script's name and its seconds so far.
step() { printf '[%s %3ds] %s\n' "$(basename "$0" .sh)" "$SECONDS" "$*"; }

# rootfs_tarball NAME [PACKAGES]: path of a cached minbase bookworm tarball
# with PACKAGES (comma separated) added; made on first use (~30 s).
rootfs_tarball() {
    local name="$1" include="${2:-}" tarball="$SINKD_CI_CACHE/bookworm-$1.tar.gz"
    if [ ! -s "$tarball" ]; then
        local dir
        mkdir -p "$SINKD_CI_CACHE"
        dir="$(mktemp -d "$SINKD_CI_CACHE/rootfs.XXXXXX")"
        echo "debootstrap: bookworm minbase ${include:+with $include }into $tarball" >&2
        debootstrap --variant=minbase ${include:+--include="$include"} \
            bookworm "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1 \
            || { tail -n 30 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; return 1; }
        rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir.log"
        tar -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
            -czf "$tarball.tmp" .
        rm -rf "$dir"
        mv "$tarball.tmp" "$tarball"
    fi
    echo "$tarball"
}

# image_label IMAGE KEY: a label of a local image, empty when absent.
image_label() {
    "${BUILDAH[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

# import_rootfs TARBALL IMAGE STAMP [SETUP]: commits TARBALL as IMAGE unless
# an image with the same stamp label exists; SETUP is a function run with
# the working container's name and its mounted root before the commit.
import_rootfs() {
    local tarball="$1" image="$2" stamp="$3" setup="${4:-}" ctr root
    if [ "$(image_label "$image" sinkd.ci.stamp)" = "$stamp" ]; then
        return 0
    fi
    echo "importing $image" >&2
    ctr="$("${BUILDAH[@]}" from scratch)"
    root="$("${BUILDAH[@]}" mount "$ctr")"
    tar -C "$root" -xzf "$tarball"
    "${BUILDAH[@]}" config --label sinkd.ci.stamp="$stamp" \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd /bin/bash "$ctr"
    if [ -n "$setup" ]; then "$setup" "$ctr" "$root"; fi
    "${BUILDAH[@]}" umount "$ctr" >/dev/null
    # The stale image under this name, if any, would linger untagged.
    "${BUILDAH[@]}" rmi "$image" >/dev/null 2>&1 || true
    "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$image" >/dev/null
}

# The build base: the host's Rust toolchain (the one running this test),
# laid out like the official rust image (toolchain under /usr/local/rustup,
# cargo and rustc on PATH from /usr/local/cargo/bin), and the host's CA
# bundle, so that cargo reaches crates.io the way the host does (through a
# TLS-inspecting proxy, on some CI machines).
setup_build_base() {
    local ctr="$1" root="$2" sysroot name
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    sysroot="$(rustc --print sysroot)"
    name="$(basename "$sysroot")"
    mkdir -p "$root/usr/local/rustup/toolchains/$name" "$root/usr/local/cargo/bin"
    # Everything but the documentation (share/, ~800 MB).
    cp -a "$sysroot/bin" "$sysroot/lib" "$root/usr/local/rustup/toolchains/$name/"
    local tool
    for tool in cargo rustc rustdoc; do
        ln -s "../../rustup/toolchains/$name/bin/$tool" "$root/usr/local/cargo/bin/$tool"
    done
    "${BUILDAH[@]}" config --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
        --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "$ctr"
}

# make_base_images: docker.io/library/debian:bookworm-slim and
# docker.io/library/rust:1-bookworm, the two bases the Dockerfile names.
make_base_images() {
    local slim build
    slim="$(rootfs_tarball minbase)"
    # g++ and make: the Kafka sink's bundled librdkafka is built with its
    # own configure and make (the official rust image has both).
    build="$(rootfs_tarball build-cxx ca-certificates,gcc,g++,libc6-dev,make)"
    import_rootfs "$slim" docker.io/library/debian:bookworm-slim "$(stat -c %Y "$slim")"
    # Rebuilt when the host's toolchain or CA bundle changes.
    import_rootfs "$build" docker.io/library/rust:1-bookworm \
        "$(stat -c %Y "$build") $(rustc --version) $(md5sum </etc/ssl/certs/ca-certificates.crt)" \
        setup_build_base
}
