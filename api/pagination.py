from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Cursor pagination on the primary key: constant time at any depth and no
    COUNT over the whole estate."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        # DRF answers a bad cursor with 404, which reads as "no such list"; it is bad input.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError(
                {self.cursor_query_param: ["Invalid cursor; follow the `next` link as given."]}
            ) from exc
