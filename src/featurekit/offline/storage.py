"""Read and atomically replace offline-store partitions, on local disk or S3, through pyarrow filesystems.

Replacing a partition writes the new file first and deletes the writer's older files after, so a reader sees either
the old rows, the new rows, or (briefly) both copies of identical-key rows, never a missing partition; point-in-time
joins pick one row per key, so the overlap is harmless, and a crashed run leaves a state the rerun repairs.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from featurekit.config.backends import OfflineBackend
from featurekit.offline.layout import BATCH_PREFIX, PARTITION_KEY, partition_dir


class OfflineLocation:
    """A filesystem and the base path of the offline store inside it."""

    def __init__(self, fs: pafs.FileSystem, base: str, uri: str) -> None:
        self.fs, self.base, self.uri = fs, base.rstrip("/"), uri.rstrip("/")

    def path(self, relative: str) -> str:
        return f"{self.base}/{relative}"

    def uri_of(self, relative: str) -> str:
        return f"{self.uri}/{relative}"

    def files(self, relative: str, prefix: str = "") -> list[str]:
        """Parquet files directly inside ``relative`` whose name starts with ``prefix`` (sorted)."""
        info = self.fs.get_file_info(pafs.FileSelector(self.path(relative), allow_not_found=True))
        return sorted(
            f.path for f in info
            if f.type == pafs.FileType.File and f.base_name.startswith(prefix) and f.base_name.endswith(".parquet")
        )  # fmt: skip

    def replace_partition(self, view: str, partition: str, table: pa.Table, prefix: str = BATCH_PREFIX) -> str:
        """Write ``table`` as the ``prefix`` files of one partition, replacing that writer's older files."""
        relative = partition_dir(view, partition)
        self.fs.create_dir(self.path(relative), recursive=True)
        old = self.files(relative, prefix)
        target = self.path(f"{relative}/{prefix}{uuid.uuid4().hex}.parquet")
        pq.write_table(table, target, filesystem=self.fs, compression="zstd")
        for path in old:
            self.fs.delete_file(path)
        return target

    def append(self, view: str, partition: str, table: pa.Table, name: str) -> str:
        """Add ``table`` to a partition as the file ``name`` (a file of that name is replaced, others are kept).

        Streaming writers derive ``name`` from their query and micro-batch id, so a batch replayed after a crash
        rewrites its own file instead of adding a second copy. The file is written under a temporary name first
        (not matched by ``*.parquet`` readers) and then moved into place.
        """
        if not name.endswith(".parquet") or "/" in name:
            raise ValueError(f"offline file name must be a plain '*.parquet' name, got {name!r}")
        relative = partition_dir(view, partition)
        self.fs.create_dir(self.path(relative), recursive=True)
        target = self.path(f"{relative}/{name}")
        staging = self.path(f"{relative}/.{name}.{uuid.uuid4().hex}.tmp")
        pq.write_table(table, staging, filesystem=self.fs, compression="zstd")
        self.fs.move(staging, target)
        return target

    def write_text(self, relative: str, text: str) -> str:
        """Write a small text object (a record) so readers never see half of it: write then rename on local disk;
        an S3 PUT is atomic already. Returns its URI."""
        target = self.path(relative)
        self.fs.create_dir(self.path(relative.rsplit("/", 1)[0]), recursive=True)
        if isinstance(self.fs, pafs.LocalFileSystem):
            temporary = f"{target}.{uuid.uuid4().hex}.tmp"
            with self.fs.open_output_stream(temporary) as stream:
                stream.write(text.encode())
            self.fs.move(temporary, target)
        else:
            with self.fs.open_output_stream(target) as stream:
                stream.write(text.encode())
        return self.uri_of(relative)

    def read_text(self, relative: str) -> str | None:
        """The text of a small object, or ``None`` if there is none."""
        path = self.path(relative)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(path) as stream:
            return stream.read().decode()

    def read_partition(self, view: str, partition: str) -> pa.Table | None:
        """All rows of one partition (every writer's files), or ``None`` if it has no files."""
        files = self.files(partition_dir(view, partition))
        if not files:
            return None
        return ds.dataset(files, filesystem=self.fs, format="parquet").to_table()

    def partitions(self, view: str) -> list[str]:
        """Partition values present for a view, sorted."""
        info = self.fs.get_file_info(pafs.FileSelector(self.path(view), allow_not_found=True))
        marker = f"{PARTITION_KEY}="
        return sorted(
            f.base_name[len(marker):] for f in info
            if f.type == pafs.FileType.Directory and f.base_name.startswith(marker)
        )  # fmt: skip


def offline_location(store: OfflineBackend) -> OfflineLocation:
    """Where the configured offline store keeps its partitions (the backend names the filesystem and base)."""
    return OfflineLocation(*store.filesystem())
