"""Checks of the data files themselves, from what their readers found."""

from collections.abc import Mapping

from classgate.checks.anomaly import Anomaly, Code, Severity
from classgate.io import compression

# Files named in a message; details list up to this many.
FILES_SHOWN = 3
FILES_LISTED = 20


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
    for named, really, advice in (
        (True, compression.UNCOMPRESSED, "rename them or compress them"),
        (False, compression.GZIP, "name them .gz"),
    ):
        wrong = sorted(
            path
            for path, note in notes.items()
            if compression.named_gzip(path) == named
            and note.get("compression") == really
        )
        if not wrong:
            continue
        kind = "named .gz but not gzip-compressed" if named else "gzip-compressed"
        suffix = "" if named else " but not named .gz"
        found.append(
            Anomaly(
                code=Code.COMPRESSION_NAME_MISMATCH,
                severity=Severity.WARNING,
                message=f"{len(wrong)} file(s) are {kind}{suffix} (e.g. "
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
