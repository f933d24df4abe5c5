"""Fault drills (issue 14, item 5): each module here runs one drill against a served app or a
real subprocess and prints what it found; ``python -m bench.drills`` runs every one of them.

A drill module has a ``main(argv: list[str] | None = None) -> int`` (0 = the drill held) and can
be run on its own with ``python -m bench.drills.<name>``. Modules whose names start with ``_``
are helpers, not drills.
"""
