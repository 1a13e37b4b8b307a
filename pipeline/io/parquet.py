"""Parquet files: row batches with the row index within the file, as Arrow.

With `columns` only those columns are read (the labels-only path); otherwise every
column is, and the file's note says which columns TFDV's statistics will not take
(classgate.io.arrow converts the rest before TFDV sees a batch).
"""

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from classgate import errors, progress
from classgate.io import arrow, batches, files

# Rows per batch; Parquet row groups are split or joined to this size.
BATCH_SIZE = 65536


class DecodeParquetFile(beam.DoFn):
    """A (path, size) -> `LocatedBatch`es of the file's rows, in file order."""

    def __init__(self, required: tuple[str, ...], columns=None):
        self._required = required
        self._columns = columns

    def setup(self):
        self._progress = progress.ReadProgress()

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
                            f"{path}: column '{required}', which a model config "
                            f"names, is not in the file (columns: "
                            f"{_listed(names)})"
                        )
                    if names.count(required) > 1:
                        raise errors.InputError(
                            f"{path}: column '{required}' appears "
                            f"{names.count(required)} times; a reader cannot tell "
                            "which one holds the data"
                        )
                note = {}
                if self._columns is None:  # full mode: TFDV reads every column
                    note["left_out"] = arrow.left_out(parquet.schema_arrow)
                for batch in parquet.iter_batches(BATCH_SIZE, columns=self._columns):
                    yield batches.LocatedBatch(path, first, batch)
                    first += batch.num_rows
                    self._progress.examples(batch.num_rows)
            self._progress.file_done(size)
            yield beam.pvalue.TaggedOutput(files.NOTES, (path, note))
        except errors.InputError:
            raise
        except (OSError, pa.ArrowException) as e:
            raise errors.InputError(
                f"{path}: not a readable Parquet file (row {first}): "
                f"{str(e).splitlines()[0]}"
            ) from e


def _listed(names: list[str], shown: int = 20) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
