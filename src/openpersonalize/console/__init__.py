"""The browser console (issue 12): server-rendered pages over the same operations the API serves.

``build_console`` returns the ASGI app api/app.py routes ``/console/...`` (and ``GET /``) to; ``is_console_path``
says which requests those are.
"""

from .app import Call, is_console_path
from .site import build_console

__all__ = ["Call", "build_console", "is_console_path"]
