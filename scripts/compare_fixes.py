"""Compare the options that aim CA-DPO's refusals at what the original model does not know, on validation only.

In a copy of the repository (the checkout is left as it is), with a profile applied, the script trains IDK-IT and
CA-DPO once per option and evaluates them on the validation sets (the `evaluate_val` stages), all with the same
budget (the same set sizes, hence the same training steps), then prints one table: in-domain validation S_trust,
RefR and Acc, the refusal rate on answerable in-domain questions the original model knows (conf > --hi) and does
not know (conf <= --lo), each with a 95% bootstrap CI over questions and seeds, and S_trust's paired difference
to the baseline.  The test sets are never read: choose on this table, then report the test tables once.

Options (each on its own, and ``all`` of them together):

- ``baseline``: the parameters as they are;
- ``known_disjoint``: ``preference.known_disjoint: true`` (CA-DPO's Known questions not in IDK-IT's set);
- ``sft_weight``: ``ca_dpo.sft_weight: --sft-weight`` (an NLL term on the chosen responses, RPO);
- ``intrinsic``: ``idk_it.unknown_extrinsic_share`` and ``preference.unknown_extrinsic_share`` = --extrinsic-share
  (more of the refusals on answerable questions the original model does not know).

The disjoint draw needs enough Known questions outside IDK-IT's set; with ``--preference-size auto`` (default)
every option trains on the largest CA-DPO set up to ``preference.size`` that the disjoint draw allows for every
seed (read from the baseline's construct metrics), so that the budgets stay equal.

    python scripts/compare_fixes.py                               # the embedded default (the whole pipeline)
    python scripts/compare_fixes.py --profile configs/smoke.yaml --options baseline,known_disjoint,sft_weight
    python scripts/compare_fixes.py --dir /tmp/fixes --out compare_fixes.json

The copy (``--dir``, default a new temporary folder) keeps every option's validation predictions, construct and
training metrics under ``compare_fixes/<option>/``; run again with the same ``--dir`` to go on after an
interruption: an option already finished with the same changes is reused as it is, and every option runs on
the copy's base parameters (written back before each one and at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from inbol.compare_options import (
    BASE,
    MODELS,
    OPTIONS,
    auto_size,
    base_params,
    merge,
    overrides,
    run_options,
    summarise,
    table,
)
from inbol.compare_options import in_domain_sets as sets_of
from inbol.errors import DataError, ParamError, run_stage
from inbol.profiles import copy_project

ROOT = Path(__file__).resolve().parents[1]


def dvc_runner(copy_dir: Path):
    """``run(*args)``: ``dvc *args`` in the copy (its src/ first on the path); a DataError when it fails."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(copy_dir / "src"), os.environ.get("PYTHONPATH")])),
    }

    def run(*args: str) -> None:
        print(f"$ dvc {' '.join(args)}  (in {copy_dir})", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, "-m", "dvc", *args], cwd=copy_dir, env=env).returncode != 0:
            raise DataError(f"`dvc {' '.join(args)}` failed in {copy_dir} (its output is above)")

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="params.yaml", help="a profile of configs/ (default: params.yaml as it is)")
    ap.add_argument("--dir", help="the copy's folder (new or empty; default: a new temporary folder)")
    ap.add_argument("--options", default=",".join(OPTIONS), help=f"comma-separated, of {', '.join(OPTIONS)}")
    ap.add_argument("--sft-weight", type=float, default=1.0, help="ca_dpo.sft_weight of the sft_weight option")
    ap.add_argument("--extrinsic-share", type=float, default=0.3, help="unknown_extrinsic_share of `intrinsic`")
    ap.add_argument("--preference-size", default="auto", help="auto, or a number every option uses")
    ap.add_argument("--hi", type=float, default=0.8, help="'known': original confidence > hi")
    ap.add_argument("--lo", type=float, default=0.2, help="'unknown': original confidence <= lo")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", help="also write the table's numbers as JSON here")
    args = ap.parse_args()
    options = [o.strip() for o in args.options.split(",") if o.strip()]
    bad = [o for o in options if o not in OPTIONS]
    if bad or not options:
        raise ParamError(f"--options {args.options!r}: allowed: {', '.join(OPTIONS)}")
    if args.sft_weight < 0:
        raise ParamError(f"--sft-weight = {args.sft_weight}: must be >= 0")
    if not 0.0 <= args.extrinsic_share <= 1.0:
        raise ParamError(f"--extrinsic-share = {args.extrinsic_share}: must be in [0, 1]")
    if args.preference_size != "auto" and not (args.preference_size.isdigit() and int(args.preference_size) > 0):
        raise ParamError(f"--preference-size = {args.preference_size!r}: must be auto or an integer >= 1")
    if "baseline" not in options:
        options.insert(0, "baseline")  # every difference is against it

    dest = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="inbol-fixes-"))
    saved = dest / BASE
    if saved.is_file():  # a copy made by an earlier run: go on there
        print(f"reusing the copy in {dest} (its profile, not --profile)", file=sys.stderr)
    else:
        copy_project(ROOT, dest, args.profile)  # checks the profile; the checkout is not written
        saved.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest / "params.yaml", saved)
    params = base_params(dest)
    seeds = list(params["seeds"])
    run = dvc_runner(dest)
    size = int(params["preference"]["size"])
    if args.preference_size != "auto":
        size = int(args.preference_size)
    elif any(o in ("known_disjoint", "all") for o in options):
        try:
            size = auto_size(dest, run)
        except DataError as e:  # e.g. a tiny profile: IDK-IT takes every Known question
            print(f"skipping known_disjoint and all: {e}", file=sys.stderr)
            options = [o for o in options if o not in ("known_disjoint", "all")]
    print(f"every option: preference.size = {size}, idk_it.size = {params['idk_it']['size']}", file=sys.stderr)

    changes = {
        o: merge({"preference": {"size": size}}, overrides(o, args.sft_weight, args.extrinsic_share)) for o in options
    }
    kept = run_options(dest, changes, seeds, run)
    sets = sets_of(kept["baseline"], seeds[0])
    results: dict[str, dict] = {}
    for option, keep in kept.items():
        base = None if option == "baseline" else {m: results["baseline"][m]["_matrices"] for m in MODELS}
        results[option] = summarise(keep, seeds, sets, args.hi, args.lo, args.n_boot, base)
        results[option]["changes"] = changes[option]

    print(table(results, sets, seeds, size, args.hi, args.lo))
    print(f"\n(predictions and metrics per option: {dest / 'compare_fixes'})", file=sys.stderr)
    if args.out:
        clean = {
            o: {k: ({kk: vv for kk, vv in v.items() if kk != "_matrices"} if k in MODELS else v) for k, v in r.items()}
            for o, r in results.items()
        }
        Path(args.out).write_text(json.dumps({"preference_size": size, "seeds": seeds, "options": clean}, indent=1))


if __name__ == "__main__":
    run_stage(main)
