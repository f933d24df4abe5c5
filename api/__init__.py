"""The service's faces and the operations layer they share.

* :mod:`api.ops` — the operations layer: every use case (intake, incident actions, supervision,
  indicators, imports, publishing, printing, map pages, locating) as plain functions of a
  :class:`~api.ops.service.Service`. Knows no web framework and no CLI (import-linter holds it).
* :mod:`api.http` — the FastAPI face: routes and their dependencies (one authentication path for
  the API and the map pages), error mapping in one table, body limits.
* :mod:`api.cli` — the ``weiwang`` command line.
* :mod:`api.settings` — typed ``WEIWANG_*`` settings with every default, read by all faces.

A face parses, makes one call into :mod:`api.ops`, and serialises. This package is the only one that
wires ``store`` → ``geo``/``dispatch`` → ``layers`` together; it holds no spatial or loop logic.
"""
