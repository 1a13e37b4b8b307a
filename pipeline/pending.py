"""pending.json: a run submitted without waiting, as data `conclude` can trust.

A Flex Template's launcher does not wait for its job: `validate --no-wait` leaves
this file and `classgate conclude` turns it into the verdict later. It holds data
only (the splits' files, the resolved model configs, the run id that the staged
results must carry), checked field by field on reading; never a path to act on.
"""

import re
from typing import Annotated

import pydantic

from classgate import config
from classgate.io import files

# pending.json larger than this was not written by classgate.
MAX_BYTES = 64 << 20
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class _File(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    path: str
    size: Annotated[int, pydantic.Field(ge=0)]
    modified: float


class _Split(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str
    patterns: list[str]
    format: str
    files: list[_File]
    skipped: list[str] = []


class Pending(pydantic.BaseModel):
    """pending.json: a submitted run, to be concluded once its job has finished."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    classgate: str
    run: Annotated[str, pydantic.Field(pattern=_RUN_ID.pattern)]
    started: str
    splits: list[_Split]
    models: list[config.ModelConfig]
    labels_only: bool
    baseline_schema: str | None
    strict: bool
    class_range_width: Annotated[int, pydantic.Field(ge=1)]
    junit_xml: str | None = None

    def request(self, output_path: str, junit_xml: str | None):
        splits = tuple(
            files.Split(
                s.name,
                tuple(s.patterns),
                s.format,
                tuple(files.DataFile(f.path, f.size, f.modified) for f in s.files),
                tuple(s.skipped),
            )
            for s in self.splits
        )
        from classgate.validate import Request

        return Request(
            splits=splits,
            models=tuple(self.models),
            output=output_path,
            labels_only=self.labels_only,
            baseline_schema=self.baseline_schema,
            strict=self.strict,
            class_range_width=self.class_range_width,
            junit_xml=junit_xml or self.junit_xml,
        )


def of(request, run: str, started: str) -> dict:
    """pending.json's content for a submitted request."""
    import classgate

    return {
        "version": 1,
        "classgate": classgate.__version__,
        "run": run,
        "started": started,
        "splits": [
            {"name": s.name, **_pending_split(s.describe())} for s in request.splits
        ],
        "models": [m.model_dump() for m in request.models],
        "labels_only": request.labels_only,
        "baseline_schema": request.baseline_schema,
        "strict": request.strict,
        "class_range_width": request.class_range_width,
        "junit_xml": request.junit_xml,
    }


def _pending_split(described: dict) -> dict:
    kept = ("patterns", "format", "files", "skipped")
    return {key: described[key] for key in kept}
