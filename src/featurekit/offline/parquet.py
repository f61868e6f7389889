"""The local offline backend: partitioned parquet on the local disk, read by DuckDB through the kit's Feast store.

Config and implementation of the backend in one place (see :class:`featurekit.config.backends.OfflineBackend`).
Heavy libraries (pyarrow, Feast) are imported by the methods: loading the settings must stay cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from featurekit.config.model import StrictModel
from featurekit.offline.layout import CREATED_FIELD, SOURCE_OWNER, TIMESTAMP_FIELD

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from feast.data_source import DataSource

# Feast's DuckDB store with an ASOF point-in-time join (featurekit/offline/retrieval.py), loaded by path.
STORE_TYPE = "featurekit.offline.retrieval.FeaturekitOfflineStore"


class ParquetOfflineStore(StrictModel):
    """Offline store as partitioned parquet on the local disk, read by DuckDB (Feast's ``duckdb`` store)."""

    type: Literal["parquet"] = "parquet"
    root: Path

    def filesystem(self) -> tuple[pafs.FileSystem, str, str]:
        import pyarrow.fs as pafs

        self.root.mkdir(parents=True, exist_ok=True)
        return pafs.LocalFileSystem(), str(self.root), str(self.root)

    def publish_partition(self, view: str, partition: str) -> str:
        return "files"  # DuckDB globs the files: a written partition is visible already

    def feast_source(self, view: str, description: str) -> DataSource:
        from feast import FileSource
        from feast.data_format import ParquetFormat

        return FileSource(
            name=f"{view}_offline",
            path=str(self.root / view / "*" / "*.parquet"),
            file_format=ParquetFormat(),
            timestamp_field=TIMESTAMP_FIELD,
            created_timestamp_column=CREATED_FIELD,
            description=description,
            owner=SOURCE_OWNER,
            tags={"feature_view": view},
        )

    def feast_store_block(self, training_requires_validation: bool) -> dict[str, Any]:
        # The kit's own store reads only validated partitions unless the environment turns that off.
        return {"type": STORE_TYPE, "training_requires_validation": training_requires_validation}
