"""A file storage that runs out of space for chosen files, as a full disk would.

``FaultyStorage`` is FileSystemStorage, except that saving a file whose name contains
the text in ``RELIABILITY_FULL_DISK_FOR`` (environment; several separated by commas)
and ends with one of the suffixes in ``RELIABILITY_FULL_DISK_SUFFIXES`` (default
".csv") writes half the content and then fails with ENOSPC, leaving the partial file
behind exactly as a disk filling up mid-write does. Used by the fault tests, in the
test process (settings.STORAGES) and in a real worker (FILE_STORAGE).
"""

from __future__ import annotations

import errno
import os

from django.core.files.storage import FileSystemStorage


def _listed(name: str, default: str = "") -> list[str]:
    return [part for part in os.environ.get(name, default).split(",") if part]


class FaultyStorage(FileSystemStorage):
    def _save(self, name, content):
        markers = _listed("RELIABILITY_FULL_DISK_FOR")
        suffixes = tuple(_listed("RELIABILITY_FULL_DISK_SUFFIXES", ".csv"))
        if any(marker in name for marker in markers) and name.endswith(suffixes):
            content.seek(0)
            data = content.read()
            path = self.path(name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as partial:
                partial.write(data[: max(1, len(data) // 2)])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return super()._save(name, content)
