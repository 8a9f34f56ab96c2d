"""Screenshot every chart of `dvc plots show` in a headless Chromium, one PNG per Vega chart, offline.

    python scripts/screenshot_plots.py --out /tmp/plot-shots      # needs `chromium` (Debian: apt-get install chromium)

Renders the page with the repository's HTML template (.dvc/config [plots] html_template), splits it into one page
per chart (same head, one chart's <div>) and writes <out>/<chart id>.png; prints one line per chart.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DIV = re.compile(r'\n    <div id = "(?P<id>[^"]*)">.*?\n    </div>\n', re.S)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--browser", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    ap.add_argument("--size", default="1400,900", help="window size W,H")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dvc", "plots", "show", "-o", tmp], check=True, capture_output=True)
        page = (Path(tmp) / "index.html").read_text(encoding="utf-8")
        divs = list(DIV.finditer(page))
        head, tail = page[: page.rindex("<body>", 0, divs[0].start()) + len("<body>")], "\n</body>\n</html>\n"
        for m in divs:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", m["id"])[:120]
            single = Path(tmp) / f"{name}.html"
            single.write_text(head + m.group(0) + tail, encoding="utf-8")
            png = args.out / f"{name}.png"
            subprocess.run(
                [args.browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--virtual-time-budget=10000", f"--window-size={args.size}", f"--screenshot={png}",
                 single.as_uri()],
                check=True,
                capture_output=True,
            )  # fmt: skip
            print(png)


if __name__ == "__main__":
    main()
