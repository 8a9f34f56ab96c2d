"""Build .dvc/plots/offline.html: the HTML page `dvc plots show` / `dvc plots diff` fill, with Vega, Vega-Lite and
vega-embed inlined, so the charts draw without a network (DVC's own page loads them from a CDN).

    python scripts/build_plots_template.py            # needs `npm` and the npm registry
    python scripts/build_plots_template.py --check    # exit 1 if the committed page differs from a fresh build

The versions are the ones dvc-render's own page loads (dvc_render.vega.VegaRenderer.SCRIPTS): its specs are
Vega-Lite 5 and it embeds them with vega-embed 6 on Vega 5.  .dvc/config points DVC at the page
(`[plots] html_template = plots/offline.html`, relative to .dvc/).  The page has no `{scripts}` placeholder: DVC
puts its CDN <script> tags there, so leaving it out keeps them out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".dvc" / "plots" / "offline.html"

# (npm package, pinned version, file inside the package): the order they must load in
PACKAGES = (
    ("vega", "5.20.2", "build/vega.min.js"),
    ("vega-lite", "5.2.0", "build/vega-lite.min.js"),
    ("vega-embed", "6.18.2", "build/vega-embed.min.js"),
)
# DVC's page placeholders (dvc_render.html.HTML): the libraries must not contain them, {scripts} must stay out
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
    <!-- Built by scripts/build_plots_template.py from the npm packages {versions}; nothing is loaded from the
         network. -->
{libraries}
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def npm_file(workdir: Path, name: str, version: str, member: str) -> str:
    """``member`` of the npm package ``name@version`` (fetched with ``npm pack``), as text."""
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    tgz = workdir / out[-1]
    with tarfile.open(tgz) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
        if meta["version"] != version:
            raise SystemExit(f"{tgz.name}: version {meta['version']}, expected {version}")
        return tar.extractfile(f"package/{member}").read().decode("utf-8")


def build() -> str:
    blocks, versions = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, member in PACKAGES:
            js = npm_file(Path(tmp), name, version, member)
            for p in PLACEHOLDERS:
                if p in js:
                    raise SystemExit(f"{name}@{version}/{member} contains {p!r}: DVC would replace it")
            js = js.replace("</script", "<\\/script")
            sha = hashlib.sha256(js.encode()).hexdigest()[:16]
            blocks.append(
                f'    <script type="text/javascript">/* {name}@{version} {member} sha256:{sha} */\n{js}\n    </script>'
            )
            versions.append(f"{name}@{version}")
    page = PAGE.replace("{libraries}", "\n".join(blocks)).replace("{versions}", ", ".join(versions))
    if "{scripts}" in page:
        raise SystemExit("the page must not contain {scripts}: DVC would put its CDN scripts there")
    return page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed page instead of writing it")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    page = build()
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == page
        print(f"{args.out}: {'up to date' if same else 'differs from a fresh build'}")
        sys.exit(0 if same else 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"{args.out}: {len(page.encode()) / 1024:.0f} KiB ({', '.join(f'{n}@{v}' for n, v, _ in PACKAGES)})")


if __name__ == "__main__":
    main()
