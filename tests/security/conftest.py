"""The security suite's fixtures (defined in _sandbox.py beside the helpers they use)."""

from ._sandbox import sandbox, trained

__all__ = ["sandbox", "trained"]
