"""The look shared by the documentation site and capture reports: Furo (readable on a laptop,
with a collapsing sidebar on a phone), light and dark, and a little CSS for netwhy's tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).with_name("static")
SEVERITIES = ("error", "warning", "note", "chat")
# Roles such as :sev-error:`error` draw a severity as a coloured badge (netwhy.css).
ROLES = "".join(f".. role:: sev-{s}\n   :class: sev sev-{s}\n\n" for s in SEVERITIES)


def html_settings(title: str) -> dict[str, Any]:
    """Sphinx configuration values; `title` must be trusted text (never from a capture)."""
    return {
        "rst_prolog": ROLES,
        "smartquotes": False,  # a capture's quotes and dashes are shown as they are
        "html_theme": "furo",
        "html_title": title,
        "html_static_path": [str(STATIC)],
        "html_css_files": ["netwhy.css"],
        "html_copy_source": False,  # the reST is generated: nothing to read there
        "html_show_sourcelink": False,
        "html_permalinks_icon": "#",
        "pygments_style": "friendly",
        "pygments_dark_style": "monokai",
        "html_theme_options": {
            "navigation_with_keys": True,
            "light_css_variables": {
                "color-brand-primary": "#1b5e8c",
                "color-brand-content": "#1b5e8c",
                "font-stack--monospace": "'DejaVu Sans Mono', Menlo, Consolas, monospace",
            },
        },
    }


def badge(severity: str) -> str:
    """A severity as reST; only the four known words ever become a role."""
    return f":sev-{severity}:`{severity}`" if severity in SEVERITIES else severity
