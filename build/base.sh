#!/usr/bin/env bash
# Bootstraps the local base image kubelab/base:bookworm from Debian's packages.
#
# Nothing in kubelab may depend on pulling an image: the machines it runs on have
# no registry. This builds an equivalent of python:3.11-slim-bookworm from the
# Debian mirror the host's apt already uses (debootstrap, then `docker import`).
# It does nothing when the image exists, unless --rebuild is given.
set -euo pipefail

IMAGE=${KUBELAB_BASE_IMAGE:-kubelab/base:bookworm}
SUITE=bookworm
PACKAGES=python3,python3-venv,iproute2,ca-certificates
REBUILD=0
for arg in "$@"; do
    case "$arg" in
        --rebuild) REBUILD=1 ;;
        *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
    esac
done

if [[ $REBUILD == 0 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE already present"
    exit 0
fi

SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo -E"; fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "installing debootstrap"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap >/dev/null
fi

# The Debian mirror the host uses (one-line or deb822 sources), else the default.
mirror() {
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    local f
    for f in "${files[@]}"; do
        [[ -f $f ]] || continue
        # one-line format: deb [opts] URL SUITE components
        awk -v suite="$SUITE" '
            $1 == "deb" {
                for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { url = $i; s = $(i + 1); break }
                if (s == suite && url !~ /security/) { print url; exit }
            }' "$f"
        # deb822 format: stanzas with URIs: and Suites:
        awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uri != "" && suites ~ ("(^| )" suite "( |$)") && uri !~ /security/) { print uri; exit } uri = ""; suites = "" }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { $1 = ""; suites = $0 }
            END { if (uri != "" && suites ~ ("(^| )" suite "( |$)") && uri !~ /security/) print uri }' "$f"
    done | head -n1
}
MIRROR=$(mirror)
MIRROR=${KUBELAB_DEBIAN_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}

ROOTFS=$(mktemp -d /tmp/kubelab-rootfs.XXXXXX)
cleanup() { $SUDO rm -rf "$ROOTFS"; }
trap cleanup EXIT

echo "debootstrap $SUITE from $MIRROR (python3, iproute2, ca-certificates); takes a few minutes"
$SUDO debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$ROOTFS.log" 2>&1 || { tail -n 30 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"

# Slim it down like the official slim images: no apt lists, caches, docs or man pages.
$SUDO sh -c "
    echo 'deb $MIRROR $SUITE main' > '$ROOTFS/etc/apt/sources.list'
    rm -rf '$ROOTFS'/var/lib/apt/lists/* '$ROOTFS'/var/cache/apt/*.bin '$ROOTFS'/var/cache/apt/archives/*.deb
    rm -rf '$ROOTFS'/usr/share/doc/* '$ROOTFS'/usr/share/man/* '$ROOTFS'/usr/share/info/*
    rm -rf '$ROOTFS'/usr/share/locale/*
"

echo "importing $IMAGE"
$SUDO tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null
echo "base image $IMAGE ready"
