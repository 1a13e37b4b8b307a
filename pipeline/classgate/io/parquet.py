"""Parquet files: row batches with the row index within the file, as Arrow.

With `columns` only the top-level columns holding those features are read (the
labels-only path; a feature `meta.label` is field `label` of struct column `meta`,
see classgate.io.arrow.feature_paths); otherwise every column is, and the file's
note says which columns TFDV's statistics will not take (classgate.io.arrow converts
the rest before TFDV sees a batch). INT96 timestamps (Spark's, Hive's, Impala's) are
read as microseconds, the unit Spark writes them in: as nanoseconds, pyarrow's
default, any date past 2262-04-11 wraps silently to another.
"""

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from classgate import errors
from classgate.io import arrow, batches, files, progress

# Rows per batch; Parquet row groups are split or joined to this size.
BATCH_SIZE = 65536
# The unit INT96 timestamps are read in: int64 microseconds span +-292,000 years,
# so every date INT96 can hold (years 1 to 9999 in Spark) fits, without a wrap.
INT96_UNIT = "us"


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
                parquet = pq.ParquetFile(f, coerce_int96_timestamp_unit=INT96_UNIT)
                schema = parquet.schema_arrow
                for required in self._required:
                    _check_present(path, schema, required)
                columns = self._columns
                if columns is not None:
                    columns = arrow.top_level_columns(schema, columns)
                note = {"features": files.listed(schema.names)}
                if self._columns is None:  # full mode: TFDV reads every column
                    note["left_out"] = arrow.left_out(parquet.schema_arrow)
                for batch in parquet.iter_batches(BATCH_SIZE, columns=columns):
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


def _check_present(path: str, schema: pa.Schema, feature: str) -> None:
    """Raises unless `feature` names one column, or one struct field, of the file."""
    found = len(arrow.feature_paths(schema, feature))
    if not found:
        raise errors.InputError(
            f"{path}: column '{feature}', which a model config names, is not in the "
            f"file (columns: {_listed(schema.names)})"
        )
    if found > 1:
        raise errors.InputError(
            f"{path}: column '{feature}' appears {found} times; a reader cannot tell "
            "which one holds the data"
        )


def _listed(names: list[str], shown: int = 20) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
