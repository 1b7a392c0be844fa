"""Making text from a capture safe to print: no terminal control sequences get through, and
nothing that a UTF-8 stream refuses to encode.

It imports nothing of netwhy: the errors that dissect/ and kb/ raise use it, as do the
renderers, so it sits below every layer."""

from __future__ import annotations

import re

# C0 controls (newline and tab too: a field is one line, so a name cannot forge report lines),
# DEL and C1 steer terminals; bidi overrides and isolates and the Unicode line separators change
# what a reader sees; lone surrogates are the undecodable bytes of a file name that is not
# UTF-8 (Python's surrogateescape), which a strict UTF-8 stdout refuses with UnicodeEncodeError.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape maps byte b to U+DC00 + b


def printable(text: object) -> str:
    return _UNSAFE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"  # the original byte, as Python would write it
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
