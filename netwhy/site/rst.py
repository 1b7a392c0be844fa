"""reST from text, without letting the text become markup.

docutils treats a backslash before any character as "this character is plain text", so escaping
every character that is not a letter, a digit or a space leaves nothing that can start a role,
a directive, a reference, a substitution or a list. Control characters are escaped first
(`printable`), so the text is one line and cannot end a block or forge the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from netwhy.text import printable

# \w includes "_", which is markup in reST. White space is no markup, and docutils drops an
# escaped one (an escaped no-break space alone left an empty list item).
_MARKUP = re.compile(r"[^\w\s]|_", re.UNICODE)


def text(value: object) -> str:
    """Inline text: displayed exactly as given (control characters shown as escapes)."""
    escaped = _MARKUP.sub(lambda match: "\\" + match[0], printable(value))
    # Only backslashes escape to a run of one character, which a line alone (white space around
    # it aside) would make a transition; an escaped space (which docutils drops) breaks the run.
    bare = escaped.strip()
    return "\\ " + bare if bare and not bare.strip("\\") else escaped


def code(value: object) -> str:
    """Inline monospaced text. The :literal: role, unlike ``...``, honours backslash escapes,
    so the same escaping applies."""
    escaped = text(printable(value).strip())  # interpreted text cannot start with a space
    return f":literal:`{escaped}`" if escaped else escaped


def literal(lines: Iterable[object], language: str = "none") -> str:
    """A literal block: shown verbatim in a monospaced box, never parsed as reST."""
    body = [printable(line).rstrip() for line in lines]
    if not any(body):
        body = ["(nothing)"]  # the directive refuses an empty block
    indented = "\n".join(f"   {line}" if line else "" for line in body)
    return f".. code-block:: {language}\n\n{indented}\n"


def heading(title: str, underline: str = "=", overline: bool = False) -> str:
    """A section title. Only for trusted text (the knowledge base's own words): titles end up
    in <title>, the sidebar and the search index through each theme's own templates."""
    bar = underline * max(len(title), 3)
    return f"{bar}\n{title}\n{bar}\n" if overline else f"{title}\n{bar}\n"


def list_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    widths: Sequence[int] | None = None,
    css_class: str = "",
) -> str:
    """A table whose cells are already reST (escape each with `text` first). A cell is one
    paragraph, or several separated by blank lines ("\\n\\n"); an empty cell stays empty."""
    rows = list(rows)
    if not rows:
        return "None.\n"  # docutils refuses a table without a body
    out = [".. list-table::", "   :header-rows: 1"]
    if widths:
        out.append("   :widths: " + " ".join(str(width) for width in widths))
    if css_class:
        out.append(f"   :class: {css_class}")
    out.append("")
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            marker = "   * - " if index == 0 else "     - "
            first, *rest = cell.split("\n")  # more lines: more paragraphs (blank between)
            out.append((marker + first).rstrip())
            out.extend(f"       {line}".rstrip() for line in rest)
    return "\n".join(out) + "\n"


def bullets(items: Iterable[str]) -> str:
    """A bullet list of cells that are already reST."""
    return "".join(f"- {item}\n" for item in items)


def doc(target: str, title: str | None = None) -> str:
    """A link to another page; target and title come from the knowledge base, not a capture."""
    return f":doc:`{title} <{target}>`" if title else f":doc:`{target}`"
