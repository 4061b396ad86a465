"""Image files for tests, made programmatically: valid, hostile and odd ones."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import ExifTags, Image

from launcher.embedded import BASE_DIR

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


# --- A corpus of hostile and odd images -------------------------------------------------------

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(ihdr: bytes, idat: bytes, *extra: bytes) -> bytes:
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(extra)
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def _zlib_bomb(size: int) -> bytes:
    """`size` zero bytes compressed (about 1000:1) without holding them in memory."""
    compressor, block = zlib.compressobj(9), b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def png_idat_bomb(*, side: int = 512, inflated: int = 1 << 28) -> bytes:
    """A small PNG whose IDAT stream inflates to far more than its pixels need."""
    return _png(struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0), _zlib_bomb(inflated))


def png_with_chunk(kind: bytes, data: bytes, *, size=(512, 512)) -> bytes:
    """A valid RGB PNG with one extra ancillary chunk before its pixels."""
    width, height = size
    rows = (b"\0" + b"\x80" * (width * 3)) * height
    return _png(struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0), zlib.compress(rows),
                png_chunk(kind, data))


def png_16bit(*, color_type: int = 2, size=(300, 300), trns: bytes | None = None) -> bytes:
    """A 16-bit PNG (2: RGB, 0: grey), optionally with a tRNS chunk."""
    width, height = size
    channels = 3 if color_type == 2 else 1
    rows = (b"\0" + b"\x80\x01" * channels * width) * height
    extra = [png_chunk(b"tRNS", trns)] if trns is not None else []
    return _png(struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0),
                zlib.compress(rows), *extra)


def jpeg_with_segments(marker: int, payload: bytes, count: int, *, size=(512, 512)) -> bytes:
    """A valid JPEG with `count` extra APPn segments (at most 65533 bytes each) after SOI."""
    segment = struct.pack(">HH", marker, len(payload) + 2) + payload
    base = image_bytes("JPEG", size=size)
    return base[:2] + segment * count + base[2:]


def png_bad_ihdr_crc() -> bytes:
    data = bytearray(image_bytes("PNG"))
    data[29:33] = b"\0\0\0\0"  # IHDR's CRC: signature (8) + length, type, 13 bytes of data
    return bytes(data)


def mpo(*, size=(512, 512)) -> bytes:
    """A multi-picture JPEG, as phones save a photo with its HDR gain map or depth map."""
    frames = [Image.new("RGB", size, color) for color in ("teal", "gray")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "MPO", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


SVG = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">'
       b'<text>&x;</text><script>alert(1)</script></svg>')
HEIC = (struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
        + struct.pack(">I", 16) + b"meta" + b"\0" * 8)


@functools.cache
def hostile_corpus() -> dict[str, tuple[bytes, str, int]]:
    """{case: (file bytes, file name, the status a selfie upload must answer)}.

    201 cases are odd but real photos: they must come back re-encoded as a clean JPEG.
    """
    jpeg = image_bytes("JPEG")
    webp = image_bytes("WEBP", size=(600, 600))
    exif_ifd = b"Exif\0\0MM\0*\0\0\0\x08" + b"\xff\xff" + b"\0\x01" * 32000
    return {
        "polyglot-jpeg-html-zip": (jpeg + b"<html><script>alert(1)</script></html>PK\x05\x06"
                                   + b"\0" * 18, "poly.jpg", 201),
        "polyglot-gif-js": (b"GIF89a/*" + b"\0" * 32 + b"*/=1;alert(1)//", "poly.gif", 400),
        "jpeg-huge-exif": (jpeg_with_segments(0xFFE1, exif_ifd, 120), "exif.jpg", 201),
        "jpeg-huge-icc": (jpeg_with_segments(0xFFE2, b"ICC_PROFILE\0\x01\x01" + b"\x07" * 65000,
                                             40), "icc.jpg", 201),
        "png-giant-itxt": (png_with_chunk(b"iTXt", b"k\0\0\0\0\0" + b"A" * (8 << 20)),
                           "itxt.png", 201),
        "png-ztxt-bomb": (png_with_chunk(b"zTXt", b"k\0\0" + _zlib_bomb(1 << 28)),
                          "ztxt.png", 400),
        "png-iccp-bomb": (png_with_chunk(b"iCCP", b"p\0\0" + _zlib_bomb(1 << 28)),
                          "iccp.png", 400),
        "png-idat-bomb": (png_idat_bomb(), "idat.png", 201),
        "png-pixel-bomb": (png_header_only(100_000, 100_000), "bomb.png", 400),
        "png-1x100000": (png_header_only(1, 100_000), "thin.png", 400),
        "png-16bit-rgb": (png_16bit(), "deep.png", 201),
        "png-16bit-grey-trns": (png_16bit(color_type=0, trns=b"\x80\x01"), "grey.png", 201),
        "png-bad-ihdr-crc": (png_bad_ihdr_crc(), "crc.png", 400),
        "webp-truncated": (webp[:len(webp) // 2], "cut.webp", 400),
        "jpeg-truncated": (jpeg[:len(jpeg) // 3], "cut.jpg", 400),
        "jpeg-cmyk": (image_bytes("JPEG", mode="CMYK", color=(0, 255, 255, 0)), "cmyk.jpg", 201),
        "mpo-gain-map": (mpo(), "iphone.jpg", 201),
        "webp-animated": (animated("WEBP"), "anim.webp", 400),
        "png-animated": (animated("PNG"), "anim.png", 400),
        "gif": (image_bytes("GIF"), "a.gif", 400),
        "tiff-lab": (image_bytes("TIFF", mode="LAB", color=(50, 0, 0)), "lab.tif", 400),
        "bmp": (image_bytes("BMP"), "a.bmp", 400),
        "svg-as-jpg": (SVG, "photo.jpg", 400),
        "heic": (HEIC, "IMG_0001.HEIC", 400),
        "zero-bytes": (b"", "empty.jpg", 400),
        "html-as-png": (b"<!doctype html><script>alert(1)</script>", "x.png", 400),
        "over-10mb": (jpeg + b"\0" * (10 * 1024 * 1024 + 1 - len(jpeg)), "big.jpg", 413),
        "path-traversal-name": (jpeg, "../../etc/passwd.jpg", 201),
        "very-long-name": (jpeg, "\u00e9" * 1000 + ".jpg", 201),
    }


def worst_case(case: str) -> bytes:
    """Large pixels in a small file: 39.7 MP (40 MP for WebP's cases: its own limit is lower).

    Each compresses to a few hundred KB or less, as in the report that four such PNG selfies
    took a web process from 285 MB to 3.3 GB.
    """
    width, height = 7700, 5150
    buffer = io.BytesIO()
    if case == "png-rgba":
        Image.new("RGBA", (width, height), (10, 20, 30, 128)).save(buffer, "PNG")
    elif case == "png-palette":
        Image.new("P", (width, height), 3).save(buffer, "PNG", transparency=3)
    elif case == "png-16bit-grey":
        Image.new("I;16", (width, height), 1000).save(buffer, "PNG")
    elif case == "jpeg-progressive":
        Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, "JPEG", quality=50,
                                                             progressive=True)
    elif case == "webp-16mp":
        Image.new("RGBA", (4096, 4096), (10, 20, 30, 128)).save(buffer, "WEBP", lossless=True)
    else:
        raise ValueError(case)
    return buffer.getvalue()
