"""process_photo: judged by content, limits enforced, metadata gone, thumbnails made."""

from __future__ import annotations

import hashlib
import io
import warnings

import pytest
from PIL import Image

from bellyfed.photos.processing import PhotoRejected, process_photo, thumbnail_size
from tests.photos import images

LIMITS = {"max_bytes": 8 * 1024 * 1024, "max_pixels": 40_000_000}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(colour, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))


def test_phone_jpeg_is_turned_upright_and_loses_exif_gps_xmp_and_comment():
    raw = images.phone_jpeg(size=(200, 100), orientation=6)
    assert b"PhoneCo" in raw  # the input really carries what must go
    assert b"lat 3.1478" in raw

    processed = process_photo(raw, **LIMITS)

    stored = processed.original
    image = opened(stored.data)
    assert (stored.content_type, stored.extension, image.format) == ("image/jpeg", "jpg", "JPEG")
    # Orientation 6 means "turn 90 degrees clockwise": the red left half ends up on top.
    assert (stored.width, stored.height) == image.size == (100, 200)
    assert near(image.getpixel((50, 20)), images.RED)
    assert near(image.getpixel((50, 180)), images.BLUE)
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "comment"} & set(image.info)
    for secret in (b"Exif", b"PhoneCo", b"lat 3.1478", b"shot at home", b"http://ns.adobe.com"):
        assert secret not in stored.data


def test_digest_and_size_describe_the_stored_bytes():
    stored = process_photo(images.plain_jpeg(), **LIMITS).original
    assert stored.sha256 == hashlib.sha256(stored.data).hexdigest()
    assert stored.byte_size == len(stored.data) > 0


def test_png_keeps_its_format_and_transparency_but_not_its_text_chunks():
    processed = process_photo(images.alpha_png((300, 200)), **LIMITS)

    image = opened(processed.original.data)
    assert processed.original.content_type == "image/png"
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (300, 200))
    assert image.getpixel((2, 2))[3] == 0
    assert image.getpixel((150, 100))[3] == 255
    assert b"secret note" not in processed.original.data
    thumb = opened(processed.thumbnail.data)
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((1, 1))[3] == 0


def test_webp_stays_webp():
    processed = process_photo(images.webp((300, 200)), **LIMITS)
    image = opened(processed.original.data)
    assert (processed.original.content_type, processed.original.extension) == ("image/webp", "webp")
    assert (image.format, image.size) == ("WEBP", (300, 200))


def test_multi_picture_jpeg_is_stored_as_its_first_picture():
    raw = images.mpo()
    assert Image.open(io.BytesIO(raw)).n_frames == 2

    processed = process_photo(raw, **LIMITS)

    image = opened(processed.original.data)
    assert (processed.original.content_type, image.format) == ("image/jpeg", "JPEG")
    assert getattr(image, "n_frames", 1) == 1
    assert near(image.getpixel((10, 60)), images.RED)


def test_thumbnail_fits_within_480_and_keeps_the_aspect_ratio():
    processed = process_photo(images.plain_jpeg((1200, 800)), **LIMITS)

    thumb = processed.thumbnail
    image = opened(thumb.data)
    assert (thumb.content_type, thumb.extension, image.format) == ("image/webp", "webp", "WEBP")
    assert image.size == (thumb.width, thumb.height) == (480, 320)
    assert thumb.byte_size < processed.original.byte_size


def test_small_images_are_not_enlarged_for_the_thumbnail():
    processed = process_photo(images.plain_jpeg((100, 50)), **LIMITS)
    assert opened(processed.thumbnail.data).size == (100, 50)


def test_thumbnail_size_matches_what_is_made():
    assert thumbnail_size(4000, 3000) == (480, 360)
    assert thumbnail_size(1000, 4000) == (120, 480)
    assert thumbnail_size(3000, 1) == (480, 1)
    assert thumbnail_size(300, 200) == (300, 200)


def test_cmyk_jpeg_is_stored_as_rgb():
    processed = process_photo(images.cmyk_jpeg(), **LIMITS)
    image = opened(processed.original.data)
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert near(image.getpixel((60, 40)), (255, 0, 0), tolerance=60)


def test_the_colour_profile_stays_while_the_pixels_stay_in_its_colour_space():
    icc = images.srgb_profile()
    rgb = process_photo(images.encode(images.two_tone(), "JPEG", icc_profile=icc), **LIMITS)
    assert opened(rgb.original.data).info["icc_profile"] == icc
    assert opened(rgb.thumbnail.data).info["icc_profile"] == icc

    converted = process_photo(images.cmyk_jpeg(icc_profile=icc), **LIMITS)
    assert "icc_profile" not in opened(converted.original.data).info


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped_to_white():
    image = opened(process_photo(images.sixteen_bit_png(), **LIMITS).original.data)
    assert image.mode == "L"
    assert 150 <= image.getpixel((5, 5)) <= 160  # 40000 / 256 = 156


def test_palette_png_keeps_its_transparency():
    image = opened(process_photo(images.palette_png_with_transparency(), **LIMITS).original.data)
    assert image.mode == "P"
    assert "transparency" in image.info


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (images.HTML, "web page code"),
        (images.SVG, "web page code"),
        (b"just some notes about lunch\n" * 10, "JPEG, PNG or WebP"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "JPEG, PNG or WebP"),
        (images.gif(), "JPEG, PNG or WebP"),
        (images.truncated_jpeg(), "damaged or incomplete"),
        (images.plain_jpeg()[:40], "damaged or incomplete"),
        (images.animated("WEBP"), "Animated"),
        (images.animated("PNG"), "Animated"),
        (images.polyglot_jpeg_comment(), "web page code"),
        (images.polyglot_jpeg_trailer(), "web page code"),
    ],
    ids=[
        "zero-bytes", "html", "svg-with-script", "text", "svg", "gif", "truncated-jpeg",
        "jpeg-header-only", "animated-webp", "animated-png", "polyglot-comment", "polyglot-trailer",
    ],
)  # fmt: skip
def test_non_photos_are_refused_with_a_clear_message(data, message):
    with pytest.raises(PhotoRejected, match=message):
        process_photo(data, **LIMITS)


def test_the_polyglots_really_are_decodable_jpegs():
    """Otherwise the polyglot tests above would only prove that garbage is refused."""
    for data in (images.polyglot_jpeg_comment(), images.polyglot_jpeg_trailer()):
        assert opened(data).format == "JPEG"


def test_too_many_bytes_is_refused_and_the_limit_itself_is_fine():
    data = images.plain_jpeg()
    padding = LIMITS["max_bytes"] - len(data)  # zeros after the end marker: still a valid JPEG
    at_limit, over_limit = data + b"\0" * padding, data + b"\0" * (padding + 1)

    assert process_photo(at_limit, **LIMITS).original.width == 640
    with pytest.raises(PhotoRejected, match="over 8 MB"):
        process_photo(over_limit, **LIMITS)


def test_too_many_pixels_by_our_limit_is_refused():
    with pytest.raises(PhotoRejected, match=r"too many pixels \(the limit is 0\.3 megapixels\)"):
        process_photo(
            images.plain_jpeg((640, 480)), max_bytes=LIMITS["max_bytes"], max_pixels=300_000
        )


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 6_000), (10_000, 10_000), (30_000, 30_000)],
    ids=["over-our-limit", "over-pillow-warning", "over-pillow-error"],
)
def test_decompression_bombs_are_refused_from_the_header_without_a_warning(width, height):
    bomb = images.png_header(width, height)
    assert len(bomb) < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning escaping would fail the test
        with pytest.raises(PhotoRejected, match="too many pixels"):
            process_photo(bomb, **LIMITS)


def test_html_markers_inside_ordinary_metadata_are_not_false_alarms():
    """XMP is XML: a photo from an editor must not be mistaken for a web page."""
    data = images.phone_jpeg()
    assert b"<x:xmpmeta" in data
    assert b"<rdf:RDF>" in data
    assert process_photo(data, **LIMITS).original.content_type == "image/jpeg"
