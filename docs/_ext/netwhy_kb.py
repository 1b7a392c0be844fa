"""Sphinx extension: the knowledge-base pages, generated from kb/ when the build starts.

On `builder-inited` it reads the knowledge base, the rule registry and the lab catalog, analyses
each condition's scenario capture for its evidence excerpt, and writes the pages under kb/ in
the source folder (generated, never edited by hand; .gitignore keeps them out of git). Only
changed pages are rewritten, so incremental builds stay incremental.

It also adds the `netwhy-help` directive: a command's --help, taken from the parser itself.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.util import logging

from netwhy.site.build import write_pages
from netwhy.site.kbinputs import kb_inputs
from netwhy.site.kbpages import kb_pages

logger = logging.getLogger(__name__)
REPOSITORY = Path(__file__).resolve().parents[2]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("netwhy_captures", str(REPOSITORY / "tests" / "captures"), "env")
    app.connect("builder-inited", generate)
    app.add_directive("netwhy-help", HelpDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def generate(app: Sphinx) -> None:
    cache = Path(app.srcdir) / "kb" / ".excerpts.json"
    inputs = kb_inputs(Path(app.config.netwhy_captures), cache)
    for condition, excerpt in sorted((inputs.excerpts or {}).items()):
        if excerpt.problem:
            logger.warning("%s: no evidence excerpt: %s", condition, excerpt.problem,
                           type="netwhy", subtype="excerpt")
    write_pages(Path(app.srcdir), kb_pages(inputs), "kb")


class HelpDirective(Directive):
    """``.. netwhy-help:: lab run`` shows `netwhy lab run --help` as the program prints it."""

    optional_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        from netwhy.cli import _parser

        words = self.arguments[0].split() if self.arguments else []
        parser = _parser()
        for word in words:
            parser = _subcommands(parser)[word]
        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal; pages have one width
        try:
            text = parser.format_help()
        finally:
            if saved is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = saved
        block = nodes.literal_block(text, text)
        block["language"] = "none"
        return [block]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    raise KeyError(f"{parser.prog} has no subcommands")
