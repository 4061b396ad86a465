"""Image files for tests, made programmatically: valid, hostile and odd ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

from project.embedded import BASE_DIR

SAMPLE_SELFIE = (BASE_DIR / "static" / "samples" / "selfie-astronaut.jpg").read_bytes()


def image_bytes(fmt: str = "JPEG", *, size=(512, 512), mode: str = "RGB", color=(200, 40, 40),
                **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, fmt, **save)
    return buffer.getvalue()


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (300, 300), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def jpeg_with_gps(*, size=(400, 300), orientation: int | None = None) -> bytes:
    """A JPEG a phone would send: GPS coordinates, camera make and maybe a rotation flag."""
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((250, 250, 0), (0, 0, size[0] // 4, size[1] // 4))  # a marker in the top left
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 30.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
