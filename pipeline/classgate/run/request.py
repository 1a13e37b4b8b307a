"""What one validation is asked, checked once: the Request, and pending.json.

A `Request` is made by `request()` from the command line's or the library's
arguments: its splits listed, its models loaded, its output folder known not to lie
inside the data. It is frozen data, and exactly what a submitted run's pending.json
holds (`Submission`): `validate --no-wait` writes it, `conclude` reads it back and
checks it field by field, as it checks anything it did not write itself.

Anyone who can write the output folder can plant pending.json, so conclude acts on
one path of it only, the JUnit file, and only when it names a file of its own
inside the folder conclude was told to write; every other path a Request names
(vocabularies, checkpoints, the baseline schema, the history) is what the
submitting run read and staged as data (classgate.run.staging), never reopened.
"""

import datetime
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import pydantic

from classgate import config, errors, names
from classgate.io import files, storage
from classgate.outputs import folder, publish
from classgate.stats import class_counts
from classgate.stats.label import LabelSpec, specs_of

# pending.json larger than this was not written by classgate.
MAX_PENDING_BYTES = 64 << 20
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# Dataflow's job ids look like 2024-05-01_12_34_56-1234567890123456789; other
# runners' ids are shown in messages only, so: a short, printable, plain token.
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class Request(pydantic.BaseModel):
    """Everything one validation needs, resolved and checked."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    splits: Annotated[tuple[files.Split, ...], pydantic.Field(min_length=1)]
    models: Annotated[tuple[config.ModelConfig, ...], pydantic.Field(min_length=1)]
    output: str
    labels_only: bool = False
    baseline_schema: str | None = None
    previous_report: str | None = None
    strict: bool = False
    beam_args: tuple[str, ...] = ()
    # False: submit the job and return (a Flex Template's launcher does not wait
    # for the job it starts); the verdict comes from the job's last stage, or
    # with verdict_by "conclude" from `classgate conclude` alone.
    wait: bool = True
    verdict_by: Literal["job", "conclude"] = "job"
    # Classes per key range of the per-class counts, each range combined apart.
    class_range_width: config.PositiveInt = class_counts.RANGE_WIDTH
    junit_xml: Annotated[str, pydantic.Field(min_length=1, max_length=4096)] | None = (
        None
    )
    # When the splits were listed (seconds since the epoch, taken before): a
    # later run reuses a file's partial only if the file changed well before it
    # (run.partials.RACY_S). None: no partial of this run is ever reused.
    listed: float | None = None

    @property
    def training_split(self) -> str:
        """`train`, or the first split when none is named so."""
        split_names = [s.name for s in self.splits]
        return "train" if "train" in split_names else split_names[0]

    @property
    def specs(self) -> list[LabelSpec]:
        """Label specs first, then the trainer's context ids: one accumulator each."""
        return specs_of(self.models)


def request(
    patterns: Mapping[str, Sequence[str]],
    models: Sequence[config.ModelConfig],
    output_path: str,
    *,
    data_format: str = "auto",
    class_range_width: int | None = None,
    **options,
) -> Request:
    """A Request, its splits listed; InputError for a split that matches nothing.

    Never one whose output folder the data patterns would match, links followed.
    `patterns` maps a split's name to its file patterns; `options` are Request's
    other fields.
    """
    for name in patterns:
        if not isinstance(name, str) or not files.SPLIT_NAME.match(name):
            raise errors.InputError(
                f"split name {str(name)[:60]!r}: use letters, digits, '_', '-' or '.'"
            )
    absolute = {
        name: tuple(files.absolute(p) for p in globs)
        for name, globs in patterns.items()
    }
    listed = time.time()  # before any file is listed: see Request.listed
    splits = tuple(
        files.list_split(name, globs, data_format) for name, globs in absolute.items()
    )
    made = Request(
        splits=splits,
        models=tuple(models),
        output=output_path,
        class_range_width=class_range_width or class_counts.RANGE_WIDTH,
        listed=listed,
        **options,
    )
    out = folder.OutputFolder(output_path)
    written = [out.join(name) for name in publish.declared(made)]
    written.append(out.join(folder.STAGING, "labels-0-0.npz"))
    written += [files.real(path) for path in written]  # links followed, too
    for split, globs in absolute.items():
        for pattern in globs:
            forms = dict.fromkeys([pattern, files.real_pattern(pattern)])
            hit = next(
                (p for p in written for form in forms if files.matches(form, p)),
                None,
            )
            if hit:
                raise errors.InputError(
                    f"--output {output_path} lies inside the data: split '{split}' "
                    f"pattern {pattern} would match {hit}; write the outputs "
                    "elsewhere"
                )
    return made


class Submission(pydantic.BaseModel):
    """pending.json: a submitted run, to be concluded once its job has finished."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    version: Literal[2] = 2
    classgate: str  # the version that submitted the job
    run: Annotated[str, pydantic.Field(pattern=_RUN_ID.pattern)]
    # The runner's id of the job (Dataflow's), None when the runner has none.
    job_id: Annotated[str, pydantic.Field(pattern=_JOB_ID.pattern)] | None = None
    started: str
    request: Request

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

    @classmethod
    def of(cls, request: Request, run: str, started: str, result=None) -> "Submission":
        """The submission of `request`'s job, given the runner's `result`.

        `result` is None before the job is submitted: no job id yet.
        """
        import classgate

        junit_xml = request.junit_xml
        if junit_xml and not storage.is_remote(junit_xml):
            junit_xml = os.path.abspath(junit_xml)  # conclude may run elsewhere
        return cls(
            classgate=classgate.__version__,
            run=run,
            job_id=_job_id(result),
            started=started,
            request=request.model_copy(update={"junit_xml": junit_xml}),
        )

    @classmethod
    def read(cls, output_path: str) -> "Submission":
        """The pending.json in `output_path`; InputError when there is none of ours."""
        path = folder.OutputFolder(output_path).join(names.PENDING)
        try:
            data = storage.read(path, MAX_PENDING_BYTES)
            return cls.model_validate(storage.parse_json(data, path))
        except Exception as e:  # no such file, unreadable, not JSON, not ours
            first = errors.first_line(e)[:300]
            raise errors.InputError(
                f"{path}: no submitted run to conclude here ({first})"
            ) from e

    def to_json(self) -> str:
        return self.model_dump_json(indent=1) + "\n"

    def console_url(self) -> str | None:
        """The Dataflow console's page of the job, when it ran on Dataflow."""
        from apache_beam.options.pipeline_options import (
            GoogleCloudOptions,
            PipelineOptions,
            StandardOptions,
        )

        options = PipelineOptions(list(self.request.beam_args))
        runner = options.view_as(StandardOptions).runner or ""
        cloud = options.view_as(GoogleCloudOptions)
        if not self.job_id or "dataflow" not in runner.lower():
            return None
        return (
            f"https://console.cloud.google.com/dataflow/jobs/{cloud.region}/"
            f"{self.job_id}?project={cloud.project}"
        )

    def request_for(self, output_path: str, junit_xml: str | None) -> Request:
        """The submitted Request, writing into `output_path`.

        JUnit XML goes to `junit_xml` when given (the caller's own flag), else to
        the recorded path if it names a file of its own inside `output_path`: a
        path read from a file is refused (InputError), not followed, anywhere else.
        """
        made = self.request.model_copy(
            update={"output": output_path, "junit_xml": None}
        )
        recorded = self.request.junit_xml
        if junit_xml or recorded is None:
            return made.model_copy(update={"junit_xml": junit_xml})
        out = folder.OutputFolder(output_path)
        name = out.relative(recorded)
        taken = set(publish.declared(made))
        if name is None or not _plain(name) or name in taken:
            raise errors.InputError(
                f"{out.join(names.PENDING)}: junit_xml {recorded[:200]} is not a "
                f"file of its own inside {out.path}, and conclude writes a path read "
                "from a file only there; to write it anyway, give `classgate "
                f"conclude --junit-xml {recorded[:200]}`"
            )
        return made.model_copy(update={"junit_xml": out.join(name)})


def _job_id(result) -> str | None:
    """The runner's id of a submitted job: DataflowPipelineResult.job_id().

    None for runners whose results have none (the DirectRunner's, the portable one's).
    """
    get = getattr(result, "job_id", None)
    found = get() if callable(get) else None
    return str(found) if found else None


def _plain(name: str) -> bool:
    """Whether `name` is a file's own name inside the folder.

    No '..', no empty part, and none of classgate's hidden bookkeeping files
    (manifest, lock, staging).
    """
    parts = name.split("/")
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        return False
    return not parts[0].startswith(".classgate")
