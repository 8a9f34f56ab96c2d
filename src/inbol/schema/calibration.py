"""The ``calibration`` section: the miniature stage's calibration check."""

from __future__ import annotations

from .core import Float, Section, UniqueList


class Calibration(Section):
    """The miniature stage's calibration check (validation sets): the sampling temperatures compared."""

    temperatures: UniqueList(Float(0.0, 2.0, lo_open=True))
