"""The HTTP face (FastAPI): routes that parse, make one call into :mod:`api.ops` and return; their
dependencies (:mod:`~api.http.deps`); the error table (:mod:`~api.http.errors`); body limits; the
app factory (:mod:`~api.http.app`). No use-case logic lives here.
"""
