#!/usr/bin/env bash
# Installs the real components the test suite and the benchmark run against:
#   docker-registry (CNCF distribution 2.8, the upstream and the pull-through peer), skopeo, containerd (ctr),
#   podman (+ crun, fuse-overlayfs, uidmap, conmon), apache2-utils (htpasswd for basic-auth upstreams),
#   jq and openssl (deterministic test images), curl (client tests), wrk (benchmark load generator),
#   golang-go with the OCI image-spec and go-digest sources (the gate's differential test decodes manifests with Go's
#   encoding/json into the runtimes' own structs; built offline in GOPATH mode from /usr/share/gocode).
# Idempotent: packages already present are not reinstalled. Run it as root or not: it uses sudo only when it is not
# root (a fresh root machine or container has no sudo).
set -euo pipefail
PKGS=(docker-registry skopeo containerd podman crun fuse-overlayfs uidmap conmon golang-github-containers-common
      apache2-utils jq openssl curl wrk ca-certificates strace
      golang-go golang-github-opencontainers-image-spec-dev golang-github-opencontainers-go-digest-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-test-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup-test-deps: not root and no sudo: run it as root" >&2; exit 1; }
  # sudo resets the environment; DEBIAN_FRONTEND goes through it as an argument.
  SUDO="sudo DEBIAN_FRONTEND=noninteractive"
fi
echo "setup-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' services from starting: tests start their own instances on 127.0.0.1.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod +x /usr/sbin/policy-rc.d
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-test-deps: done"
