"""The API's JSON parser: DRF's, refusing with a 400 what would otherwise crash later.

- nesting deeper than ``MAX_DEPTH`` (a body 5,000 arrays deep made the decoder
  raise RecursionError, a 500);
- a lone surrogate such as ``"\\ud800"`` in a key or value (valid JSON, but not
  Unicode: encoding it for the database or a response failed, a 500);
- a NUL character in a key or value (PostgreSQL text and jsonb cannot store it:
  the idempotency store's insert failed, a 500).

The whole document is checked before any view sees it, iteratively (a recursive
walk would itself overflow on deep input), and the message names where the bad
value is without echoing it.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Our bodies are at most a few levels deep (bulk: list -> object -> value); 32 leaves
# room for any honest client and stays far below the interpreter's recursion limit.
MAX_DEPTH = 32


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate code point)"
    return None


def _where(path: tuple) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            safe = part.encode("unicode_escape", "backslashreplace").decode("ascii")
            out += f".{safe[:40]}"
    return out


def check_document(data) -> None:
    """Raise ParseError if ``data`` is nested too deeply or holds NUL/invalid text."""
    stack = [(data, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels at {_where(path)}.")
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = _bad_text(key)
                    if problem:
                        raise ParseError(f"A key at {_where(path)} {problem}.")
                    stack.append((item, (*path, key), depth + 1))
            else:
                stack.extend((item, (*path, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                raise ParseError(f"The value at {_where(path)} {problem}.")


class JSONParser(parsers.JSONParser):
    """Drop-in for ``rest_framework.parsers.JSONParser`` with the checks above."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from exc
        check_document(data)
        return data
