/* weiwang: the city overview (/maps/city) — every community's grids from vector tiles (tiles.js). */
"use strict";

function wwCity(map) {
  return ww.drawGrids(map);
}
