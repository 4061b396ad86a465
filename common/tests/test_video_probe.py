"""Only a real video within the limits passes the probe of a copied result."""

import io
import json

import av
import pytest
from PIL import Image

from common.video_probe import NotAVideo, poster_jpeg, probe_video


def make_mp4(*, seconds: float = 0.5, fps: int = 10, size: int = 64, codec: str = "mpeg4"
             ) -> bytes:
    """Frame n is a flat grey of brightness n * 20 (mod 256)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(int(seconds * fps)):
            frame = av.VideoFrame(size, size, "rgb24")
            frame.planes[0].update(bytes([index * 20 % 256]) * (size * size * 3))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def probe(data: bytes) -> None:
    probe_video(io.BytesIO(data), size=len(data))


def test_a_short_mp4_passes():
    probe(make_mp4())


@pytest.mark.parametrize("data", [
    json.dumps({"knobs": {}, "counters": {}}).encode(),  # the local provider's /_control
    b"<html><body>Not Found</body></html>",
    b"\x00" * 4096,
])
def test_what_is_not_a_video_fails(data):
    with pytest.raises(NotAVideo):
        probe(data)


def test_a_truncated_mp4_fails():
    with pytest.raises(NotAVideo):
        probe(make_mp4()[:600])


def test_too_long_fails(settings):
    settings.OUTPUT_MAX_SECONDS = 1.0
    with pytest.raises(NotAVideo, match="over"):
        probe(make_mp4(seconds=2.0))


def test_too_large_a_picture_fails(settings):
    settings.OUTPUT_MAX_DIMENSION = 32
    with pytest.raises(NotAVideo, match="64x64"):
        probe(make_mp4())


def test_too_many_bytes_fails(settings):
    data = make_mp4()
    settings.MAX_OUTPUT_BYTES = len(data) - 1
    with pytest.raises(NotAVideo):
        probe(data)


def test_a_poster_is_a_jpeg_frame_from_the_video():
    """The poster is a JPEG of the video's size, taken past its first frame."""
    data = make_mp4(seconds=2, size=64)
    jpeg = poster_jpeg(io.BytesIO(data))
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and image.size == (64, 64)
        assert image.getpixel((32, 32))[0] > 20  # frame 0 is black; a later frame is lighter


def test_the_poster_of_an_h264_video_with_b_frames_is_its_frame_about_a_second_in():
    """x264's clips (the providers' usual) hold B-frames, which the poster's decoding skips."""
    data = make_mp4(seconds=2, fps=10, size=64, codec="libx264")
    with av.open(io.BytesIO(data)) as container:
        kinds = {frame.pict_type for frame in container.decode(video=0)}
    assert av.video.frame.PictureType.B in kinds
    with Image.open(io.BytesIO(poster_jpeg(io.BytesIO(data)))) as image:
        brightness = image.getpixel((32, 32))[0]
    assert 10 * 20 - 8 <= brightness <= 12 * 20 + 8  # frame 10 (1.0 s) to 12, JPEG's rounding


def test_no_poster_from_something_that_is_not_a_video():
    with pytest.raises(NotAVideo):
        poster_jpeg(io.BytesIO(b"<html>Not Found</html>"))
