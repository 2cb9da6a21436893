#!/usr/bin/env bash
# Prints a directory holding kube-apiserver, kube-controller-manager and etcd.
# Honours KUBEBUILDER_ASSETS (as envtest does); otherwise builds Kubernetes
# v1.20.2 from Debian's source package once and caches the binaries in
# ~/.cache/shardline/kube-1.20.2 (outside the clone).
set -euo pipefail
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
cache="${SHARDLINE_CACHE:-$HOME/.cache/shardline}/kube-1.20.2"
if [ -x "$cache/kube-apiserver" ] && [ -x "$cache/kube-controller-manager" ] && [ -x "$cache/etcd" ]; then
  echo "$cache"; exit 0
fi
log() { echo "[kube-binaries] $*" >&2; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/debian.sources
if ! grep -q '^Types:.*deb-src' "$src_list" 2>/dev/null; then
  log "enabling deb-src"
  $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$src_list"
fi
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends golang-go rsync jq etcd-server \
  golang-github-modern-go-reflect2-dev dpkg-dev >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/shardline-kube.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
log "fetching kubernetes source package into $work"
apt-get source --download-only kubernetes >&2
orig="$(ls kubernetes_*.orig.tar.* | head -n1)"
mkdir tree && tar -xf "$orig" -C tree --strip-components=1
cd tree
# reflect2 v1.0.1 crashes the apiserver under Go >= 1.18; use Debian's v1.0.2.
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2
rm -f vendor/github.com/modern-go/reflect2/go.mod
sed -i -E 's#(github.com/modern-go/reflect2 => github.com/modern-go/reflect2) v[0-9.]+#\1 v1.0.2#' go.mod
sed -i -E 's#^(\# github.com/modern-go/reflect2) v[0-9.]+#\1 v1.0.2#; s#^(\# github.com/modern-go/reflect2 => github.com/modern-go/reflect2) v[0-9.]+#\1 v1.0.2#' vendor/modules.txt
sed -i -E 's#^(\s*github.com/modern-go/reflect2) v1\.0\.1#\1 v1.0.2#' go.mod
mkdir -p .go/src/k8s.io
ln -s "$PWD" .go/src/k8s.io/kubernetes
cd .go/src/k8s.io/kubernetes
log "building kube-apiserver and kube-controller-manager (about 10 minutes on 2 cores)"
GOPATH="$work/tree/.go" CGO_ENABLED=0 GOFLAGS=-mod=vendor GO111MODULE=on \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2
mkdir -p "$cache"
out="$(find "$work/tree/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)"
cp "$(dirname "$out")/kube-apiserver" "$(dirname "$out")/kube-controller-manager" "$cache/"
ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$cache/etcd"
log "cached in $cache"
echo "$cache"
