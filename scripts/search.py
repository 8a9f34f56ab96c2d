"""The hyper-parameter search on the validation sets (inbol.search): trains every configuration of
configs/search/grid.yaml once, evaluates it on data/valsets, writes metrics/search.json and docs/search.md, and
prints the winners to copy into params.yaml.  Needs the DAG's outputs up to `construct` and `testsets`
(`dvc repro construct testsets`).

    python scripts/search.py [--grid configs/search/grid.yaml] [--work /tmp/search]
"""

import argparse
import tempfile
from pathlib import Path

from inbol.errors import run_stage
from inbol.io import write_json
from inbol.params import load_params, read_yaml
from inbol.search import markdown, run_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", default="configs/search/grid.yaml")
    ap.add_argument("--work", default=None, help="where the searched models go (default: a temporary folder)")
    ap.add_argument("--out", default="metrics/search.json")
    ap.add_argument("--doc", default="docs/search.md")
    args = ap.parse_args()
    p = load_params()
    grid = read_yaml(args.grid)
    seed = int(grid.get("seed", 0))
    with tempfile.TemporaryDirectory() as tmp:
        results, chosen = run_search(
            p,
            grid,
            constructed=f"data/constructed/s{seed}",
            base_model="models/base",
            valsets_dir="data/valsets",
            work=args.work or tmp,
        )
    write_json(args.out, {"seed": seed, "grid": grid, "results": results, "chosen": chosen})
    Path(args.doc).write_text(markdown(results, chosen, seed, float(grid.get("min_family_acc", 0))))
    for m, c in chosen.items():
        print(f"{m}: chosen {c}")


if __name__ == "__main__":
    run_stage(main)
