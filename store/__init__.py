"""Persistence and files: the schema (:mod:`store.models`, Alembic migrations), engines for
SpatiaLite or PostGIS (:mod:`store.db`), versioned grid layers (:mod:`store.versions`,
:mod:`store.grids`), people and party (:mod:`store.people`), incidents (:mod:`store.incidents`),
accounts (:mod:`store.users`), import/seed (:mod:`store.importing`, :mod:`store.seed`) and layer
files (:mod:`store.layerfile`). Geometry meets shapely only in :mod:`store.shapes`.
"""
