"""Each style's prompt renders a look of its own: palette and motion differ, in render and fast mode."""

import subprocess
import sys

import av
import pytest
from PIL import ImageStat

from local_provider import render
from local_provider.looks import DEFAULT_LOOK, KEYWORDS, LOOKS, look_for

from .support import BEARER, SELFIE, wait_until


def frames(path) -> list:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def mean_rgb(image) -> tuple[float, float, float]:
    return tuple(ImageStat.Stat(image).mean)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    """look → the frames of a short, small render of the sample selfie in that look."""
    out = tmp_path_factory.mktemp("looks")
    clips = {}
    for look in LOOKS:
        path = out / f"{look}.mp4"
        meta = render.render_clip(SELFIE.read_bytes(), str(path), seed=1, prompt=f"a {look} portrait",
                                  seconds=1, short_side=128)
        assert meta["look"] == look
        clips[look] = frames(path)
    return clips


def test_prompt_words_pick_the_look():
    """The first look named in the prompt wins; a prompt naming none gets the default."""
    assert look_for("black and white film noir portrait, Film noir style") == "noir"
    assert look_for("a dreamlike UNDERWATER portrait") == "underwater"
    assert look_for("a portrait") == look_for(None) == DEFAULT_LOOK
    assert set(KEYWORDS) == set(LOOKS)


def test_each_look_has_its_own_palette(rendered):
    """Noir is grey, the western warm, underwater teal, cyberpunk magenta over green."""
    r, g, b = mean_rgb(rendered["noir"][12])
    assert max(r, g, b) - min(r, g, b) < 4
    r, g, b = mean_rgb(rendered["western"][12])
    assert r > g > b and r - b > 40
    r, g, b = mean_rgb(rendered["underwater"][12])
    assert g > r + 20 and b > r + 20
    r, g, b = mean_rgb(rendered["cyberpunk"][12])
    assert r > g and b > g
    middles = {look: mean_rgb(clip[12]) for look, clip in rendered.items()}
    for look, colour in middles.items():  # no two looks are the same picture
        for other, other_colour in middles.items():
            if look < other:
                assert sum(abs(a - b) for a, b in zip(colour, other_colour)) > 12, (look, other)


def test_every_look_moves(rendered):
    for look, clip in rendered.items():
        assert clip[0].tobytes() != clip[-1].tobytes(), look


def test_the_preview_command_writes_a_clip_and_its_poster(tmp_path):
    """What `manage.py render_style_previews` runs for each style."""
    clip, poster = tmp_path / "noir.mp4", tmp_path / "noir.jpg"
    subprocess.run([sys.executable, "-m", "local_provider.preview", "--image", str(SELFIE),
                    "--prompt", "film noir", "--out", str(clip), "--poster", str(poster),
                    "--short-side", "128", "--seconds", "1"], check=True, capture_output=True)
    assert len(frames(clip)) == render.FPS
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"


def test_fast_mode_serves_a_clip_per_look(provider, image_url):
    """Fast mode copies a cached clip, but each look's own: the style still shows."""
    provider.control(mode="fast")
    outputs = {}
    for prompt in ("film noir portrait", "cyberpunk hero"):
        response = provider.http.post("/replicate/v1/predictions", headers=BEARER, json={
            "version": "v1", "input": {"image": image_url, "prompt": prompt}})
        url = f"/replicate/v1/predictions/{response.json()['id']}"
        done = wait_until(lambda url=url: (p := provider.http.get(url, headers=BEARER).json())[
            "status"] in ("succeeded", "failed") and p, timeout=60)
        assert done["status"] == "succeeded", done["error"]
        outputs[prompt] = provider.http.get(done["output"]).content
    assert outputs["film noir portrait"] != outputs["cyberpunk hero"]
