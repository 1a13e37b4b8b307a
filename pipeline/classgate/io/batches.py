"""The unit the readers hand on: decoded rows of one file, with where they start.

Row i of `records` is record `first_record + i` of `file`: that is what lets a
report point at "shard 3, record 1041". Plain data, no Beam: the statistics take it.
"""

from typing import NamedTuple

import pyarrow as pa


class LocatedBatch(NamedTuple):
    """Decoded rows of one file; row i is record `first_record + i` of `file`."""

    file: str
    first_record: int
    records: pa.RecordBatch
