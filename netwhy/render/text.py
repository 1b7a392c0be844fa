"""Only until netwhy/cli.py imports `printable` from netwhy.text (issue 17): delete this file
then. Nothing else may import it here: the errors every layer raises need it below the
renderers."""

from netwhy.text import printable

__all__ = ["printable"]
