"""The looks the renderer can give a clip (palette, texture and camera move), chosen by words in
the prompt, the way a real model follows its prompt: "film noir" comes out black and white."""

from __future__ import annotations

import math
import random
from typing import Callable

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

# name → words that pick it; the first look whose word is in the prompt wins, else DEFAULT_LOOK.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "noir": ("noir", "black and white", "black-and-white"),
    "anime": ("anime", "cel-shaded", "cel shaded"),
    "watercolor": ("watercolor", "watercolour", "storybook"),
    "western": ("western", "golden hour", "golden-hour"),
    "underwater": ("underwater", "ocean", "aquatic"),
    "cyberpunk": ("cyberpunk", "neon"),
}
DEFAULT_LOOK = "cyberpunk"

Size = tuple[int, int]
FrameFn = Callable[[int, int], Image.Image]  # (index, total) → the frame


def look_for(prompt: str | None) -> str:
    """The look a prompt asks for."""
    text = (prompt or "").lower()
    for name, words in KEYWORDS.items():
        if any(word in text for word in words):
            return name
    return DEFAULT_LOOK


def smoothstep(t: float) -> float:
    return t * t * (3 - 2 * t)


def camera(base: Image.Image, zoom: float, dx: float = 0.0, dy: float = 0.0) -> Image.Image:
    """A crop of base zoomed in by zoom (>= 1), moved by dx, dy (fractions of the slack),
    resized back to base's size: every camera move is this."""
    w, h = base.size
    zoom = max(1.0, zoom)
    cw, ch = w / zoom, h / zoom
    left = max(0.0, (w - cw) / 2 * (1 + max(-1.0, min(1.0, dx))))
    top = max(0.0, (h - ch) / 2 * (1 + max(-1.0, min(1.0, dy))))
    return base.resize(base.size, Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))


def vignette(size: Size, floor: int = 70) -> Image.Image:
    """A soft dark border (RGB, for multiply); floor is the darkest corner value."""
    w, h = size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([-w * 0.15, -h * 0.15, w * 1.15, h * 1.15], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(w, h) // 8))
    mask = ImageOps.autocontrast(mask, cutoff=0).point(lambda v: floor + v * (255 - floor) // 255)
    return Image.merge("RGB", [mask] * 3)


def tint(img: Image.Image, black, mid, white, amount: float) -> Image.Image:
    gray = ImageOps.autocontrast(img.convert("L"), cutoff=1)
    return Image.blend(img, ImageOps.colorize(gray, black=black, mid=mid, white=white), amount)


# --- cyberpunk: neon magenta/cyan, scrolling scanlines, glitches, flicker, push-in ------------

def _scanlines(size: Size) -> Image.Image:
    """Dark rows every 3 px, twice as tall as the frame so it can scroll."""
    w, h = size
    lines = Image.new("RGB", (w, h * 2), (255, 255, 255))
    draw = ImageDraw.Draw(lines)
    for y in range(0, h * 2, 3):
        draw.line([(0, y), (w, y)], fill=(170, 170, 185))
    return lines


def _glitch(frame: Image.Image, rnd: random.Random) -> Image.Image:
    """RGB split plus a few horizontally displaced slices."""
    r, g, b = frame.split()
    dx = rnd.randint(4, 14)
    frame = Image.merge("RGB", (ImageChops.offset(r, dx, 0), g, ImageChops.offset(b, -dx, 0)))
    w, h = frame.size
    for _ in range(rnd.randint(2, 5)):
        top = rnd.randrange(0, h - 8)
        band = frame.crop((0, top, w, top + rnd.randint(4, 24)))
        frame.paste(ImageChops.offset(band, rnd.randint(-40, 40), 0), (0, top))
    return frame


def cyberpunk(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    graded = tint(src, (12, 0, 30), (230, 0, 170), (40, 255, 255), 0.62)
    base = ImageEnhance.Color(ImageEnhance.Contrast(graded).enhance(1.25)).enhance(1.35)
    shade, scan = vignette(src.size), _scanlines(src.size)
    w, h = src.size
    glitches = {f for f in range(total) if rnd.random() < 0.09}

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        out = camera(base, 1.0 + 0.14 * smoothstep(t), dy=-0.2)  # push-in, a little high
        offset = (index * 2) % h
        out = ImageChops.multiply(out, scan.crop((0, offset, w, offset + h)))
        out = ImageChops.multiply(out, shade)
        if index in glitches:
            out = _glitch(out, rnd)
        if index % 12 == 0:  # neon flicker
            out = ImageEnhance.Brightness(out).enhance(1.0 + rnd.uniform(-0.12, 0.18))
        return out
    return frame


# --- noir: black and white, venetian-blind shadows sliding down, grain, slow pan --------------

def noir(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    gray = ImageOps.autocontrast(src.convert("L"), cutoff=2)
    base = ImageEnhance.Contrast(gray).enhance(1.5).convert("RGB")
    w, h = src.size
    blinds = Image.new("L", (w * 2, h * 2), 255)
    draw = ImageDraw.Draw(blinds)
    step = max(12, h // 14)
    for y in range(-w * 2, h * 2, step):  # diagonal slats of shadow
        draw.polygon([(0, y), (w * 2, y + w), (w * 2, y + w + step // 2), (0, y + step // 2)],
                     fill=120)
    blinds = blinds.filter(ImageFilter.GaussianBlur(3))
    shade = vignette(src.size, floor=20)

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        out = camera(base, 1.12, dx=-0.8 + 1.6 * smoothstep(t))  # left to right
        offset = int(t * step * 2)
        light = blinds.crop((w // 2, offset, w // 2 + w, offset + h))
        out = ImageChops.multiply(out, Image.merge("RGB", [light] * 3))
        out = ImageChops.multiply(out, shade)
        grain = Image.effect_noise((w, h), 18).point(lambda v: 128 + (v - 128) // 3)
        return ImageChops.overlay(out, Image.merge("RGB", [grain] * 3))
    return frame


# --- anime: flat cel colours, ink outlines, a zoom punch, spinning speed lines -----------------

def _speed_lines(size: Size, rnd: random.Random, count: int = 70) -> Image.Image:
    """White rays from outside a clear centre, as an "L" alpha mask."""
    w, h = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    cx, cy, reach = w / 2, h * 0.42, math.hypot(w, h)
    for _ in range(count):
        angle = rnd.uniform(0, 2 * math.pi)
        inner = reach * rnd.uniform(0.3, 0.42)
        spread = rnd.uniform(0.006, 0.02)
        points = [(cx + math.cos(angle) * inner, cy + math.sin(angle) * inner),
                  (cx + math.cos(angle - spread) * reach, cy + math.sin(angle - spread) * reach),
                  (cx + math.cos(angle + spread) * reach, cy + math.sin(angle + spread) * reach)]
        draw.polygon(points, fill=rnd.randint(190, 255))
    return mask


def anime(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    smooth = src.filter(ImageFilter.ModeFilter(5)).filter(ImageFilter.SMOOTH_MORE)
    flat = ImageOps.posterize(ImageEnhance.Color(smooth).enhance(1.7), 3)
    flat = ImageEnhance.Brightness(flat).enhance(1.12)
    # Ink only where the smoothed picture has strong edges; a median drops the lone speckles.
    edges = smooth.convert("L").filter(ImageFilter.GaussianBlur(1)).filter(ImageFilter.FIND_EDGES)
    edges = edges.point(lambda v: 0 if v > 22 else 255).filter(ImageFilter.MedianFilter(3))
    base = ImageChops.multiply(flat, Image.merge("RGB", [edges] * 3))
    lines = [_speed_lines(src.size, rnd) for _ in range(3)]
    white = Image.new("RGB", src.size, (255, 255, 255))

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        punch = 1 - (1 - min(1.0, t / 0.35)) ** 3  # fast ease-out zoom in the first third
        out = camera(base, 1.0 + 0.22 * punch, dy=-0.25)
        if t < 0.6:  # speed lines while the camera rushes in, then a calm hold
            out = Image.composite(white, out, lines[(index // 2) % len(lines)])
        return out
    return frame


# --- watercolor: soft washes, pencil lines, paper grain, a gentle sway -------------------------

def watercolor(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    wash = src.filter(ImageFilter.ModeFilter(7)).filter(ImageFilter.GaussianBlur(2))
    wash = ImageOps.posterize(ImageEnhance.Color(wash).enhance(1.2), 4)
    paper_tone = Image.new("RGB", src.size, (246, 238, 222))
    wash = Image.blend(wash, paper_tone, 0.38)
    pencil = src.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 - min(255, v * 2))
    pencil = pencil.filter(ImageFilter.GaussianBlur(0.6)).point(lambda v: 110 + v * 145 // 255)
    paper = Image.effect_noise(src.size, 30).filter(ImageFilter.GaussianBlur(1.2))
    paper = paper.point(lambda v: 215 + (v - 128) // 6)
    base = ImageChops.multiply(wash, Image.merge("RGB", [pencil] * 3))
    base = ImageChops.multiply(base, Image.merge("RGB", [paper] * 3))
    glow = ImageOps.invert(vignette(src.size, floor=150))  # a pale, bleached edge

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        sway = math.sin(2 * math.pi * t)
        out = camera(base, 1.08, dx=0.6 * sway, dy=0.3 * math.cos(2 * math.pi * t))
        return ImageChops.screen(out, glow)
    return frame


# --- western: warm golden grade, a pulsing sun flare, drifting dust, a slow pull-out ------------

def western(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    warm = tint(src, (40, 18, 6), (214, 124, 48), (255, 236, 190), 0.7)
    base = ImageEnhance.Contrast(warm).enhance(1.15)
    w, h = src.size
    flare = Image.new("L", src.size, 0)
    cx, cy, r = w * 0.85, h * 0.1, max(w, h) * 0.45
    ImageDraw.Draw(flare).ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    flare = flare.filter(ImageFilter.GaussianBlur(r / 2.5))
    flare_rgb = ImageOps.colorize(flare, black=(0, 0, 0), white=(255, 190, 90))
    shade = vignette(src.size, floor=60)
    dust = [(rnd.uniform(0, w), rnd.uniform(0, h), rnd.uniform(0.8, 2.2), rnd.uniform(0.5, 2.0))
            for _ in range(45)]

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        out = camera(base, 1.16 - 0.16 * smoothstep(t), dy=-0.3)  # pull out
        pulse = 0.55 + 0.25 * math.sin(2 * math.pi * t * 1.5)
        out = ImageChops.screen(out, ImageEnhance.Brightness(flare_rgb).enhance(pulse))
        out = ImageChops.multiply(out, shade)
        draw = ImageDraw.Draw(out)
        for x, y, radius, speed in dust:
            px, py = (x + index * speed * 1.6) % w, (y - index * speed * 0.5) % h
            draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=(255, 226, 170))
        return out
    return frame


# --- underwater: teal depths, wavy refraction, sliding caustics, rising bubbles ----------------

def underwater(src: Image.Image, rnd: random.Random, total: int) -> FrameFn:
    base = tint(src, (0, 14, 36), (0, 118, 150), (170, 255, 240), 0.68)
    w, h = src.size
    ripples = Image.effect_noise((w * 2 // 8, h * 2 // 8), 64).resize((w * 2, h * 2),
                                                                         Image.Resampling.BICUBIC)
    caustics = ripples.filter(ImageFilter.FIND_EDGES).point(lambda v: min(255, v * 5))
    caustics = caustics.filter(ImageFilter.GaussianBlur(2))
    caustics = ImageOps.colorize(caustics, black=(0, 0, 0), white=(120, 255, 230))
    shade = vignette(src.size, floor=40)
    bubbles = [(rnd.uniform(0, w), rnd.uniform(0, h), rnd.uniform(2, 7), rnd.uniform(1.5, 4))
               for _ in range(18)]
    strip = 8

    def frame(index: int, total: int) -> Image.Image:
        t = index / max(1, total - 1)
        still = camera(base, 1.1, dy=0.5 - smoothstep(t))  # drift upwards
        out = still.copy()
        for top in range(0, h, strip):  # refraction: each band of rows sways sideways
            shift = int(6 * math.sin(top / 38 + 2 * math.pi * t * 2))
            out.paste(ImageChops.offset(still.crop((0, top, w, top + strip)), shift, 0), (0, top))
        ox, oy = int(t * w * 0.5), int(t * h * 0.3)
        light = ImageEnhance.Brightness(caustics.crop((ox, oy, ox + w, oy + h))).enhance(0.5)
        out = ImageChops.multiply(ImageChops.screen(out, light), shade)
        draw = ImageDraw.Draw(out)
        for x, y, radius, speed in bubbles:
            py = (y - index * speed) % (h + 20) - 10
            px = x + 4 * math.sin(index / 6 + x)
            draw.ellipse([px - radius, py - radius, px + radius, py + radius],
                         outline=(200, 255, 250), width=1)
        return out
    return frame


LOOKS: dict[str, Callable[[Image.Image, random.Random, int], FrameFn]] = {
    "cyberpunk": cyberpunk, "noir": noir, "anime": anime, "watercolor": watercolor,
    "western": western, "underwater": underwater,
}
