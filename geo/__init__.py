"""The pure spatial core: grids and their hierarchy, CRS and GCJ-02/BD-09, the point locator, the
nearest community, validation of a layer (coverage, nesting, households) and the time-zone rule.

Not here: databases, HTTP, files, settings or drawing — ``geo`` imports none of them
(import-linter holds it), so every other package can build on it.
"""
