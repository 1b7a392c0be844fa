"""Making text from a capture safe to print: no terminal control sequences get through."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    return _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", str(text))
