"""Streaming writers for report files. Each takes a ``ReportDocument`` and writes
one format to an open binary file: ``xlsx.write``, ``csv.write``, ``pdf.write``."""

from reports.writers.document import Chart, ReportDocument, Table

__all__ = ["Chart", "ReportDocument", "Table"]
