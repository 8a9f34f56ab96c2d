"""Scenes of coloured shapes on a 3x3 grid, their scene graphs, and deterministic rendering.

A scene graph is a plain dict (JSON-serialisable) so that it can be written next to the images and
read back by other stages (the unanswerable-question oracle, tests):

    {"id": ..., "size": 32, "background": [r,g,b], "difficulty": 0.4, "noise": 0.07,
     "objects": [{"shape": "circle", "color": "red", "size": "small", "col": 0, "row": 2,
                  "occluded": false}, ...],
     "emblem": null | {"id": 3, "name": "Kalo", "color": "blue", "cx": 15.0, "cy": 17.0, "scale": 0.5},
     "specks": [[x, y, r, g, b], ...], "occluder": null | [x0, y0, x1, y1], "degraded": null | "blank"|"blur"|"dark"}
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle", "diamond", "cross")
COLORS = {
    "red": (215, 45, 40),
    "green": (50, 175, 65),
    "blue": (55, 95, 230),
    "yellow": (230, 215, 45),
    "purple": (150, 65, 205),
    "orange": (240, 140, 30),
    "gray": (150, 150, 150),
}
COLOR_NAMES = tuple(COLORS)
SIZES = ("small", "large")
COLUMNS = ("left", "middle", "right")
ROWS = ("top", "middle", "bottom")
GRID = 3


def cell_center(col: int, row: int, size: int) -> tuple[float, float]:
    cell = size / GRID
    return (col + 0.5) * cell, (row + 0.5) * cell


def object_radius(obj_size: str, size: int) -> float:
    cell = size / GRID
    return cell * (0.32 if obj_size == "small" else 0.48)


def sample_scene(
    rng: np.random.Generator, scene_id: str, size: int, n_objects: tuple[int, int], difficulty: float, knobs: dict
) -> dict:
    """Sample a scene with ``n_objects`` (inclusive range) shapes of distinct shape.

    ``difficulty`` in [0, 1] scales the difficulty knobs: Gaussian ``noise`` (max std as a fraction
    of 255), probability of ``clutter`` specks and of an ``occlusion`` bar over one object.
    """
    n = int(rng.integers(n_objects[0], n_objects[1] + 1))
    n = min(n, len(SHAPES), GRID * GRID)
    cells = rng.permutation(GRID * GRID)[:n]
    shapes = rng.permutation(len(SHAPES))[:n]
    objects = []
    for cell, shape in zip(cells, shapes):
        objects.append(
            {
                "shape": SHAPES[int(shape)],
                "color": COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))],
                "size": SIZES[int(rng.integers(2))],
                "col": int(cell % GRID),
                "row": int(cell // GRID),
                "occluded": False,
            }
        )
    scene = {
        "id": scene_id,
        "size": size,
        "difficulty": round(float(difficulty), 4),
        "background": [int(v) for v in rng.integers(0, 45, size=3)],
        "objects": objects,
        "emblem": None,
        "specks": [],
        "occluder": None,
        "degraded": None,
        "noise": round(float(difficulty * knobs.get("noise", 0.0) * rng.uniform(0.5, 1.0)), 4),
    }
    if rng.random() < difficulty * knobs.get("clutter", 0.0):
        for _ in range(int(rng.integers(2, 6))):
            x, y = (int(v) for v in rng.integers(0, size, size=2))
            c = [int(v) for v in rng.integers(60, 256, size=3)]
            scene["specks"].append([x, y, *c])
    if objects and rng.random() < difficulty * knobs.get("occlusion", 0.0):
        k = int(rng.integers(len(objects)))
        scene["occluder"] = occluder_box(objects[k], size, rng)
        objects[k]["occluded"] = True
    return scene


def occluder_box(obj: dict, size: int, rng: np.random.Generator, frac: float | None = None) -> list[int]:
    """A dark bar covering part of ``obj`` (``frac`` of its width, 40-70% when None)."""
    cx, cy = cell_center(obj["col"], obj["row"], size)
    r = object_radius(obj["size"], size)
    frac = float(rng.uniform(0.4, 0.7)) if frac is None else frac
    x0 = int(round(cx - r - 1))
    x1 = int(round(cx - r + 2 * r * frac))
    return [x0, int(round(cy - r - 1)), x1, int(round(cy + r + 1))]


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if shape == "square":
        s = r * 0.85
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "cross":
        t = r * 0.38
        return [
            (cx - t, cy - r),
            (cx + t, cy - r),
            (cx + t, cy - t),
            (cx + r, cy - t),
            (cx + r, cy + t),
            (cx + t, cy + t),
            (cx + t, cy + r),
            (cx - t, cy + r),
            (cx - t, cy + t),
            (cx - r, cy + t),
            (cx - r, cy - t),
            (cx - t, cy - t),
        ]
    return None


def draw_glyph(
    draw: ImageDraw.ImageDraw, glyph: list[list[int]], cx: float, cy: float, extent: float, color: tuple[int, int, int]
) -> None:
    n = len(glyph)
    cell = extent / n
    x0, y0 = cx - extent / 2, cy - extent / 2
    for i, row in enumerate(glyph):
        for j, bit in enumerate(row):
            if bit:
                draw.rectangle(
                    [x0 + j * cell, y0 + i * cell, x0 + (j + 1) * cell - 1, y0 + (i + 1) * cell - 1], fill=color
                )


def render(scene: dict, glyphs: dict[int, list[list[int]]] | None = None) -> Image.Image:
    """Render a scene graph to an RGB image; the same scene always gives the same pixels."""
    size = scene["size"]
    img = Image.new("RGB", (size, size), tuple(scene["background"]))
    draw = ImageDraw.Draw(img)
    for obj in scene["objects"]:
        cx, cy = cell_center(obj["col"], obj["row"], size)
        r = object_radius(obj["size"], size)
        color = COLORS[obj["color"]]
        poly = _polygon(obj["shape"], cx, cy, r)
        if poly is None:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        else:
            draw.polygon(poly, fill=color)
    emblem = scene.get("emblem")
    if emblem is not None:
        if glyphs is None or emblem["id"] not in glyphs:
            raise ValueError(f"scene {scene['id']}: emblem {emblem['id']} needs its glyph to render")
        draw_glyph(
            draw, glyphs[emblem["id"]], emblem["cx"], emblem["cy"], size * emblem["scale"], COLORS[emblem["color"]]
        )
    for x, y, *c in scene["specks"]:
        draw.rectangle([x, y, x + 1, y + 1], fill=tuple(c))
    if scene.get("occluder"):
        draw.rectangle(scene["occluder"], fill=(30, 30, 30))
    degraded = scene.get("degraded")
    if degraded == "blur":
        img = img.filter(ImageFilter.GaussianBlur(radius=size / 10))
    elif degraded == "dark":
        img = Image.eval(img, lambda v: v // 10)
    elif degraded == "blank":
        img = Image.new("RGB", (size, size), tuple(scene["background"]))
    if scene["noise"] > 0:
        # noise is a pure function of the scene id, so re-rendering is byte-identical
        seed = int.from_bytes(hashlib.sha256(scene["id"].encode()).digest()[:8], "little")
        noise_rng = np.random.default_rng(seed)
        arr = np.asarray(img, dtype=np.float32)
        arr = arr + noise_rng.normal(0.0, scene["noise"] * 255.0, size=arr.shape)
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
    return img
