"""Test images made in memory: real photos, hostile files and everything in between."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

RED, BLUE = (220, 20, 20), (20, 20, 220)
GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def two_tone(size=(200, 100), mode="RGB") -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image.convert(mode)


def phone_jpeg(size=(200, 100), orientation=6) -> bytes:
    """A JPEG as phones write it: sideways pixels, an orientation tag, GPS, maker, XMP, comment."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneCo"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (3.0, 8.0, 52.0), 3: "E", 4: (101.0, 41.0, 12.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>lat 3.1478</rdf:RDF></x:xmpmeta>'
    return encode(two_tone(size), "JPEG", exif=exif, xmp=xmp, comment=b"shot at home", quality=95)


def plain_jpeg(size=(640, 480)) -> bytes:
    return encode(two_tone(size), "JPEG", quality=90)


def alpha_png(size=(300, 200)) -> bytes:
    """RGBA with a fully transparent left column and a text chunk."""
    image = two_tone(size, "RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 10, size[1]))
    info = _png_text("Comment", "secret note")
    return encode(image, "PNG", pnginfo=info)


def webp(size=(300, 200)) -> bytes:
    return encode(two_tone(size), "WEBP", quality=90)


def animated(image_format: str) -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, BLUE)]
    return encode(frames[0], image_format, save_all=True, append_images=frames[1:], duration=100)


def mpo() -> bytes:
    """A multi-picture JPEG (3D and some phone cameras): the first picture is the photo."""
    second = two_tone((160, 120)).rotate(180)
    return encode(two_tone((160, 120)), "MPO", save_all=True, append_images=[second])


def gif() -> bytes:
    return encode(two_tone((40, 20)), "GIF")


def png_header(width: int, height: int) -> bytes:
    """A valid PNG whose header claims ``width`` x ``height``: a decompression bomb's calling card."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = plain_jpeg((800, 600))
    return data[: len(data) // 2]


def cmyk_jpeg(**options) -> bytes:
    return encode(Image.new("CMYK", (120, 80), (0, 255, 255, 0)), "JPEG", **options)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def sixteen_bit_png() -> bytes:
    return encode(Image.new("I;16", (60, 40), 40_000), "PNG")


def palette_png_with_transparency() -> bytes:
    image = two_tone((60, 40)).convert("P")
    return encode(image, "PNG", transparency=0)


def polyglot_jpeg_comment() -> bytes:
    """A real JPEG that also parses as a web page: the HTML sits in a comment segment."""
    return encode(two_tone((64, 64)), "JPEG", comment=HTML)


def polyglot_jpeg_trailer() -> bytes:
    """A real JPEG with a web page appended after its end marker."""
    return plain_jpeg((64, 64)) + HTML


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_text(key: str, value: str) -> PngInfo:
    info = PngInfo()
    info.add_text(key, value)
    return info
