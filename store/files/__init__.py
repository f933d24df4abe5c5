"""Layer files: reading and writing GeoJSON, GeoPackage, zipped Shapefile and KML/KMZ, with the
safety checks that come before any library sees the bytes (size limits, archive and XML safety,
encodings, CRS). No database here: :mod:`store.importing` brings what these read into the store.
"""

from store.db import load_gdal, spatialite_without_gdal

# GDAL before any SpatiaLite connection of this process (see store.db.load_gdal). A process that made
# its SpatiaLite engine with ``files=False`` may still use the modules here that need no GDAL (the
# stored locators); the GDAL readers and writers refuse at import (layerfile, layerwrite).
if not spatialite_without_gdal():
    load_gdal()
