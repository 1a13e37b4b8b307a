"""Paths as report.html shows them: relative to the data pattern's fixed folder.

A data file's whole path (`/home/runner/work/repo/data/train/part-00003.parquet`,
`gs://bucket/exports/2024-06-01/train-00001-of-00016.gz`) says mostly where the
machine kept it; the page shows what lies below the fixed part of the pattern that
matched it (the folders before its first wildcard), and the whole path in a
tooltip. A path under no pattern's folder is shown whole.
"""

import html
from collections.abc import Iterable

# What makes a pattern's part a wildcard: glob's and Beam's FileSystems.match's.
_WILDCARDS = "*?["


def fixed_folder(pattern: str) -> str:
    """The folder of a pattern before its first wildcard, with its trailing "/".

    `data/train/part-*.parquet` -> `data/train/`; `gs://b/x/*/y-*` -> `gs://b/x/`;
    a pattern without a wildcard names a file: its folder. "" when there is none.
    """
    first = min((i for i in map(pattern.find, _WILDCARDS) if i >= 0), default=None)
    fixed = pattern if first is None else pattern[:first]
    return fixed[: fixed.rfind("/") + 1]


class Roots:
    """The fixed folders of a report's data patterns; paths shown below them."""

    def __init__(self, patterns: Iterable[str]):
        folders = {fixed_folder(p) for p in patterns}
        # The longest folder first: a path is shown below the nearest one.
        self.folders = sorted((f for f in folders if f), key=len, reverse=True)

    def short(self, path: str) -> str:
        """`path` below the nearest pattern folder that holds it, else whole."""
        for folder in self.folders:
            if path.startswith(folder) and len(path) > len(folder):
                return path[len(folder) :]
        return path

    def cell(self, path: str) -> str:
        """A table cell of the path shown short, the whole of it as its tooltip."""
        return f'<td title="{_e(path)}">{_e(self.short(path))}</td>'

    def span(self, path: str) -> str:
        """The path shown short in running text, the whole of it as its tooltip."""
        return f'<span title="{_e(path)}">{_e(self.short(path))}</span>'


def _e(value) -> str:
    return html.escape(str(value))
