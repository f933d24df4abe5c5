"""The operations layer: what the service does, once, for every face (HTTP, CLI, pages, notebooks).

Each module holds one use case and takes a :class:`~api.ops.service.Service` (settings, engine,
clock, the layers in force, caches): :mod:`~api.ops.intake` (convert → locate → route → store),
:mod:`~api.ops.incidents` (actions, history, 督办清单, indicators), :mod:`~api.ops.locating`,
:mod:`~api.ops.layers` (import, publish, versions, GeoJSON), :mod:`~api.ops.printing`,
:mod:`~api.ops.maps` (the web map pages), :mod:`~api.ops.timelimits`, :mod:`~api.ops.access`
(authentication, roles, visibility) and :mod:`~api.ops.accounts` (login, preparing a database).

It is not a web or CLI layer: nothing here imports FastAPI, Starlette or click, and errors are the
domain's :class:`geo.errors.WeiwangError` subclasses, which each face maps (HTTP in one table).
"""
