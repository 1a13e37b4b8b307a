"""Checks of the data files themselves, from what their readers found."""

from collections.abc import Mapping, Sequence

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.io import compression

# Files named in a message; details list up to this many.
FILES_SHOWN = 3
FILES_LISTED = 20


# (named .gz, compression judged from the bytes, what the files are, advice). A zlib
# file not named .gz is no mismatch: TensorFlow reads it with compression_type
# 'ZLIB', and no name says zlib. An empty file is none: every reader reads it as
# zero records.
_MISMATCHES = (
    (
        True,
        compression.UNCOMPRESSED,
        "named .gz but not gzip-compressed",
        "rename them or compress them",
    ),
    (
        True,
        compression.ZLIB,
        "named .gz but zlib-compressed (TFRecordOptions 'ZLIB')",
        "rename them, for compression_type='ZLIB', or write them with 'GZIP'",
    ),
    (False, compression.GZIP, "gzip-compressed but not named .gz", "name them .gz"),
)


def check_compression(
    split: str, data_format: str, notes: Mapping[str, dict]
) -> list[Anomaly]:
    """TFRecord files whose name and bytes disagree about gzip.

    classgate reads them by their bytes, but TFDV and most trainers take the
    compression from the name (or one setting for all files) and fail on them.
    """
    if data_format != "tfrecord":
        return []
    found = []
    for named, really, kind, advice in _MISMATCHES:
        wrong = sorted(
            path
            for path, note in notes.items()
            if compression.named_gzip(path) == named
            and note.get("compression") == really
        )
        if not wrong:
            continue
        found.append(
            Anomaly(
                code=Code.COMPRESSION_NAME_MISMATCH,
                severity=Severity.WARNING,
                message=f"{len(wrong)} file(s) are {kind} (e.g. "
                f"{', '.join(wrong[:FILES_SHOWN])}): classgate read them by their "
                "bytes, but TFDV and most trainers choose the compression from the "
                f"name and will fail on them; {advice}",
                split=split,
                details={"files": wrong[:FILES_LISTED], "count": len(wrong)},
            )
        )
    return found


def check_left_out(split: str, notes: Mapping[str, dict]) -> list[Anomaly]:
    """Parquet columns TFDV's statistics cannot take (maps, lists of structs...)."""
    left_out = sorted(
        {name for note in notes.values() for name in note.get("left_out", [])}
    )
    if not left_out:
        return []
    return [
        Anomaly(
            code=Code.COLUMNS_NOT_IN_STATISTICS,
            severity=Severity.WARNING,
            message=f"{len(left_out)} column(s) have types TFDV's statistics cannot "
            f"take and are left out of them: {', '.join(left_out[:10])}"
            + (" ..." if len(left_out) > 10 else "")
            + "; the label checks do not use them",
            split=split,
            details={"columns": left_out[:FILES_LISTED], "count": len(left_out)},
        )
    ]


def check_hidden(split: str, hidden: Sequence[str]) -> list[Anomaly]:
    """Parquet files a glob matched but the split skipped for their '_' or '.' names.

    Arrow datasets and Spark skip them, so classgate does; TensorFlow's glob
    returns them, so a trainer that lists files that way reads what was not
    checked.
    """
    if not hidden:
        return []
    return [
        Anomaly(
            code=Code.HIDDEN_FILES_SKIPPED,
            severity=Severity.WARNING,
            message=f"{len(hidden)} Parquet file(s) whose names start with '_' or "
            f"'.' were skipped, as Arrow datasets and Spark skip them (e.g. "
            f"{', '.join(hidden[:FILES_SHOWN])}); tf.io.gfile.glob returns them, "
            "so a trainer listing files that way would read what was not checked: "
            "rename or remove them, or narrow the pattern",
            split=split,
            details={"files": list(hidden[:FILES_LISTED]), "count": len(hidden)},
        )
    ]
