"""Print how large the comparison views are (table columns, rows, widest line in characters) in the current
DVC repository: `dvc metrics show`, `dvc metrics diff <rev> --all`, and the `dvc exp show` views the README
proposes.  Usage: python scripts/view_sizes.py [REV]  (REV for the metrics diff; default HEAD)."""

import csv
import io
import os
import subprocess
import sys

META = {"rev", "typ", "parent", "State", "Executor"}  # CSV-only columns of `dvc exp show`
KEEP = r"Experiment|delta_k|delta_uk|(idk_it|ca_dpo)\.(in_domain|ood)\.s_trust$"


def dvc(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "100000"}  # no wrapping: the natural width of each table
    return subprocess.run(["dvc", *args], capture_output=True, text=True, check=True, env=env).stdout


def widest(text: str) -> int:
    return max((len(line.rstrip()) for line in text.splitlines()), default=0)


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    rows = []
    md = [line for line in dvc("metrics", "show", "--md").splitlines() if line.strip()]
    rows.append(("dvc metrics show", md[0].count("|") - 1, len(md) - 2, widest(dvc("metrics", "show"))))
    diff = [line for line in dvc("metrics", "diff", rev, "--all", "--md").splitlines() if line.strip()]
    rows.append(
        (f"dvc metrics diff {rev} --all", 5, max(len(diff) - 2, 0), widest(dvc("metrics", "diff", rev, "--all")))
    )
    for view in ([], ["--only-changed"], ["--only-changed", "--drop", ".*/"], ["--drop", ".*", "--keep", KEEP]):
        table = list(csv.reader(io.StringIO(dvc("exp", "show", "--no-pager", "--csv", *view))))
        shown = [c for c in table[0] if c not in META]
        text = dvc("exp", "show", "--no-pager", *view)
        rows.append(
            (
                " ".join(["dvc exp show", *(f"'{v}'" if v.startswith((".", "E")) else v for v in view)]),
                len(shown),
                len(table) - 1,
                widest(text),
            )
        )
    body = [[f"`{name}`", str(cols), str(n), str(w)] for name, cols, n, w in rows]
    print("\n".join(table(["view", "columns", "rows", "widest line (characters)"], body, spaced=True)))


if __name__ == "__main__":
    main()
