"""Estate import: files (CSV/XLSX) and the API's bulk upsert share one core,
``devices.importing.upsert`` (the API through ``services.devices_upsert_rows``, a
file batch by batch through ``services.import_run_execute``).

``limits`` refuses a file past the import's limits before it is parsed (``errors``
names why a whole file is refused); ``reading`` opens a file and ``mappings`` names
its columns; ``values`` parses a cell; ``rows``, ``validation`` (with ``existing``,
its queries), ``copy_write``, ``orm_write`` and ``moves`` (status moves, through the
one status mover) are the upsert's steps; ``runs`` keeps the record of each import
and ``selectors`` reads it back."""
