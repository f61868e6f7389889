"""Quarantine: where a batch that failed validation goes, with the report that explains why.

``<offline root>/_quarantine/<view>/ds=<partition>/`` holds the batch's parquet files (moved out of the offline
store, so neither training queries nor materialization can read them), ``validation.json`` (the Great Expectations
result) and ``validation.html`` (the same result rendered as a data docs page). A later failing run of the same
interval replaces the folder; a passing rerun leaves it as the record of what was rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.fs as pafs

from featurekit.offline.layout import partition_dir
from featurekit.offline.storage import OfflineLocation

QUARANTINE_DIR = "_quarantine"
REPORT_JSON = "validation.json"
REPORT_HTML = "validation.html"


@dataclass(frozen=True)
class Quarantined:
    uri: str
    files: list[str]


def quarantine_dir(view: str, partition: str) -> str:
    return f"{QUARANTINE_DIR}/{partition_dir(view, partition)}"


def quarantine_batch(
    location: OfflineLocation, view: str, partition: str, batch_files: list[str], report_json: str, report_html: str
) -> Quarantined:
    """Move ``batch_files`` into the view's quarantine folder for ``partition`` and write the reports next to them."""
    relative = quarantine_dir(view, partition)
    target = location.path(relative)
    location.fs.delete_dir_contents(target, missing_dir_ok=True)
    location.fs.create_dir(target, recursive=True)
    moved = []
    for path in batch_files:
        destination = f"{target}/{path.rsplit('/', 1)[-1]}"
        location.fs.move(path, destination)
        moved.append(destination)
    for name, text in ((REPORT_JSON, report_json), (REPORT_HTML, report_html)):
        with location.fs.open_output_stream(f"{target}/{name}") as stream:
            stream.write(text.encode())
    return Quarantined(uri=location.uri_of(relative), files=moved)


def quarantined_report(location: OfflineLocation, view: str, partition: str) -> str | None:
    """The JSON report of a quarantined batch, or ``None`` when that interval is not in quarantine."""
    path = location.path(f"{quarantine_dir(view, partition)}/{REPORT_JSON}")
    if location.fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with location.fs.open_input_stream(path) as stream:
        return stream.read().decode()
