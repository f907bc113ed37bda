"""The certificate's size limit, applied while the request streams in.

Django buffers an uploaded file (in memory, then a temporary file) before a view
sees it. ``CertificateLimitHandler`` goes first among the upload handlers of the
certificate page: it skips a file whose declared or streamed size passes the limit,
so an oversized upload is counted and thrown away chunk by chunk, never stored, and
the view refuses it with the size it was told (``too_large``).
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

# A multipart body carries the form's other fields and boundaries beside the file.
MULTIPART_OVERHEAD = 64 * 1024


class CertificateLimitHandler(FileUploadHandler):
    """Skips any file past ``limit`` bytes; ``oversized`` holds the size seen."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.oversized: int | None = None
        self._received = 0
        self._body_too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The whole body's declared length: a file cannot be smaller than the body
        # less its overhead, so a body far past the limit is refused without counting.
        self._body_too_large = bool(
            content_length and content_length > self.limit + MULTIPART_OVERHEAD
        )
        if self._body_too_large:
            self.oversized = content_length - MULTIPART_OVERHEAD

    def new_file(
        self,
        field_name,
        file_name,
        content_type,
        content_length,
        charset=None,
        content_type_extra=None,
    ):
        self._received = 0
        if self._body_too_large:
            raise SkipFile
        if content_length is not None and content_length > self.limit:
            self.oversized = content_length
            raise SkipFile

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit:
            self.oversized = self._received
            raise SkipFile
        return raw_data  # on to the next handler, which stores it

    def file_complete(self, file_size):
        return None  # the next handler makes the file
