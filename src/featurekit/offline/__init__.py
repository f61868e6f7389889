"""The offline store: partitioned parquet per feature view (local disk or S3), the source of training data and
of materialization.

``layout`` names partitions, ``storage`` reads and replaces them (one implementation over pyarrow filesystems for
local disk and S3), ``sources`` builds the Feast data sources that point at them.
"""
