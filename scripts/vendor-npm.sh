#!/usr/bin/env bash
# Re-fetch the npm assets vendored under layers/static/vendor/ (committed, so pages work offline and
# no install step needs the npm registry). Run by hand to update a version; each package is fetched
# with `npm pack` (the registry's tarball, integrity checked by npm) and only its dist files, licence
# and a VERSION line are kept. Usage: bash scripts/vendor-npm.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# name@version  target folder  files inside the package
vendor() {
    local spec="$1" target="$2"; shift 2
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$target"
    for f in "$@" LICENSE; do
        if [[ "$f" == LICENSE && ! -f "$tmp/package/LICENSE" ]]; then continue; fi  # licence in package.json
        cp "$tmp/package/$f" "$target/"
    done
    echo "$spec $(cd "$tmp" && sha256sum ./*.tgz | cut -d' ' -f1)" >"$target/VERSION"
    rm -rf "$tmp"
}

# Leaflet editing plugin of the planner's page (MIT; peer dependency leaflet ^1.2.0, we serve 1.9.3).
vendor @geoman-io/leaflet-geoman-free@2.20.2 layers/static/vendor/leaflet-geoman \
    dist/leaflet-geoman.min.js dist/leaflet-geoman.css

# Vector tiles on the web maps (layers/static/tiles.js); licence "Beerware" (package.json, no file).
vendor leaflet.vectorgrid@1.3.0 layers/static/vendor/leaflet.vectorgrid \
    dist/Leaflet.VectorGrid.bundled.min.js
