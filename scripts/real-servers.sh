#!/usr/bin/env bash
# Builds the real servers the tests run against, from their Go modules, once per machine:
#   kube-apiserver (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3),
#   prometheus + promtool (github.com/prometheus/prometheus), alertmanager (github.com/prometheus/alertmanager),
#   oauth2-proxy (github.com/oauth2-proxy/oauth2-proxy/v7; the deploy overlay's proxy, run by a test)
# Each lands in $KAMS_SERVERS_CACHE/<name>-<version>/ (default ~/.cache/kams/servers), with build.txt saying
# how long it took; a binary already there is reused. Without Go it prints why and exits 0, so the tests
# that need a server skip with that sentence (CI turns such a skip into a failure: KAMS_REQUIRE_REAL_SERVERS).
# Usage: scripts/real-servers.sh [NAME ...]   (no NAME: all five)   scripts/real-servers.sh --dir
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=real-servers/versions.env
source "$HERE/real-servers/versions.env"
CACHE="${KAMS_SERVERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kams/servers}"

if [ "${1:-}" = "--dir" ]; then
    echo "$CACHE"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "Go is not installed, so the real kube-apiserver, etcd, Prometheus 3 and Alertmanager are not built;" \
         "the tests that need them will skip. Install Go 1.26 and run make test again." >&2
    exit 0
fi

mkdir -p "$CACHE"
# A module-mode build with no network guesses nothing: only the module proxy is reachable here anyway.
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
export CGO_ENABLED=0

# build NAME VERSION BINARIES... -- a function that fills the module folder $work
build() {
    local name=$1 version=$2; shift 2
    local binaries=() ; while [ "$1" != "--" ]; do binaries+=("$1"); shift; done; shift
    local recipe=$1
    local target="$CACHE/$name-$version"
    local all_there=yes
    for binary in "${binaries[@]}"; do [ -x "$target/$binary" ] || all_there=no; done
    [ $all_there = yes ] && return 0

    # Two `make test`s at once (or a test and the demo) must not build the same thing twice.
    exec {lock}>"$CACHE/.$name.lock"
    flock "$lock"
    all_there=yes
    for binary in "${binaries[@]}"; do [ -x "$target/$binary" ] || all_there=no; done
    if [ $all_there = yes ]; then exec {lock}>&-; return 0; fi

    echo "Building $name $version from its Go module (once per machine; minutes on 2 cores) ..."
    local work; work="$(mktemp -d)"
    local started=$SECONDS
    mkdir -p "$target.partial"
    if ( cd "$work" && "$recipe" "$version" "$target.partial" ) >"$target.partial/build.log" 2>&1; then
        local took=$((SECONDS - started))
        echo "$name $version built in ${took} s on $(nproc) cores with $(go env GOVERSION), $(date -u +%F)" \
            >"$target.partial/build.txt"
        rm -rf "$target"; mv "$target.partial" "$target"
        echo "  $name: ${took} s -> $target"
    else
        echo "Building $name $version failed; the last lines of $target.partial/build.log:" >&2
        tail -20 "$target.partial/build.log" >&2
        rm -rf "$work"; exec {lock}>&-
        return 1
    fi
    rm -rf "$work"
    exec {lock}>&-
}

kubernetes_recipe() {
    local version=$1 out=$2
    # k8s.io/kubernetes requires its ~30 staging modules at v0.0.0 and replaces them with ./staging paths,
    # which do not apply to a module that depends on it: pin each to the matching published v0.x.y.
    local staging="v0${version#v1}"
    go mod init kams.local/kube-apiserver
    go mod edit -require "k8s.io/kubernetes@$version"
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
    awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u | while read -r module; do
        go mod edit -replace "$module=$module@$staging"
    done
    printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' >deps.go
    go mod tidy
    # The version a release build stamps (hack/lib/version.sh): clients, KAMS's version checks and
    # the server's own compatibility-version logic read it.
    local minor=${version#v1.}; minor=${minor%%.*}
    local stamp="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
    stamp+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
    stamp+=" -X k8s.io/component-base/version.buildDate=$(date -u +%FT%TZ)"
    go build -ldflags "$stamp" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}

etcd_recipe() {
    local version=$1 out=$2
    go mod init kams.local/etcd
    cp "$HERE/real-servers/etcd.go" main.go
    go mod edit -require "go.etcd.io/etcd/server/v3@$version"
    go mod tidy
    go build -o "$out/etcd" .
}

# Release builds stamp their version with -X (promu); without it `--version` and /api/v1/status/buildinfo
# are empty. Module v0.MMM.P of Prometheus 3 is release 3.(MMM-300).P; Alertmanager's module version is its own.
prometheus_stamp() {
    local release=$1
    echo "-X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Branch=release" \
         "-X github.com/prometheus/common/version.Revision=$2 -X github.com/prometheus/common/version.BuildUser=kams"
}

prometheus_recipe() {
    local version=$1 out=$2
    local minor=${version#v0.}; minor=${minor%%.*}
    local release="3.$((10#$minor - 300)).${version##*.}"
    # `go install module@version` builds exactly the release's go.sum; the web UI is left out (no
    # builtinassets tag): the tests and the demo use the HTTP API only.
    GOBIN="$out" go install -ldflags "$(prometheus_stamp "$release" "$version")" \
        "github.com/prometheus/prometheus/cmd/prometheus@$version" \
                            "github.com/prometheus/prometheus/cmd/promtool@$version"
}

alertmanager_recipe() {
    local version=$1 out=$2
    # Its web UI (ui/app/dist, embedded) is made by an npm build that the module does not ship. The tests
    # and the demo use the API only, so the module's own source is built with a one-page placeholder there.
    local source
    source="$(go mod download -json "github.com/prometheus/alertmanager@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
    cp -r "$source" alertmanager && chmod -R u+w alertmanager
    for ui in elm mantine; do
        mkdir -p "alertmanager/ui/app/dist/$ui"
        echo '<p>Alertmanager built for KAMS tests: web UI not included, API only.</p>' \
            >"alertmanager/ui/app/dist/$ui/index.html"
    done
    (cd alertmanager && go build -ldflags "$(prometheus_stamp "${version#v}" "$version")" \
        -o "$out/alertmanager" ./cmd/alertmanager)
}

oauth2_proxy_recipe() {
    local version=$1 out=$2
    GOBIN="$out" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$version"
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(etcd kube-apiserver prometheus alertmanager oauth2-proxy)
status=0
for name in "${wanted[@]}"; do
    case $name in
        etcd) build etcd "$ETCD_VERSION" etcd -- etcd_recipe || status=1 ;;
        kube-apiserver) build kube-apiserver "$KUBERNETES_VERSION" kube-apiserver -- kubernetes_recipe || status=1 ;;
        prometheus) build prometheus "$PROMETHEUS_VERSION" prometheus promtool -- prometheus_recipe || status=1 ;;
        alertmanager) build alertmanager "$ALERTMANAGER_VERSION" alertmanager -- alertmanager_recipe || status=1 ;;
        oauth2-proxy) build oauth2-proxy "$OAUTH2_PROXY_VERSION" oauth2-proxy -- oauth2_proxy_recipe || status=1 ;;
        *) echo "unknown server: $name (etcd, kube-apiserver, prometheus, alertmanager, oauth2-proxy)" >&2
           exit 2 ;;
    esac
done
exit $status
