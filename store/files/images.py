"""Incident photos: the type sniffed from the bytes, EXIF stripped but for the orientation, a thumbnail.

:func:`clean_photo` takes the uploaded bytes (the file name and declared type are ignored) and
returns what is stored: the image re-encoded in its own format with no metadata except the EXIF
orientation tag (so a phone photo still shows upright and no GPS position, camera or owner leaks),
plus a JPEG thumbnail turned upright. Anything else raises an error with a stable code.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from geo.errors import WeiwangError
from store.files.errors import UnsupportedFormat

#: Largest photo accepted, bytes.
MAX_PHOTO_BYTES = 5 * 2**20
#: Largest picture accepted, pixels (a small file can still decode to a huge bitmap).
MAX_PIXELS = 50_000_000
#: Longest side of a thumbnail, pixels.
THUMB_PX = 320
#: EXIF tag 274: orientation.
ORIENTATION = 0x0112

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoTooLarge(WeiwangError):
    code = "limit_exceeded"


@dataclass(frozen=True)
class Photo:
    """A cleaned photo ready to store."""

    media_type: str
    data: bytes
    width: int
    height: int
    thumb: bytes
    orientation: int | None


def sniff(data: bytes) -> str | None:
    """``JPEG``, ``PNG`` or ``WEBP`` from the first bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _refuse_type(field: str) -> UnsupportedFormat:
    return UnsupportedFormat(
        "只接受 JPEG、PNG 或 WebP 图片（按文件内容判断，不看扩展名）",
        "only JPEG, PNG or WebP images are accepted (judged by content, not by name)",
        field=field,
    )


def clean_photo(data: bytes, *, field: str = "files") -> Photo:
    """Check and clean one uploaded photo (see the module docstring)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(
            f"图片过大：{len(data) / 2**20:.1f} MB，每张最多 5 MB",
            f"photo too large: {len(data) / 2**20:.1f} MB, at most 5 MB each",
            field=field,
        )
    kind = sniff(data)
    if kind is None:
        raise _refuse_type(field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data), formats=[kind])
            if img.width * img.height > MAX_PIXELS:
                raise PhotoTooLarge(
                    f"图片像素过多：{img.width}×{img.height}",
                    f"too many pixels: {img.width}x{img.height}",
                    field=field,
                )
            orientation = img.getexif().get(ORIENTATION)
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise _refuse_type(field) from exc
    if kind == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")
    exif = Image.Exif()
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        exif[ORIENTATION] = orientation
    else:
        orientation = None
    out = io.BytesIO()
    options: dict = {"exif": exif.tobytes()} if orientation else {}
    if kind in ("JPEG", "WEBP"):
        options |= {"quality": 90}
    img.save(out, format=kind, **options)
    thumb_img = ImageOps.exif_transpose(img.copy()) if orientation else img.copy()
    thumb_img.thumbnail((THUMB_PX, THUMB_PX))
    if thumb_img.mode not in ("RGB", "L"):
        thumb_img = thumb_img.convert("RGB")
    thumb = io.BytesIO()
    thumb_img.save(thumb, format="JPEG", quality=80)
    return Photo(MEDIA_TYPES[kind], out.getvalue(), img.width, img.height, thumb.getvalue(), orientation)
