"""Domain errors of the incident loop (each with a stable code and zh-CN + en messages).

The API maps codes to HTTP status in one table: ``illegal_transition`` → 409 (the body's
``detail`` lists the current state and the allowed actions/states), ``forbidden`` → 403,
``invalid_input`` → 422 (``field`` names the offending input).
"""

from __future__ import annotations

from geo.errors import WeiwangError


class IllegalTransition(WeiwangError):
    """The action is not allowed in the incident's current state."""

    code = "illegal_transition"


class NotPermitted(WeiwangError):
    """The actor may not take this action on this incident (role, 谁办理谁反馈, verifier ≠ handler)."""

    code = "forbidden"


class InvalidInput(WeiwangError):
    """An input value is missing, too long, of the wrong type or out of range; ``field`` names it."""

    code = "invalid_input"
