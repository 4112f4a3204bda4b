#!/usr/bin/env bash
# Installs the Debian packages KAMS's sandbox and tests need, when we are root; otherwise prints the
# exact command. Usage: scripts/system-deps.sh prometheus [prometheus-alertmanager] [chromium] [openssl]
# openssl: the stand-in API server makes its TLS certificate with it (kubectl sends tokens only over TLS).
# nodejs npm: the Express app of the instrumented-library tests and the OpenID Provider (Makefile's npm ci).
# nginx: the trusted proxy of the sign-in tests (sandbox/authproxy.py runs it as the user, never the service).
set -euo pipefail

declare -A provides=([prometheus]="prometheus promtool" [chromium]="chromium" [openssl]="openssl"
                  [prometheus-alertmanager]="prometheus-alertmanager" [nodejs]="node" [npm]="npm"
                  [nginx]="nginx")
# Installed alongside: Chromium renders text with these fonts (it only recommends them).
declare -A companions=([chromium]="fonts-liberation")
missing=()
for package in "$@"; do
    if [ -z "${provides[$package]:-}" ]; then
        missing+=("$package")  # no binary to look for (e.g. python3-venv): asked for means needed
        continue
    fi
    for binary in ${provides[$package]}; do
        # /usr/sbin (nginx) is not on every user's PATH.
        if ! command -v "$binary" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$binary" ]; then
            missing+=("$package" ${companions[$package]:-})
            break
        fi
    done
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "KAMS needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
