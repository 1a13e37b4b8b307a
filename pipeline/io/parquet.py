"""Parquet files: row batches with the row index within the file, as Arrow.

With `columns` only those columns are read (the labels-only path). TFDV needs every
feature as a list column, so `as_lists` wraps scalar columns: a null scalar becomes
a null list, which TFDV and the label statistics both count as missing.
"""

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline import errors, progress
from pipeline.stats import label

# Rows per batch; Parquet row groups are split or joined to this size.
BATCH_SIZE = 65536


class DecodeParquetFile(beam.DoFn):
    """A (path, size) -> `LocatedBatch`es of the file's rows, in file order."""

    def __init__(self, required: tuple[str, ...], columns=None, as_lists=False):
        self._required = required
        self._columns = columns
        self._as_lists = as_lists

    def setup(self):
        self._progress = progress.Reader()

    def process(self, element: tuple[str, int]):
        path, size = element
        first = 0
        try:
            with FileSystems.open(
                path, compression_type=CompressionTypes.UNCOMPRESSED
            ) as f:
                parquet = pq.ParquetFile(f)
                names = parquet.schema_arrow.names
                for required in self._required:
                    if required not in names:
                        raise errors.InputError(
                            f"{path}: label column '{required}' is not in the file "
                            f"(columns: {', '.join(names)})"
                        )
                for batch in parquet.iter_batches(BATCH_SIZE, columns=self._columns):
                    if self._as_lists:
                        batch = as_lists(batch)
                    yield label.LocatedBatch(path, first, batch)
                    first += batch.num_rows
                    self._progress.examples(batch.num_rows)
            self._progress.file_done(size)
        except errors.InputError:
            raise
        except (OSError, pa.ArrowException) as e:
            raise errors.InputError(
                f"{path}: not a readable Parquet file (row {first}): "
                f"{str(e).splitlines()[0]}"
            ) from e


def as_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Wraps each scalar column in a one-element list column (null -> null list)."""
    arrays = []
    for column in batch.columns:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            arrays.append(column)
            continue
        # A null row becomes a null, empty list: offsets advance only on values.
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
        wrapped = pa.ListArray.from_arrays(
            pa.array(offsets), column.drop_null(), mask=pa.array(~valid)
        )
        arrays.append(wrapped)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
