"""Persistence: the schema (:mod:`store.models`, Alembic migrations), engines for SpatiaLite or
PostGIS (:mod:`store.db`), versioned grid layers (:mod:`store.versions`, :mod:`store.grids`) and
the one home of the in-force rule (:mod:`store.inforce`), people and party (:mod:`store.people`),
incidents and the visibility rule (:mod:`store.incidents`), accounts (:mod:`store.users`),
import/seed/export (:mod:`store.importing`, :mod:`store.seed`, :mod:`store.exporting`).

Layer files are read and written in :mod:`store.files`, apart from the database modules. Geometry
meets the database only in :mod:`store.shapes`. Not here: HTTP, settings, the incident loop's rules.
"""
