"""Stage `check_params`: validate the whole params.yaml (every section, every key) before anything runs.

It depends on all of params.yaml, so it re-runs on any change, also one that no other stage tracks (a
misspelt key added by `dvc exp run -S idk_it.known_raito=0.5`), and fails with one line naming the key.
Its output holds only the schema version, so a valid change re-runs nothing downstream.
"""

from inbol.errors import run_stage, stage_args
from inbol.io import write_json
from inbol.params import SCHEMA_VERSION, load_params


def main() -> None:
    args = stage_args(__doc__, "out")
    load_params()
    write_json(args.out, {"params_schema": SCHEMA_VERSION})


if __name__ == "__main__":
    run_stage(main)
