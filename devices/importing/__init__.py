"""Estate import: files (CSV/XLSX) and the API's bulk upsert share one core,
``devices.importing.upsert`` (the API through ``services.devices_upsert_rows``, a
file batch by batch through ``services.import_run_execute``).

``reading`` opens a file and ``mappings`` names its columns; ``values`` parses a
cell; ``rows``, ``validation``, ``copy_write`` and ``orm_write`` are the upsert's
steps; ``runs`` keeps the record of each import and ``selectors`` reads it back."""
