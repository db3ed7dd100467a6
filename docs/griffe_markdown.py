"""A griffe extension for the API pages: docstrings written for Sphinx and doctest,
shown as Markdown.

smartml's docstrings hold their examples as bare doctests (``>>>`` lines and their
output, run by pytest's --doctest-modules). Markdown would read them as paragraphs, and
an output such as ``x["a"]["b"]`` as a reference link; fenced as ``pycon`` they are
shown as what they are. Cross-references are Sphinx roles (``:func:`name```), which
Markdown would print as they are: they become code spans. mkdocs.yml loads this file as
a mkdocstrings extension.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

FENCE = "```"
SPHINX_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`~?([^`]+)`")


def drop_sphinx_roles(text: str) -> str:
    """``text`` with each Sphinx cross-reference role reduced to its code span.

    >>> drop_sphinx_roles("see :func:`~smartml.config.load_config` and :class:`Task`")
    'see `smartml.config.load_config` and `Task`'
    """
    return SPHINX_ROLE.sub(r"`\1`", text)


def fence_doctests(text: str) -> str:
    """``text`` with every doctest block (from a ``>>>`` line to the next blank line)
    fenced as ``pycon``; fenced code is left as it is.

    >>> fence_doctests("Sum.\\n\\n>>> 1 + 1\\n2\\n\\nEnd.").splitlines()
    ['Sum.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'End.']
    """
    out: list[str] = []
    in_fence = in_doctest = False
    indent = ""
    for line in text.splitlines():
        stripped = line.strip()
        if in_doctest and not stripped:
            out.append(f"{indent}{FENCE}")
            in_doctest = False
        elif not in_doctest and stripped.startswith(FENCE):
            in_fence = not in_fence
        elif not in_fence and not in_doctest and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{FENCE}pycon")
            in_doctest = True
        out.append(line)
    if in_doctest:
        out.append(f"{indent}{FENCE}")
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    """Fence the doctests and drop the Sphinx roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = drop_sphinx_roles(fence_doctests(obj.docstring.value))
