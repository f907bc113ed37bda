"""Estate import: files (CSV/XLSX) and the API's bulk upsert share one core,
``devices.importing.services.devices_upsert_rows``."""
