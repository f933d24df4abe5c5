"""Errors raised while reading or writing grid layer files (stable codes, zh-CN + en messages).

The API maps ``code`` to an HTTP status in one table; the CLI prints ``zh`` and exits non-zero.
"""

from __future__ import annotations

from geo.errors import WeiwangError


class UnreadableFile(WeiwangError):
    """The file does not exist, is not a regular file, or GDAL cannot read it."""

    code = "unreadable_file"


class UnsupportedFormat(WeiwangError):
    """Not one of GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV (or content disagrees with name)."""

    code = "unsupported_format"


class AmbiguousLayer(WeiwangError):
    """Several layers (or archive members) could be meant: the caller must pass ``layer=``."""

    code = "ambiguous_layer"


class NoCRS(WeiwangError):
    """The file declares no coordinate reference system and none was given."""

    code = "no_crs"


class ProjectedAsDegrees(WeiwangError):
    """Coordinates beyond ±180/±90 under a geographic CRS: projected metres mislabelled as degrees."""

    code = "projected_as_degrees"


class LimitExceeded(WeiwangError):
    """A size limit (bytes, features, vertices, string length, archive size) was exceeded."""

    code = "limit_exceeded"


class UnsafeArchive(WeiwangError):
    """A zip/KMZ with path traversal, links, absolute paths, too many members or too large expanded."""

    code = "unsafe_archive"


class UnsafeXML(WeiwangError):
    """XML (KML) with a DTD, entities or external references, or not well-formed."""

    code = "unsafe_xml"


class MissingColumn(WeiwangError):
    """A required attribute column (code, level) was not found."""

    code = "missing_column"


class BadValue(WeiwangError):
    """An attribute or geometry value that cannot be used (empty code, unknown level, null geometry)."""

    code = "bad_value"
