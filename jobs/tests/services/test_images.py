"""image_process: validation by content, never by name or declared type; clean re-encoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from common.exceptions import ApplicationError
from jobs.services import images
from jobs.services.images import MAX_BYTES, image_process
from jobs.tests.images import (
    SAMPLE_SELFIE,
    animated,
    image_bytes,
    jpeg_with_gps,
    mpo,
    open_image,
    png_header_only,
)


def refused(data: bytes, status: int = 400) -> str:
    with pytest.raises(ApplicationError) as caught:
        image_process(data=data)
    assert caught.value.status_code == status
    assert caught.value.extra["image"]
    return caught.value.message


def test_sample_selfie_is_reencoded_as_jpeg_with_thumbnail():
    result = image_process(data=SAMPLE_SELFIE)
    assert (result.width, result.height) == (512, 512)
    assert open_image(result.image).format == "JPEG"
    thumbnail = open_image(result.thumbnail)
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == 320


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_accepted_and_become_rgb_jpeg(fmt):
    result = image_process(data=image_bytes(fmt))
    stored = open_image(result.image)
    assert stored.format == "JPEG" and stored.mode == "RGB"


def test_long_side_is_capped():
    result = image_process(data=image_bytes("JPEG", size=(3000, 2000)))
    assert (result.width, result.height) == (2048, 1365)


def test_gps_and_all_exif_are_stripped_and_orientation_applied():
    result = image_process(data=jpeg_with_gps(size=(400, 300), orientation=6))
    stored = open_image(result.image)
    assert not stored.getexif() and "exif" not in stored.info
    assert b"PhoneCo" not in result.image and b"Exif" not in result.image
    assert (result.width, result.height) == (300, 400)  # rotated 90° as the flag said
    # The yellow marker was top-left before the rotation; orientation 6 moves it top-right.
    assert stored.getpixel((280, 20))[2] < 100


def test_cmyk_jpeg_is_converted():
    result = image_process(data=image_bytes("JPEG", mode="CMYK", color=(0, 255, 255, 0)))
    red = open_image(result.image).getpixel((10, 10))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_16_bit_png_is_scaled_not_clipped():
    result = image_process(data=image_bytes("PNG", mode="I;16", color=32768))
    value = open_image(result.image).getpixel((10, 10))
    assert 110 < value[0] < 145


def test_palette_png_with_transparency_is_flattened_onto_white():
    image = Image.new("P", (300, 300), 0)
    image.putpalette([0, 0, 0] * 256)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    result = image_process(data=buffer.getvalue())
    assert open_image(result.image).getpixel((5, 5)) == (255, 255, 255)


def test_truncated_jpeg_is_refused():
    assert "damaged" in refused(SAMPLE_SELFIE[: len(SAMPLE_SELFIE) // 2])


@pytest.mark.parametrize("data", [
    b"<!doctype html><html><body>hi</body></html>",
    b'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600"></svg>',
    image_bytes("GIF"),
    image_bytes("TIFF"),
    image_bytes("BMP"),
], ids=["html", "svg", "gif", "tiff", "bmp"])
def test_other_formats_are_refused(data):
    assert "not a JPEG, PNG or WebP" in refused(data)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_are_refused(fmt):
    assert "Animated" in refused(animated(fmt))


def test_empty_file_is_refused():
    assert "empty" in refused(b"")


def test_more_than_10_mb_is_413():
    refused(SAMPLE_SELFIE + b"\0" * MAX_BYTES, status=413)


@pytest.mark.parametrize("side", [50_000, 7_000, 6_500])
def test_decompression_bombs_are_refused_from_the_header(side):
    """50000² trips Pillow's hard limit, 7000² its warning, 6500² (42 MP) our own check."""
    assert "40 megapixels" in refused(png_header_only(side, side))


def test_too_small_is_refused():
    assert "at least 256" in refused(image_bytes("PNG", size=(255, 600)))


def test_panorama_is_refused():
    assert "narrow" in refused(image_bytes("JPEG", size=(2100, 500)))


def test_multi_picture_jpeg_is_its_first_picture():
    """Phones save HDR gain maps and depth maps as extra MPO pictures: not an animation."""
    result = image_process(data=mpo(size=(400, 300)))
    stored = open_image(result.image)
    assert stored.format == "JPEG" and (result.width, result.height) == (400, 300)
    assert stored.getpixel((10, 10))[1] > 100  # teal, the first picture, not the grey map


# --- Large images: decoded at a reduced scale or shrunk in whole-pixel steps -------------------

def png_with_orientation(size, orientation: int) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((250, 250, 0), (0, 0, size[0] // 4, size[1] // 4))  # a marker top left
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif)
    return buffer.getvalue()


def test_a_large_png_is_shrunk_and_still_rotated_as_its_exif_says():
    result = image_process(data=png_with_orientation((4500, 3000), orientation=6))
    assert (result.width, result.height) == (1365, 2048)
    assert open_image(result.image).getpixel((1300, 40))[2] < 100  # the marker, now top right


def test_a_large_transparent_png_is_flattened_evenly_across_reduction_strips():
    image = Image.new("RGBA", (4500, 3000), (0, 0, 255, 0))
    image.paste((200, 0, 0, 255), (0, 1500, 4500, 3000))  # opaque red bottom half
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    stored = open_image(image_process(data=buffer.getvalue()).image)
    assert stored.size == (2048, 1365)
    for y in range(0, 600, 37):  # transparent: white, never the hidden blue, in every strip
        assert min(stored.getpixel((1000, y))) > 245
    red = stored.getpixel((1000, 1200))
    assert red[0] > 180 and red[1] < 40 and red[2] < 40


@pytest.mark.parametrize(("mode", "color", "expected"), [
    ("P", 7, None), ("I;16", 32768, (110, 145)), ("1", 1, (245, 256)), ("L", 90, (80, 100))])
def test_large_images_of_every_mode_are_shrunk(mode, color, expected):
    image = Image.new(mode, (4300, 3000), color)
    if mode == "P":
        image.putpalette([0, 0, 0] * 7 + [0, 200, 0] + [0, 0, 0] * 248)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    stored = open_image(image_process(data=buffer.getvalue()).image)
    assert stored.size == (2048, 1429) and stored.mode == "RGB"
    pixel = stored.getpixel((500, 500))
    if expected is None:
        assert pixel[1] > 180 and pixel[0] < 30
    else:
        assert expected[0] < pixel[0] < expected[1]


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    """libjpeg's DCT scaling: a 7700 × 5150 JPEG is decoded at half size, never in full."""
    sizes = []
    original = images._decode

    def spy(image):
        sizes.append(image.size)
        return original(image)
    monkeypatch.setattr(images, "_decode", spy)
    result = image_process(data=image_bytes("JPEG", size=(7700, 5150), color=(200, 40, 40)))
    assert sizes == [(3850, 2575)]
    assert (result.width, result.height) == (2048, 1370)
    assert open_image(result.image).getpixel((100, 100))[0] > 180


def test_webp_over_16_megapixels_is_refused():
    data = image_bytes("WEBP", size=(4200, 4200), lossless=True)
    assert "16 megapixels" in refused(data)
