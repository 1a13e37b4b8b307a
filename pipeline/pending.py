"""pending.json: a run submitted without waiting, as data `conclude` can trust.

A Flex Template's launcher does not wait for its job: `validate --no-wait` leaves
this file and `classgate conclude` turns it into the verdict later. It holds data
(the splits' files, the resolved model configs, the run id that the staged results
must carry, the classgate version and the runner's job id), checked field by field
on reading. One path in it is acted on: `junit_xml`, where the submitter asked for
JUnit XML. Anyone who can write the folder can plant this file, so conclude writes
that path only when it lies inside the folder it concludes (--output), as a plain
name that is none of classgate's own files; it never deletes anything there. A
JUnit file elsewhere takes `conclude --junit-xml`, which overrides the recorded one.
"""

import dataclasses
import datetime
import os
import re
from typing import Annotated, Literal

import pydantic

from classgate import config, errors, names, output, storage
from classgate.io import files

# pending.json larger than this was not written by classgate.
MAX_BYTES = 64 << 20
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# Dataflow's job ids look like 2024-05-01_12_34_56-1234567890123456789; other
# runners' ids are shown in messages only, so: a short, printable, plain token.
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class Pending(pydantic.BaseModel):
    """pending.json: a submitted run, to be concluded once its job has finished."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    classgate: str  # the version that submitted the job
    run: Annotated[str, pydantic.Field(pattern=_RUN_ID.pattern)]
    # The runner's id of the job (Dataflow's), None when the runner has none.
    job_id: Annotated[str, pydantic.Field(pattern=_JOB_ID.pattern)] | None = None
    started: str
    splits: Annotated[list[files.Split], pydantic.Field(min_length=1)]
    models: Annotated[list[config.ModelConfig], pydantic.Field(min_length=1)]
    labels_only: bool
    baseline_schema: str | None
    previous_report: str | None = None
    strict: bool
    class_range_width: Annotated[int, pydantic.Field(ge=1, le=config.INT64_MAX)]
    # The submitter's --junit-xml (absolute when local); see `junit_path`.
    junit_xml: Annotated[str, pydantic.Field(min_length=1, max_length=4096)] | None = (
        None
    )

    @pydantic.field_validator("started")
    @classmethod
    def _zoned_time(cls, started: str) -> str:
        try:
            when = datetime.datetime.fromisoformat(started)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValueError("not an ISO time with its zone")
        return started

    def request(self, output_path: str, junit_xml: str | None):
        """The submitted Request, writing into `output_path`.

        JUnit XML goes to `junit_xml` when given (the caller's own flag), else to
        the recorded path, which `junit_path` checks first.
        """
        from classgate.validation import Request

        made = Request(
            splits=tuple(self.splits),
            models=tuple(self.models),
            output=output_path,
            labels_only=self.labels_only,
            baseline_schema=self.baseline_schema,
            previous_report=self.previous_report,
            strict=self.strict,
            class_range_width=self.class_range_width,
        )
        junit_xml = junit_xml or self.junit_path(made)
        return dataclasses.replace(made, junit_xml=junit_xml)

    def junit_path(self, request) -> str | None:
        """The recorded JUnit path, if it names a file of its own inside --output.

        A path read from a file: outside the folder that conclude was told to
        write, or over one of classgate's own files, it is refused (InputError)
        rather than followed.
        """
        if self.junit_xml is None:
            return None
        from classgate import publish

        folder = output.OutputFolder(request.output)
        name = folder.relative(self.junit_xml)
        taken = set(publish.declared(request))  # request has no junit_xml yet
        if name is None or not _plain(name) or name in taken:
            raise errors.InputError(
                f"{folder.join(names.PENDING)}: junit_xml {self.junit_xml[:200]} "
                f"is not a file of its own inside {folder.path}, and conclude writes "
                "a path read from a file only there; to write it anyway, give "
                f"`classgate conclude --junit-xml {self.junit_xml[:200]}`"
            )
        return folder.join(name)


def job_id(result) -> str | None:
    """The runner's id of a submitted job: DataflowPipelineResult.job_id().

    None for runners whose results have none (the DirectRunner's, the portable one's).
    """
    get = getattr(result, "job_id", None)
    found = get() if callable(get) else None
    return str(found) if found else None


def of(request, run: str, started: str, job: str | None = None) -> dict:
    """pending.json's content for a submitted request; `job` is the runner's id."""
    import classgate

    junit_xml = request.junit_xml
    if junit_xml and not storage.is_remote(junit_xml):
        junit_xml = os.path.abspath(junit_xml)  # conclude may run elsewhere
    return {
        "version": 1,
        "classgate": classgate.__version__,
        "run": run,
        "job_id": job,
        "started": started,
        "splits": [s.model_dump(mode="json") for s in request.splits],
        "models": [m.model_dump() for m in request.models],
        "labels_only": request.labels_only,
        "baseline_schema": request.baseline_schema,
        "previous_report": request.previous_report,
        "strict": request.strict,
        "class_range_width": request.class_range_width,
        "junit_xml": junit_xml,
    }


def _plain(name: str) -> bool:
    """Whether `name` is a file's own name inside the folder.

    No '..', no empty part, and none of classgate's hidden bookkeeping files
    (manifest, lock, staging).
    """
    parts = name.split("/")
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        return False
    return not parts[0].startswith(".classgate")
