#!/usr/bin/env bash
# Installs the Debian 12 packages Onsen builds and tests with; idempotent (apt only runs when
# something is missing). Usage: scripts/install-deps.sh [build|test]
set -euo pipefail
mode=${1:-build}
pkgs=(g++ cmake make pkg-config libboost1.81-dev libboost-url1.81-dev libssl-dev libcrypt-dev
      libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libpugixml-dev
      libhiredis-dev)
# cli/metrics_exporter: Prometheus' exposition format and metric types (prometheus-cpp's core).
pkgs+=(prometheus-cpp-dev)
if [ "$mode" = test ]; then
  pkgs+=(libgtest-dev googletest curl skopeo docker-registry apache2-utils jq python3 openssl)
  # tests/fuzz: clang's libFuzzer and sanitizer runtimes (only recommended by clang-14).
  pkgs+=(clang-14 libclang-rt-14-dev)
  # tests/s3/start-ceph-rgw.sh: a throw-away single-node Ceph with the RADOS Gateway (S3).
  pkgs+=(ceph-mon ceph-osd radosgw ceph-common uuid-runtime)
  # tests/replicas: Redis carries listing changes between replicas, nginx balances them.
  pkgs+=(redis-server nginx-light)
  # tests/metrics: a real Prometheus scrapes Onsen; promtool checks the exposition.
  pkgs+=(prometheus)
  # tests/e2e/token_auth_process_test.py: the token server signs with PyJWT (and cryptography).
  pkgs+=(python3-jwt python3-cryptography)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "$@"; }
apt_install "${missing[@]}" || { apt-get update -q -o DPkg::Lock::Timeout=600; apt_install "${missing[@]}"; }
