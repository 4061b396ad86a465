"""Selfie image validation by content, and re-encoding: bytes in, clean JPEG bytes out."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from common.exceptions import ApplicationError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 256
MAX_ASPECT_RATIO = 4  # a selfie, not a panorama: keeps the shortest side sane after resizing
MAX_STORED_SIDE = 2048
THUMBNAIL_SIDE = 320
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
ALLOWED_CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}

# Pillow warns above this and refuses above twice this, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ProcessedImage:
    image: bytes  # JPEG, RGB, no metadata
    thumbnail: bytes  # JPEG, longest side THUMBNAIL_SIDE
    width: int
    height: int


def _refuse(message: str, *, status_code: int = 400) -> ApplicationError:
    return ApplicationError(message, extra={"image": [message]}, status_code=status_code)


def image_process(*, data: bytes) -> ProcessedImage:
    """Validate a selfie by its content and re-encode it; raises ApplicationError (400/413)."""
    if not data:
        raise _refuse("The file is empty. Upload a JPEG, PNG or WebP photo.")
    if len(data) > MAX_BYTES:
        raise _refuse("The image is larger than 10 MB. Upload a smaller photo.", status_code=413)
    image = _decode(data)
    image = _to_rgb(image)
    image.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE), Image.Resampling.LANCZOS)
    thumbnail = image.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return ProcessedImage(image=_jpeg(image, quality=90), thumbnail=_jpeg(thumbnail, quality=80),
                          width=image.width, height=image.height)


def _decode(data: bytes) -> Image.Image:
    """Open (header only), check the size, then decode; every decoder failure becomes a 400."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # Only these decoders ever run: GIF, TIFF, SVG (not an image to Pillow) … are refused.
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            _check_header(image)
            image.load()
            return ImageOps.exif_transpose(image)
        except ApplicationError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("The image has more than 40 megapixels. Upload a smaller photo.") \
                from None
        except Image.UnidentifiedImageError:
            raise _refuse("This is not a JPEG, PNG or WebP image.") from None
        except Exception:  # hostile input makes decoders raise OSError, SyntaxError, struct.error …
            raise _refuse("The image is damaged or truncated. Upload the photo again.") from None


def _check_header(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _refuse("The image has more than 40 megapixels. Upload a smaller photo.")
    if min(width, height) < MIN_SIDE:
        raise _refuse(f"The image is too small: its shortest side must be at least {MIN_SIDE} "
                      "pixels.")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise _refuse("The image is too long and narrow for a portrait. Crop it closer.")
    # An MPO is a JPEG carrying extra pictures (phones' HDR gain maps, depth maps), not an
    # animation: its first frame is the photo, and only that is decoded.
    if getattr(image, "is_animated", False) and image.format != "MPO":
        raise _refuse("Animated images are not supported. Upload a still photo.")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit sRGB; transparency is flattened onto white."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scale, don't clip
        image = image.convert("I").point(lambda value: value / 257, "L")
    if image.mode == "P" or image.mode.endswith("A") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif icc and image.mode in ("RGB", "CMYK"):
        try:  # keep the colours of Display P3 photos and CMYK scans right without the profile
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    rgb = image.convert("RGB")
    clean = Image.new("RGB", rgb.size)  # a fresh image carries no EXIF, XMP, ICC or comments
    clean.paste(rgb)
    return clean


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
