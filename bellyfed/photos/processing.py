"""Photo checks and re-encoding: pure functions over bytes, no Flask.

An upload is judged by its content alone: Pillow must decode it as a still JPEG, PNG or WebP within
the byte and pixel limits. What gets stored is freshly encoded pixels (upright, EXIF applied), so
EXIF/GPS, XMP, comments and anything smuggled beside the image never reach storage.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format -> (content type, key extension, format we store). MPO is a multi-picture JPEG
# some cameras write; its first frame is the photo itself.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg", "JPEG"),
    "MPO": ("image/jpeg", "jpg", "JPEG"),
    "PNG": ("image/png", "png", "PNG"),
    "WEBP": ("image/webp", "webp", "WEBP"),
}
OPEN_FORMATS = ("JPEG", "PNG", "WEBP")  # the only decoders Pillow may try (MPO comes via JPEG)
THUMBNAIL_BOX = 480
THUMBNAIL_CONTENT_TYPE = "image/webp"
JPEG_QUALITY = 85
WEBP_QUALITY = 85
THUMBNAIL_QUALITY = 80
# Markup that lets a file double as a web page (a JPEG/HTML polyglot). We never serve stored bytes
# as HTML, but a photo carrying a script is hostile, so it is refused rather than quietly cleaned.
MARKUP = re.compile(
    rb"<(?:script|html|iframe|body|object|embed)[\s>/]|<!doctype\s+html", re.IGNORECASE
)
DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, IndexError, struct.error)

NOT_A_PHOTO = "That file isn't a photo we can use. Please upload a JPEG, PNG or WebP image."
DAMAGED = "That photo is damaged or incomplete. Please try another file."
ANIMATED = "Animated images aren't supported. Please upload a still photo."
HAS_MARKUP = "That file contains web page code, not just a photo, so we can't accept it."


class PhotoRejected(ValueError):
    """The upload is not an acceptable photo; ``str()`` is the message shown to the user."""


@dataclass(frozen=True)
class EncodedImage:
    """Bytes ready to store, with what the Photo row records about them."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int

    @property
    def byte_size(self) -> int:
        """Length of the stored bytes."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the stored bytes (the ETag)."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ProcessedPhoto:
    """The cleaned full-size photo and its thumbnail."""

    original: EncodedImage
    thumbnail: EncodedImage


def process_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> ProcessedPhoto:
    """Check an upload by content; return it upright, stripped of metadata, and a thumbnail."""
    image = decode(data, max_bytes=max_bytes, max_pixels=max_pixels)
    content_type, extension, stored_format = FORMATS[image.format or ""]
    source_mode, icc_profile = image.mode, image.info.get("icc_profile")
    upright = _eight_bit(_upright(image))

    small = upright if upright.mode in ("RGB", "RGBA") else upright.convert(_rgb_mode(upright))
    small = small.resize(thumbnail_size(*small.size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumbnail_icc = _icc_if_same_space(icc_profile, source_mode, small.mode)
    thumbnail_data = _encode(small, "WEBP", thumbnail_icc, quality=THUMBNAIL_QUALITY)
    thumbnail = EncodedImage(thumbnail_data, THUMBNAIL_CONTENT_TYPE, "webp", *small.size)

    stored = _for_format(upright, stored_format)
    stored_icc = _icc_if_same_space(icc_profile, source_mode, stored.mode)
    original = EncodedImage(
        _encode(stored, stored_format, stored_icc), content_type, extension, *stored.size
    )
    return ProcessedPhoto(original, thumbnail)


def decode(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Open and fully decode ``data`` as a still JPEG, PNG or WebP, or raise PhotoRejected."""
    if not data:
        raise PhotoRejected("That file is empty. Please choose a photo.")
    if len(data) > max_bytes:
        raise PhotoRejected(
            f"That photo is over {max_bytes / 2**20:g} MB. Please upload a smaller one."
        )
    if MARKUP.search(data):
        raise PhotoRejected(HAS_MARKUP)
    too_many_pixels = (
        f"That photo has too many pixels (the limit is {max_pixels / 1e6:g} megapixels)."
    )
    try:
        # Pillow's own bomb check warns past Image.MAX_IMAGE_PIXELS and raises past twice that;
        # both mean "refuse", and the warning must not reach the decoder as a mere log line.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(too_many_pixels) from exc
    except UnidentifiedImageError as exc:
        raise PhotoRejected(NOT_A_PHOTO) from exc
    except DECODE_ERRORS as exc:
        raise PhotoRejected(DAMAGED) from exc
    width, height = image.size
    # Checked on the header, before a single pixel is decoded into memory.
    if width * height > max_pixels:
        raise PhotoRejected(too_many_pixels)
    if image.format in ("PNG", "WEBP") and getattr(image, "is_animated", False):
        raise PhotoRejected(ANIMATED)
    try:
        image.load()  # ImageFile.LOAD_TRUNCATED_IMAGES stays False: a short file is an error
    except DECODE_ERRORS as exc:
        raise PhotoRejected(DAMAGED) from exc
    return image


def thumbnail_size(width: int, height: int, box: int = THUMBNAIL_BOX) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image fitted inside ``box`` square (never enlarged)."""
    scale = min(1.0, box / width, box / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _upright(image: Image.Image) -> Image.Image:
    # A broken EXIF block is common in edited photos; it costs the rotation, not the upload.
    with contextlib.suppress(DECODE_ERRORS):
        ImageOps.exif_transpose(image, in_place=True)  # in place: a 40 MP copy is 120 MB
    return image


def _eight_bit(image: Image.Image) -> Image.Image:
    # 16-bit greyscale PNGs: a plain convert("L") clips everything above 255 to white.
    if image.mode.startswith("I"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _rgb_mode(image: Image.Image) -> str:
    return "RGBA" if _has_alpha(image) else "RGB"


def _for_format(image: Image.Image, image_format: str) -> Image.Image:
    keeps = {
        "JPEG": ("L", "RGB"),
        "PNG": ("1", "L", "LA", "P", "RGB", "RGBA"),
        "WEBP": ("RGB", "RGBA"),
    }
    if image.mode in keeps[image_format]:
        return image
    return image.convert("RGB" if image_format == "JPEG" else _rgb_mode(image))


def _colour_space(mode: str) -> str:
    return {"CMYK": "CMYK", "1": "L", "L": "L", "LA": "L"}.get(mode, "RGB")


def _icc_if_same_space(icc_profile: bytes | None, source_mode: str, mode: str) -> bytes | None:
    # The colour profile is kept (wide-gamut phone photos look wrong without it), but only while
    # the pixels are still in the space it describes: a CMYK profile on RGB pixels is garbage.
    if icc_profile and _colour_space(source_mode) == _colour_space(mode):
        return icc_profile
    return None


def _encode(
    image: Image.Image, image_format: str, icc_profile: bytes | None, **options: int
) -> bytes:
    """Encode ``image`` (which this clears of metadata) with only the options we choose."""
    transparency = image.info.get("transparency")
    # Drop everything the decoder read (EXIF, XMP, comments, text chunks); keep only transparency.
    image.info = {} if transparency is None else {"transparency": transparency}
    if image_format == "JPEG":
        options = {"quality": JPEG_QUALITY, "optimize": True, "progressive": True, **options}
    elif image_format == "WEBP":
        options = {"quality": WEBP_QUALITY, **options}
    if icc_profile:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()
