"""Region config templates: the YAML files in ``lsgh_ee/regions/templates/`` (also reachable
as ``assets/templates/``), one copy of each, and filling them in without losing their
comments.

A template is a complete, valid region config with example values and comments for the
user. :class:`Template` edits its text line by line, by key path (``"factors.ndvi"``), so
everything not edited (the comments, the order, the layout) stays as written. It handles
the block style the templates use: one key per line, nested by two-space indentation,
values on the key's line (scalars or flow collections), comments after ``#``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: A region computed from local files only.
LOCAL_FILES = "local-files.yaml"
#: The paper's study area with every factor from Earth Engine.
EARTH_ENGINE = "jiuzhaigou-ee.yaml"

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<rest>(?:\s.*)?)$")
_COMMENT = re.compile(r"\s+#|^#")
#: ``comment=KEEP``: a set value keeps the line's comment.
KEEP = object()


def read_template(name: str) -> Template:
    """The template file ``name`` (e.g. :data:`LOCAL_FILES`) as a :class:`Template`."""
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def flow(value: Any) -> str:
    """``value`` as one line of YAML flow style (``{a: 1, b: [2, 3]}``), keys in order."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 16)
    return text.strip().removesuffix("...").strip()


class Template:
    """The lines of a region template, edited in place by key path (methods chain)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def text(self) -> str:
        """The edited template, ending with a newline."""
        return "\n".join(self.lines) + "\n"

    # --- reading -------------------------------------------------------------------------

    def value(self, path: str) -> Any:
        """The parsed value on the line of ``path`` (None for a block key)."""
        _, _, rest = self._split(self._find(path))
        return yaml.safe_load(rest) if rest.strip() else None

    # --- editing -------------------------------------------------------------------------

    def set(self, path: str, value: Any, comment: Any = KEEP) -> Template:
        """Set the value of ``path``: a string is written as it is, anything else in flow
        style. ``comment``: :data:`KEEP` the line's comment, None for none, or a text."""
        index = self._find(path)
        indent_key, old_comment, _ = self._split(index)
        code = f"{indent_key} {value if isinstance(value, str) else flow(value)}"
        note = old_comment if comment is KEEP else (f"# {comment}" if comment else "")
        if not note:
            self.lines[index] = code
            return self
        column = self._comment_column(index)
        self.lines[index] = (code.ljust(column) if len(code) < column else code + "  ") + note
        return self

    def replace_line(self, path: str, line: str) -> Template:
        """Replace the line of ``path`` by ``line`` (indentation included): a key renamed,
        e.g. ``aoi.bbox`` by ``  file: aoi.gpkg``."""
        self.lines[self._find(path)] = line
        return self

    def remove(self, path: str) -> Template:
        """Remove ``path`` with everything nested under it."""
        start = self._find(path)
        del self.lines[start : self._block_end(start)]
        return self

    def note_above(self, path: str, notes: Iterable[str]) -> Template:
        """Replace the comment lines right above ``path`` (at its indentation) by
        ``notes`` (whole lines)."""
        index = self._find(path)
        indent = self._indent(self.lines[index])
        start = index
        while start > 0 and self._is_comment(self.lines[start - 1]):
            if self._indent(self.lines[start - 1]) != indent:
                break
            start -= 1
        self.lines[start:index] = list(notes)
        return self

    def header(self, notes: Iterable[str]) -> Template:
        """Replace the comment lines before the first key by ``notes``."""
        first = next(i for i, line in enumerate(self.lines) if not self._is_comment(line))
        self.lines[:first] = list(notes)
        return self

    def append(self, lines: Iterable[str]) -> Template:
        """Add ``lines`` at the end."""
        self.lines.extend(lines)
        return self

    def without_comments(self) -> Template:
        """Drop every comment, and the lines that hold nothing else."""
        kept = [self._split_comment(line)[0].rstrip() for line in self.lines]
        self.lines = [line for line in kept if line.strip()]
        return self

    # --- internals -----------------------------------------------------------------------

    @staticmethod
    def _indent(line: str) -> int:
        return len(line) - len(line.lstrip(" "))

    @staticmethod
    def _is_comment(line: str) -> bool:
        return not line.strip() or line.lstrip().startswith("#")

    @staticmethod
    def _split_comment(line: str) -> tuple[str, str]:
        """``(code, comment)``: the comment from its ``#``, the code with its spacing."""
        found = _COMMENT.search(line)
        if found is None:
            return line, ""
        return line[: found.start()], line[found.end() - 1 :]

    def _split(self, index: int) -> tuple[str, str, str]:
        """``(indent + 'key:', comment, value text)`` of a key line."""
        code, comment = self._split_comment(self.lines[index])
        found = _KEY.match(code)
        assert found is not None, self.lines[index]
        return f"{found['indent']}{found['key']}:", comment, found["rest"]

    def _comment_column(self, index: int) -> int:
        code, comment = self._split_comment(self.lines[index])
        return len(self.lines[index]) - len(comment) if comment else len(code) + 2

    def _find(self, path: str) -> int:
        """The index of the line holding key ``path`` (dotted)."""
        stack: list[tuple[int, str]] = []
        for index, line in enumerate(self.lines):
            if self._is_comment(line):
                continue
            found = _KEY.match(self._split_comment(line)[0])
            if found is None:
                continue
            indent = len(found["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, found["key"]))
            if ".".join(key for _, key in stack) == path:
                return index
        raise KeyError(f"template has no key {path!r}")

    def _block_end(self, start: int) -> int:
        """The index after the block of the key on line ``start``: the lines nested deeper
        (comment lines too, when indented deeper)."""
        indent = self._indent(self.lines[start])
        end = start + 1
        while end < len(self.lines):
            line = self.lines[end]
            if line.strip() and self._indent(line) <= indent:
                break
            end += 1
        return end
