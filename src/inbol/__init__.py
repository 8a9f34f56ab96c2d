"""InBoL: Information Boundary-aware Learning, reproduced as a DVC pipeline."""

__version__ = "0.1.0"
