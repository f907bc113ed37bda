"""What an import may ask of the server, checked before a file is parsed.

Issue "hostile input": a 158 KB XLSX holding one 150 MB shared string took a worker to
1.77 GB, and an XLSX with a DTD ended in a 500. Every door (the upload form, the
``import_estate`` command, the import task) checks a file here first:

- its size against ``IMPORT_MAX_UPLOAD_BYTES``;
- an XLSX's zip directory: the number of members, and the sum of their uncompressed
  sizes and each member's against ``IMPORT_MAX_XLSX_EXPANDED_BYTES``. The sizes come
  from the directory, before openpyxl opens anything; ``zipfile`` stops a member at the
  size its directory entry declares (and fails its CRC check), so a lying directory
  cannot expand further than it says;
- an XLSX's XML parts for ``<!DOCTYPE`` / ``<!ENTITY`` (in UTF-8 or UTF-16), read
  in chunks of ``CHUNK`` bytes: a workbook has no use for a DTD, and entity
  declarations are how XML bombs expand;
- its data rows against ``IMPORT_MAX_ROWS``: a fast upper bound here (line breaks
  of a text file, ``<row>`` elements of the worksheets), counted exactly by the
  reader only when the bound is past the limit, and enforced again row by row by the
  import's first pass.

Each check reads in bounded chunks, so memory stays flat whatever the file holds.
A refusal is an ``ImportRefused`` whose message names the limit.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from django.conf import settings

from devices.importing.errors import ImportRefused

CHUNK = 1 << 20
# An XLSX holds a few dozen parts; a directory of millions of entries is itself a bomb
# (zipfile builds an object per entry before anything can be checked).
MAX_ZIP_MEMBERS = 10_000
XML_DECLARATIONS_REFUSED = "The file contains XML declarations, which are not accepted."
_XML_PARTS = (".xml", ".rels", ".vml")
# <!DOCTYPE or <!ENTITY, any case, in UTF-8/ASCII or either UTF-16 byte order.
_DECLARATIONS = re.compile(
    b"|".join(
        re.escape(word.encode(encoding))
        for word in ("<!DOCTYPE", "<!ENTITY")
        for encoding in ("ascii", "utf-16-le", "utf-16-be")
    ),
    re.IGNORECASE,
)
_OVERLAP = len("<!DOCTYPE".encode("utf-16-le"))
# A worksheet's row elements: <row ...> and, with a namespace prefix, <x:row ...>.
# Counted with bytes.count (a regex costs several times more on a large sheet); an
# element like <rowBreaks> counts too, which can only make the bound larger.
_ROW_TAGS = (b"<row", b":row ", b":row>")
_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    upload_bytes: int
    rows: int
    xlsx_expanded_bytes: int


def import_limits() -> Limits:
    """The limits in force (settings, read on every call so tests may change them)."""
    return Limits(
        upload_bytes=settings.IMPORT_MAX_UPLOAD_BYTES,
        rows=settings.IMPORT_MAX_ROWS,
        xlsx_expanded_bytes=settings.IMPORT_MAX_XLSX_EXPANDED_BYTES,
    )


def shown_bytes(size: int) -> str:
    """A size as people read it: "256 MB", "1.5 MB", "900 bytes" (1 MB = 1,048,576)."""
    if size >= 1 << 20:
        value, unit = size / (1 << 20), "MB"
    elif size >= 1 << 10:
        value, unit = size / (1 << 10), "KB"
    else:
        return f"{size:,} byte{'s' if size != 1 else ''}"
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text} {unit}"


def size_check(size: int) -> None:
    limit = import_limits().upload_bytes
    if size > limit:
        raise ImportRefused(
            f"The file is {shown_bytes(size)}; an import file may be at most "
            f"{shown_bytes(limit)}. Split it into smaller files."
        )


def rows_refusal(limit: int) -> ImportRefused:
    return ImportRefused(
        f"The file has more than {limit:,} rows; an import may hold at most {limit:,}. "
        "Split it into smaller files."
    )


def rows_within(items, limit: int | None = None):
    """Pass ``items`` (data rows) through, refusing the file at row ``limit + 1``:
    the import's first pass counts every row, so this is where the limit is exact."""
    limit = import_limits().rows if limit is None else limit
    for count, item in enumerate(items, start=1):
        if count > limit:
            raise rows_refusal(limit)
        yield item


# ------------------------------------------------------------------ text files


def text_line_bound(handle) -> int:
    """At most how many lines a text file holds: its line feeds or carriage returns,
    whichever are more, plus one. Quoted line breaks and UTF-16 bytes can only make
    this larger than the rows the reader finds, never smaller."""
    handle.seek(0)
    feeds = returns = 0
    last = b""
    while chunk := handle.read(CHUNK):
        feeds += chunk.count(b"\n")
        returns += chunk.count(b"\r")
        last = chunk[-1:]
    handle.seek(0)
    return max(feeds, returns) + (0 if last in (b"\n", b"\r") else 1)


# ------------------------------------------------------------------ XLSX


def _zip_member_count(handle) -> int | None:
    """The entry count the zip's end-of-central-directory record declares (zip64
    too), read from the end of the file without building the directory; None when
    no record is found (``zipfile`` will then refuse the file itself)."""
    handle.seek(0, 2)
    end = handle.tell()
    start = max(0, end - (1 << 16) - 22)  # the record, plus a comment of up to 64 KB
    handle.seek(start)
    tail = handle.read(end - start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (offset,) = struct.unpack("<Q", tail[at - 12 : at - 4])
        handle.seek(offset)
        record = handle.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) >= 40:
            (entries,) = struct.unpack("<Q", record[32:40])
    return entries


def _scan_member(archive, info, *, count_rows: bool) -> int:
    """Refuse a part holding an XML declaration; return its <row> elements when
    asked. Streams the part through a buffer of CHUNK bytes plus a small overlap,
    so a declaration split between two reads is still found."""
    rows = 0
    tail = b""
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            buffer = tail + chunk
            # A plain search for "<!" first (in UTF-16 too: "<\0!"), which almost no
            # workbook part holds; the case-blind pattern only where it does.
            if (b"<!" in buffer or b"<\x00!" in buffer) and _DECLARATIONS.search(buffer):
                raise ImportRefused(XML_DECLARATIONS_REFUSED)
            if count_rows:
                # Count each tag once: one lying wholly inside the old tail was
                # counted with the previous buffer.
                for tag in _ROW_TAGS:
                    rows += buffer.count(tag, max(0, len(tail) - len(tag) + 1))
            tail = buffer[-_OVERLAP:]
    return rows


def xlsx_check(handle) -> int | None:
    """Check an XLSX (a binary file object) before openpyxl opens it: member count,
    expanded sizes, XML declarations. Returns an upper bound of its worksheets'
    rows (the largest sheet's <row> elements, header included), or None when no
    part sits where worksheets usually do."""
    import zipfile

    limits = import_limits()
    members = _zip_member_count(handle)
    if members is not None and members > MAX_ZIP_MEMBERS:
        raise ImportRefused(
            f"The workbook has {members:,} parts; an XLSX import may have at most "
            f"{MAX_ZIP_MEMBERS:,}."
        )
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        # Left to the reader, which words it for a workbook that cannot be opened.
        raise ImportRefused(
            f"The file looks like an XLSX workbook but cannot be opened ({error})."
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise ImportRefused(
                f"The workbook has {len(infos):,} parts; an XLSX import may have at most "
                f"{MAX_ZIP_MEMBERS:,}."
            )
        total = 0
        limit = limits.xlsx_expanded_bytes
        for info in infos:
            if info.file_size > limit:
                raise ImportRefused(
                    f"The workbook's part {info.filename[:100]} expands to "
                    f"{shown_bytes(info.file_size)}; an XLSX import may expand to at most "
                    f"{shown_bytes(limit)}. Save it as CSV, or split it."
                )
            total += info.file_size
        if total > limit:
            raise ImportRefused(
                f"The workbook expands to {shown_bytes(total)}; an XLSX import may expand to "
                f"at most {shown_bytes(limit)}. Save it as CSV, or split it."
            )
        bound = None
        for info in infos:
            name = info.filename
            if info.is_dir() or not (
                name.lower().endswith(_XML_PARTS) or name == "[Content_Types].xml"
            ):
                continue
            worksheet = bool(_WORKSHEET.match(name))
            try:
                rows = _scan_member(archive, info, count_rows=worksheet)
            except (
                zipfile.BadZipFile,
                zlib.error,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                RuntimeError,  # an encrypted member
            ) as error:
                raise ImportRefused(
                    f"The file looks like an XLSX workbook but cannot be opened ({error})."
                ) from None
            if worksheet:
                bound = max(bound or 0, rows)
    handle.seek(0)
    return bound
