"""Selfie image validation by content, and re-encoding: bytes in, clean JPEG bytes out."""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageCms, ImageOps

from common.exceptions import ApplicationError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# libwebp cannot decode at a reduced scale, and the frame exists three times while it decodes.
MAX_WEBP_PIXELS = 4096 * 4096
MIN_SIDE = 256
MAX_ASPECT_RATIO = 4  # a selfie, not a panorama: keeps the shortest side sane after resizing
MAX_STORED_SIDE = 2048
# Decoded images are shrunk to this first (whole-pixel steps), then resampled to the stored size.
WORKING_SIDE = 2 * MAX_STORED_SIDE
REDUCE_STRIP_ROWS = 64
_REDUCIBLE_MODES = ("L", "LA", "La", "PA", "RGB", "RGBA", "RGBa", "I", "F", "CMYK", "YCbCr")
# A decode waits this long for memory before the upload is refused (503) as busy.
DECODE_WAIT_SECONDS = 30
THUMBNAIL_SIDE = 320
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
ALLOWED_CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}  # as people write them

# Pillow warns above this and refuses above twice this, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ProcessedImage:
    image: bytes  # JPEG, RGB, no metadata
    thumbnail: bytes  # JPEG, longest side THUMBNAIL_SIDE
    width: int
    height: int


def selfie_rules() -> dict:
    """What a selfie must be, for clients to check on pick (the upload is checked again here)."""
    names = [FORMAT_NAMES[name] for name in ALLOWED_FORMATS]
    return {"max_bytes": MAX_BYTES, "max_megabytes": MAX_BYTES // (1024 * 1024),
            "min_side": MIN_SIDE, "max_aspect_ratio": MAX_ASPECT_RATIO,
            "content_types": list(ALLOWED_CONTENT_TYPES),
            "formats": ", ".join(names[:-1]) + " or " + names[-1]}


def _refuse(message: str, *, status_code: int = 400) -> ApplicationError:
    return ApplicationError(message, extra={"image": [message]}, status_code=status_code)


def image_process(*, data: bytes) -> ProcessedImage:
    """Validate a selfie by its content and re-encode it; raises ApplicationError (400/413/503).

    Memory stays bounded: a JPEG is decoded at a reduced scale, any other image is shrunk in
    whole-pixel steps right after decoding, and the decodes of one process share a memory budget.
    """
    if not data:
        raise _refuse("The file is empty. Upload a JPEG, PNG or WebP photo.")
    if len(data) > MAX_BYTES:
        raise _refuse("The image is larger than 10 MB. Upload a smaller photo.", status_code=413)
    with _decoder_errors():
        image = _open(data)
    with decode_budget.reserve(decode_cost(image)):
        with _decoder_errors():
            image = _decode(image)
        image = _to_rgb(image)
        thumbnail = image.copy()
        thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
        return ProcessedImage(image=_jpeg(image, quality=90),
                              thumbnail=_jpeg(thumbnail, quality=80),
                              width=image.width, height=image.height)


@contextmanager
def _decoder_errors():
    """Every decoder failure on hostile input becomes a 400 that says what to do."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except ApplicationError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse("The image has more than 40 megapixels. Upload a smaller photo.") \
                from None
        except Image.UnidentifiedImageError:
            raise _refuse("This is not a JPEG, PNG or WebP image.") from None
        except Exception:  # hostile input makes decoders raise OSError, SyntaxError, struct.error …
            raise _refuse("The image is damaged or truncated. Upload the photo again.") from None


def _open(data: bytes) -> Image.Image:
    """Read the header only and check it; a JPEG is set to decode at the smallest DCT scale
    (1/2, 1/4, 1/8) that still covers the stored size, so its full bitmap never exists."""
    # Only these decoders ever run: GIF, TIFF, SVG (not an image to Pillow) … are refused.
    image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    _check_header(image)
    if image.format in ("JPEG", "MPO"):
        image.draft(None, _fit(image.size, MAX_STORED_SIDE))
    return image


def _decode(image: Image.Image) -> Image.Image:
    """Decode, shrink to the stored size (first in whole-pixel steps to WORKING_SIDE, freeing
    the full bitmap at once), then apply the EXIF rotation."""
    image.load()
    info = image.info  # EXIF (orientation) and the ICC profile, kept through every step
    factor = math.ceil(max(image.size) / WORKING_SIDE)
    if factor > 1:
        image = _reduce(image, factor)
    image = _resamplable(image)
    image.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE), Image.Resampling.LANCZOS,
                    reducing_gap=None)
    image.info = info
    return ImageOps.exif_transpose(image)


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """`image` shrunk by a whole factor; its full-size bitmap is freed before this returns."""
    if image.mode in ("LA", "RGBA"):
        # Pillow's reduce() premultiplies alpha in a full-size copy first: strips keep it small.
        smaller = Image.new(image.mode, (-(-image.width // factor), -(-image.height // factor)))
        rows = REDUCE_STRIP_ROWS * factor
        for top in range(0, image.height, rows):
            strip = image.crop((0, top, image.width, min(image.height, top + rows)))
            smaller.paste(strip.reduce(factor), (0, top // factor))
    elif image.mode in _REDUCIBLE_MODES:  # the average of each factor × factor block
        smaller = image.reduce(factor)
    else:  # palette, bilevel and 16-bit grey: every factor-th pixel
        smaller = image.resize((image.width // factor, image.height // factor),
                               Image.Resampling.NEAREST)
    smaller.info = image.info
    image.close()
    return smaller


def _resamplable(image: Image.Image) -> Image.Image:
    """A mode that resamples smoothly: 16-bit grey is scaled to 8 bits (not clipped); palette,
    bilevel and colour-keyed images are expanded."""
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.convert("I").point(lambda value: value / 257, "L")
    if image.mode in ("P", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    return image


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled down (never up) to fit in a side × side box."""
    scale = min(1.0, side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def decode_cost(image: Image.Image) -> int:
    """Bytes an opened (not yet decoded) image takes at its peak in image_process: the decoded
    bitmap (and the decoder's own buffers), the working copy, and the stored-size copies."""
    width, height = image.size  # after draft(): what the decoder will produce
    decoded = width * height * _bytes_per_pixel(image.mode)
    if image.format == "WEBP":  # libwebp's canvas and the frame as bytes exist beside it
        decoded *= 4
    elif image.info.get("progressive") or image.info.get("progression"):
        # A progressive JPEG's coefficients are kept for the whole image, whatever the scale.
        scale = (getattr(image, "decoderconfig", None) or (1,))[0] or 1
        decoded += width * height * scale * scale * 3
    factor = math.ceil(max(width, height) / WORKING_SIDE)
    working = -(-width // factor) * -(-height // factor) * 4
    # Resampling with alpha premultiplies a copy first; palette images are expanded to RGBA.
    alpha = image.mode in ("LA", "RGBA", "P", "PA") or "transparency" in image.info
    stored = MAX_STORED_SIDE * MAX_STORED_SIDE * 4
    return decoded + (2 if alpha else 1) * working + 2 * stored


def _bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4  # Pillow keeps 3-band images in 4 bytes too


class DecodeBudget:
    """The image memory one process's decodes may hold together (SELFIE_DECODE_MEMORY_MB).

    Each decode reserves its estimated peak first and waits while the budget is spent; waiters
    go first come, first served, so a large image is not starved by a stream of small ones.
    """

    def __init__(self):
        self._changed = threading.Condition()
        self._used = 0
        self._line: deque[object] = deque()

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._line)

    @contextmanager
    def reserve(self, nbytes: int):
        budget = settings.SELFIE_DECODE_MEMORY_MB * 1024 * 1024
        nbytes = min(nbytes, budget)  # an image larger than the budget runs alone
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            if not self._changed.wait_for(
                    lambda: self._line[0] is ticket and self._used + nbytes <= budget,
                    timeout=DECODE_WAIT_SECONDS):
                self._line.remove(ticket)
                self._changed.notify_all()
                message = "Many photos are being processed right now. Upload yours again."
                raise ApplicationError(message, status_code=503, extra={"image": [message]},
                                       headers={"Retry-After": "5"})
            self._line.popleft()
            self._used += nbytes
            self._changed.notify_all()  # the next in line may fit as well
        try:
            yield
        finally:
            with self._changed:
                self._used -= nbytes
                self._changed.notify_all()


decode_budget = DecodeBudget()


def _check_header(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _refuse("The image has more than 40 megapixels. Upload a smaller photo.")
    if min(width, height) < MIN_SIDE:
        raise _refuse(f"The image is too small: its shortest side must be at least {MIN_SIDE} "
                      "pixels.")
    if image.format == "WEBP" and width * height > MAX_WEBP_PIXELS:
        raise _refuse("WebP images can have at most 16 megapixels. Upload a smaller photo, "
                      "or a JPEG.")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise _refuse("The image is too long and narrow for a portrait. Crop it closer.")
    # An MPO is a JPEG carrying extra pictures (phones' HDR gain maps, depth maps), not an
    # animation: its first frame is the photo, and only that is decoded.
    if getattr(image, "is_animated", False) and image.format != "MPO":
        raise _refuse("Animated images are not supported. Upload a still photo.")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit sRGB; transparency is flattened onto white."""
    icc = image.info.get("icc_profile")
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
