"""Run the stage script ``$STAGE_ARGV`` (a JSON list: script, then its arguments) as ``__main__``: how the tests
hand a stage's argv to a launcher (torchrun) that would otherwise parse the stage's options as its own."""

import json
import os
import runpy
import sys

if __name__ == "__main__":
    sys.argv = json.loads(os.environ["STAGE_ARGV"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
    runpy.run_path(sys.argv[0], run_name="__main__")
