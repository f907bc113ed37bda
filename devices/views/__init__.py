"""Estate pages, one module per page family."""
