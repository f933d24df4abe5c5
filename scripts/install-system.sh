#!/usr/bin/env bash
# Install the Debian packages weiwang needs: SpatiaLite, PostgreSQL+PostGIS, Chromium, CJK fonts,
# poppler (pdftotext). Idempotent; skips apt when everything is present.
#   --runtime  only what the service needs at run time (SpatiaLite, CJK fonts)
#   --bench    everything, plus wrk (the HTTP load generator bench/bench_api.py drives)
set -euo pipefail
pkgs=(libsqlite3-mod-spatialite postgresql postgresql-15-postgis-3 chromium fonts-noto-cjk poppler-utils)
if [ "${1:-}" = "--runtime" ]; then
  pkgs=(libsqlite3-mod-spatialite fonts-noto-cjk)
elif [ "${1:-}" = "--bench" ]; then
  pkgs+=(wrk)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
