#!/usr/bin/env bash
# Builds the top-level Dockerfile with buildah against local base images
# (deploy/tests/bases.sh), runs the image on the host's network, sends
# messages with `logger` from outside, reads them back from the volume, then
# stops it with SIGTERM and checks nothing acknowledged was lost.
#
# Needs root, buildah, debootstrap, logger. Caches (outside the repository):
# the debootstrap tarballs in $SINKD_CI_CACHE, the base images and the
# Dockerfile's cargo cache mounts in buildah's store. Prints the image size,
# the start-to-ready time and its own duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/tests/bases.sh


work="$(mktemp -d /tmp/sinkd-container.XXXXXX)"
# The configuration mounted from here must be reachable by the image's user.
chmod 755 "$work"
ctr=""
probe_ctr=""
runner=""
cleanup() {
    if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then kill "$runner" 2>/dev/null || true; fi
    if [ -n "$ctr" ]; then "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
    if [ -n "$probe_ctr" ]; then "${BUILDAH[@]}" rm "$probe_ctr" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
    # Only the base images and the cache mounts are kept between runs.
    "${BUILDAH[@]}" rmi localhost/sinkd:test >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "base images"
make_base_images

step "buildah bud (the Dockerfile as docker build runs it)"
# --format docker keeps HEALTHCHECK, which the OCI image format has no
# field for.
"${BUILDAH[@]}" bud --isolation chroot --format docker -t localhost/sinkd:test . \
    > "$work/bud.log" 2>&1 || { tail -n 40 "$work/bud.log"; exit 1; }
"${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' localhost/sinkd:test \
    | sed 's/^/image size: /'

step "image configuration"
config="$("${BUILDAH[@]}" inspect --type image localhost/sinkd:test)"
for want in '"User": "sinkd"' '"/var/lib/sinkd": {}' '"514/udp": {}' '"514/tcp": {}' \
    '"6514/tcp": {}' '"9514/tcp": {}' '"StopSignal": "SIGTERM"' '"healthcheck"' \
    '"WorkingDir": "/var/lib/sinkd"'; do
    grep -qF -- "$want" <<<"$config" || { echo "image configuration lacks $want"; exit 1; }
done

# A port pair nothing listens on: the syslog port (udp and tcp) and the
# metrics port. The image's own configuration binds 514, which needs the
# container's own network namespace; here the container shares the host's.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        if ! ss -Hltnu "sport = :$port" | grep -q .; then echo "$port"; return; fi
    done
}
syslog_port="$(free_port)"
metrics_port="$(free_port)"
mkdir -p "$work/etc"
sed -e "s/0.0.0.0:514/127.0.0.1:$syslog_port/" -e "s/0.0.0.0:9514/127.0.0.1:$metrics_port/" \
    deploy/container/sinkd.toml > "$work/etc/sinkd.toml"

step "run (buildah run, host network, the image's user, entrypoint and command)"
ctr="$("${BUILDAH[@]}" from localhost/sinkd:test)"
run_started=$(date +%s%N)
"${BUILDAH[@]}" run --isolation chroot --network host \
    -v "$work/etc:/etc/sinkd:ro" \
    "$ctr" -- sinkd --config /etc/sinkd/sinkd.toml > "$work/run.log" 2>&1 &
runner=$!

# The image's HEALTHCHECK command, in a container of its own: a second
# `buildah run` in sinkd's container would, on exit, unmount the volume
# from under the running sinkd.
probe_ctr="$("${BUILDAH[@]}" from localhost/sinkd:test)"
healthz() {
    "${BUILDAH[@]}" run --isolation chroot --network host "$probe_ctr" -- \
        sinkd healthcheck --address "127.0.0.1:$metrics_port" --timeout 1 >/dev/null 2>&1
}
ready=""
for _ in $(seq 1 300); do
    if { exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"; } 2>/dev/null; then
        printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
        if head -n1 <&3 | grep -q ' 200 '; then ready=yes; fi
        exec 3<&-
    fi
    [ -n "$ready" ] && break
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.05
done
[ -n "$ready" ] || { echo "sinkd did not become ready:"; cat "$work/run.log"; exit 1; }
echo "start-to-ready: $(( ($(date +%s%N) - run_started) / 1000000 )) ms (buildah run to /healthz 200)"
healthz || { echo "sinkd healthcheck inside the image failed"; exit 1; }
echo "HEALTHCHECK command (sinkd healthcheck) inside the image: healthy"

step "send with logger from outside"
count=200
for i in $(seq 1 "$count"); do echo "container tcp message $i"; done \
    | logger --tcp -n 127.0.0.1 -P "$syslog_port" --rfc5424 -t ctest -p local0.info
logger --udp -n 127.0.0.1 -P "$syslog_port" --rfc5424 -t ctest -p local0.info "container udp message"

step "SIGTERM: sinkd drains and exits 0"
sinkd_pid=""
for _ in $(seq 1 50); do
    sinkd_pid="$(ps -o pid= --ppid "$runner" | tr -d ' ')"
    for _ in 1 2 3; do
        for pid in $sinkd_pid; do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sinkd ] && { sinkd_pid=$pid; break 3; }
        done
        sinkd_pid="$(for pid in $sinkd_pid; do ps -o pid= --ppid "$pid"; done | tr -d ' ')"
    done
    sleep 0.1
done
[ -n "$sinkd_pid" ] && [ "$(cat "/proc/$sinkd_pid/comm")" = sinkd ] \
    || { echo "cannot find the sinkd process under buildah run $runner"; exit 1; }
kill -TERM "$sinkd_pid"
status=0
wait "$runner" || status=$?
runner=""
grep -q 'SIGTERM: draining' "$work/run.log" || { echo "no drain in the log:"; cat "$work/run.log"; exit 1; }
[ "$status" -eq 0 ] || { echo "buildah run exited $status:"; cat "$work/run.log"; exit 1; }

step "read back from the volume"
# buildah run gives each VOLUME of the image a directory of its own per
# container (a bind mount given with -v on the same path does not
# reliably win over it): that directory is the volume to read.
volumes="$("${BUILDAH[@]}" info --format '{{.store.GraphRoot}}')/vfs-containers/$("${BUILDAH[@]}" inspect --format '{{.ContainerID}}' "$ctr")/userdata/buildah-volumes"
mapfile -t volume < <(find "$volumes" -mindepth 1 -maxdepth 1 -type d)
[ "${#volume[@]}" -eq 1 ] || { echo "expected one volume in $volumes, found ${#volume[@]}"; exit 1; }
ln -s "${volume[0]}" "$work/data"
stored() { { grep -rah "$1" "$work/data/" || true; } | wc -l; }
stored_tcp="$(stored 'container tcp message')"
stored_udp="$(stored 'container udp message')"
echo "stored: $stored_tcp of $count over tcp, $stored_udp of 1 over udp"
[ "$stored_tcp" -eq "$count" ] && [ "$stored_udp" -eq 1 ] \
    || { ls -lR "$work/data/"; cat "$work/run.log"; exit 1; }
owner="$(find "$work/data/" -type f -printf '%u:%g\n' | sort -u)"
[ "$owner" = "514:514" ] || { echo "files in the volume owned by $owner, not 514:514"; exit 1; }

step "container test passed (total ${SECONDS} s)"
