"""Default tolerances of the spatial core, kept apart from the heavy modules so settings can read
them without importing shapely."""

#: The snap tolerance every face uses unless configured (``WEIWANG_SNAP_TOLERANCE_M``): a point this
#: close outside every micro-grid is given the nearest one, flagged ``snapped``.
DEFAULT_SNAP_M = 30.0
