"""site: the knowledge base and capture reports as Sphinx sites (reST generated at build time).

Everything that comes from a capture is hostile: it reaches reST only through `rst.text()` (every
markup character backslash-escaped) or `rst.literal()` (a literal block, never parsed), and
never into a heading, a label, a file name or Sphinx's configuration.
"""
