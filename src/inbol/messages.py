"""Chat messages in the OpenAI format (plain dicts): what the LLM client sends, built without it, so that code
which only formats messages does not depend on :mod:`inbol.llm` (re-exported there)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path


def expand2square(image, fill: tuple[int, ...]):
    """``image`` centred on a square of colour ``fill`` (LLaVA-1.5's ``expand2square``; the same pixels as
    transformers' ``LlavaImageProcessor(do_pad=True)``); a square image is returned as it is."""
    from PIL import Image

    w, h = image.size
    if w == h:
        return image
    side = max(w, h)
    out = Image.new(image.mode, (side, side), tuple(fill))
    out.paste(image, ((side - w) // 2, (side - h) // 2))
    return out


def image_data_url(image_path: str | Path, pad: tuple[int, ...] | None = None) -> str:
    """``data:<mime>;base64,...`` for an image file (PNG unless the suffix says otherwise).  With ``pad`` (an
    RGB colour) a non-square image is sent padded to a square (:func:`expand2square`, RGB, as PNG), so that a
    server whose processor centre-crops sees the padded image of the in-process path; the file's own bytes
    otherwise."""
    path = Path(image_path)
    if pad is not None:
        import io

        from PIL import Image

        with Image.open(path) as im:
            if im.width != im.height:
                buf = io.BytesIO()
                expand2square(im.convert("RGB"), pad).save(buf, format="PNG")
                return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    if not mime.startswith("image/"):
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def image_message(text: str, image_path: str | Path | None, pad: tuple[int, ...] | None = None) -> dict:
    """A user message in the OpenAI vision format: the image (as a data URL, padded to a square with ``pad``
    when given, see :func:`image_data_url`) first, then the text."""
    if image_path is None:
        return user_message(text)
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": image_data_url(image_path, pad)}},
            {"type": "text", "text": text},
        ],
    }


def user_message(text: str) -> dict:
    return {"role": "user", "content": text}


def system_message(text: str) -> dict:
    return {"role": "system", "content": text}
