"""Chat messages in the OpenAI format (plain dicts): what the LLM client sends, built without it, so that code
which only formats messages does not depend on :mod:`inbol.llm` (re-exported there)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path


def image_data_url(image_path: str | Path) -> str:
    """``data:<mime>;base64,...`` for an image file (PNG unless the suffix says otherwise)."""
    path = Path(image_path)
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    if not mime.startswith("image/"):
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def image_message(text: str, image_path: str | Path | None) -> dict:
    """A user message in the OpenAI vision format: the image (as a data URL) first, then the text."""
    if image_path is None:
        return user_message(text)
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": image_data_url(image_path)}},
            {"type": "text", "text": text},
        ],
    }


def user_message(text: str) -> dict:
    return {"role": "user", "content": text}


def system_message(text: str) -> dict:
    return {"role": "system", "content": text}
