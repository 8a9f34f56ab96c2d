"""The project's error types, the stage runner that turns them into one line and an exit code, and the
parsing of a stage's command line (the pipeline owns the paths: dvc.yaml passes them as options).

- :class:`ParamError`: a parameter of params.yaml is missing, misspelt or outside what is allowed;
- :class:`DataError`: input data is malformed or incomplete;
- :class:`LLMError`: an LLM endpoint failed for good (after its retries).

Each carries a one-line message (a ParamError naming several problems: one line each).  :func:`run_stage`
prints each line as ``error: <line>`` on stderr and exits
with :data:`EXIT_BAD_INPUT` (2) or :data:`EXIT_LLM_FAILED` (3); outputs are written atomically
(:mod:`inbol.io`), so a failed stage leaves the earlier ones as they were.
"""

from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2  # a ParamError / DataError: fix params.yaml or the inputs
EXIT_LLM_FAILED = 3  # an LLM endpoint failed for good (after its retries): try again later


class ParamError(ValueError):
    """A parameter has a value outside what is allowed (one line per problem: every problem of a params
    file is named at once)."""

    @property
    def lines(self) -> list[str]:
        return str(self).splitlines()

    def prefixed(self, prefix: str) -> ParamError:
        """The same problems, each line starting with ``prefix`` (e.g. the profile's path)."""
        return ParamError("\n".join(prefix + line for line in self.lines))


class DataError(ValueError):
    """Input data is malformed or incomplete (one-line message)."""


class LLMError(RuntimeError):
    """An LLM call failed for good (one-line message: what, status, url, model)."""


def run_stage(main) -> None:
    """Run a stage's ``main()``; a ParamError/DataError becomes one line on stderr per problem and exit
    code 2, an LLMError one line and exit code 3."""
    try:
        main()
    except (ParamError, DataError) as e:
        for line in str(e).splitlines() or [""]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except LLMError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_LLM_FAILED)


def stage_args(doc: str | None, *options: str, argv: list[str] | None = None, **typed) -> argparse.Namespace:
    """A stage's command line: each of ``options`` is a required ``--name`` string (a path, usually;
    ``name_x`` is spelled ``--name-x``), each ``typed`` keyword a required option of that type, e.g.
    ``stage_args(__doc__, "world", "out", seed=int)`` for ``--world DIR --out DIR --seed N``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in options:
        ap.add_argument("--" + name.replace("_", "-"), dest=name, required=True)
    for name, tp in typed.items():
        ap.add_argument("--" + name.replace("_", "-"), dest=name, required=True, type=tp)
    return ap.parse_args(argv)


__all__ = ["ParamError", "DataError", "LLMError", "run_stage", "stage_args", "EXIT_BAD_INPUT", "EXIT_LLM_FAILED"]
