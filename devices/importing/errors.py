"""Why a whole import file is refused (exit status 2 from ``import_estate``)."""

from __future__ import annotations


class FileUnreadable(Exception):
    """The file as a whole cannot be imported (exit status 2)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportRefused(FileUnreadable):
    """The file is past one of the import's limits (size, rows, expanded XLSX size) or
    holds XML declarations: refused before it is parsed, and nothing is written."""
