"""Real rendering: the selfie becomes an H.264/yuv420p faststart MP4 of at least 48 frames and 480 px."""

import struct

import av

from .support import BEARER, wait_until


def top_level_boxes(data: bytes) -> list[str]:
    """The MP4 top-level box types in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def test_render_mode_produces_real_video(provider, image_url, tmp_path):
    """In render mode the output decodes as H.264 yuv420p, >= 48 frames, >= 480 px, moov before mdat."""
    provider.control(mode="render")
    response = provider.http.post("/replicate/v1/predictions", headers=BEARER,
                                  json={"version": "v1", "input": {"image": image_url}})
    prediction_id = response.json()["id"]
    url = f"/replicate/v1/predictions/{prediction_id}"
    done = wait_until(lambda: (p := provider.http.get(url, headers=BEARER).json())["status"] in ("succeeded", "failed")
                      and p, timeout=40)
    assert done["status"] == "succeeded", done["error"]
    assert "100%|" in done["logs"]
    data = provider.http.get(done["output"]).content
    boxes = top_level_boxes(data)
    assert boxes.index("moov") < boxes.index("mdat")
    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert min(stream.codec_context.width, stream.codec_context.height) >= 480
        frames = list(container.decode(video=0))
    assert len(frames) >= 48
    first, last = frames[0].to_image(), frames[-1].to_image()
    r, g, b = first.resize((1, 1)).getpixel((0, 0))
    assert r > g and b > g  # the neon magenta/cyan grade dominates
    assert first.tobytes() != last.tobytes()  # it moves (push-in zoom)
    partial = provider.http.get(done["output"], headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
