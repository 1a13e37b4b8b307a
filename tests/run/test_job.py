"""A failed job's error as the exit code it deserves: decided by module, not file.

Exit 3 (a defect of ours) when the error's traceback, or the worker traceback a
runner hands back as text, runs through a classgate module other than the driver
modules every failure passes on its way up; exit 2 (the runner failed) otherwise.
"""

import importlib.util

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from classgate import errors
from classgate.run import job
from classgate.stats import class_counts


@pytest.mark.parametrize("name", job.DRIVER_MODULES)
def test_every_driver_module_is_a_module(name):
    assert importlib.util.find_spec(name) is not None, name


def raised_in_classgate() -> Exception:
    try:
        class_counts.ClassCounts(10).add_counts(np.array([5, 1]), np.array([1, 1]))
    except ValueError as e:
        return e
    raise AssertionError("add_counts took unsorted ids")


def test_an_error_raised_in_a_classgate_module_is_ours():
    error = raised_in_classgate()
    assert job.explain(error, request=None) is error


WORKER_TRACEBACK = """Traceback (most recent call last):
  File "apache_beam/runners/common.py", line 1498, in process
  File "/usr/local/lib/python3.11/site-packages/{path}", line 40, in process
    raise ValueError("boom")
ValueError: boom [while running 'Read[train]/Decode']"""


@pytest.mark.parametrize(
    "path, ours",
    [
        ("classgate/io/parquet.py", True),
        ("classgate/stats/__init__.py", True),
        ("classgate/run/job.py", False),
        ("classgate/cli/__init__.py", False),
        ("apache_beam/io/filesystems.py", False),
    ],
)
def test_a_worker_traceback_from_another_machine_is_judged_by_module(path, ours):
    error = RuntimeError(WORKER_TRACEBACK.format(path=path))
    explained = job.explain(error, request=None)
    if ours:
        assert explained is error
    else:
        assert isinstance(explained, errors.InputError)
        assert "the job failed in the runner" in explained.message


@pytest.mark.parametrize(
    "path, module",
    [
        ("/x/site-packages/classgate/io/parquet.py", "classgate.io.parquet"),
        ("/x/classgate/stats/__init__.py", "classgate.stats"),
        ("/x/classgate/__init__.py", "classgate"),
        ("/x/apache_beam/runners/common.py", None),
    ],
)
def test_a_file_names_its_module(path, module):
    assert job.module_of_file(path) == module


# Every word of the command line is a classgate or a Beam option ------------------


def _leftovers(*words: str) -> list[str]:
    """What the command line's parser leaves to Beam of `validate WORDS`."""
    from classgate.cli import arguments

    argv = ["validate", "--model-config", "m.yaml", "--output", "o", *words]
    return arguments.parser().parse_known_args(argv)[1]


def test_an_unquoted_glob_is_refused_not_cut_to_its_first_file():
    """The shell expanded `--data data/*` into files: the second is a stray word,
    refused naming it, never dropped (the run would then read one file)."""
    leftovers = _leftovers("--data", "data/train-0.tfrecord", "data/train-1.tfrecord")
    assert leftovers == ["data/train-1.tfrecord"]
    with pytest.raises(errors.InputError, match="quote the pattern") as raised:
        job.beam_arguments(leftovers)
    assert "'data/train-1.tfrecord'" in raised.value.message


def test_a_bogus_runner_is_named():
    with pytest.raises(errors.InputError, match="--runner Bogus: not a Beam runner"):
        job.beam_arguments(_leftovers("--runner=Bogus"))


@pytest.mark.parametrize(
    "option, shown",
    [
        ("--direct_num_workers=abc", "--direct_num_workers: invalid int value: 'abc'"),
        (
            "--direct_running_mode=bogus",
            "--direct_running_mode: invalid choice: 'bogus'",
        ),
        ("--direct_num_workers", "--direct_num_workers: expected one argument"),
        ("--nope=1", "unknown option --nope"),
    ],
)
def test_a_bad_beam_option_is_one_line_naming_it(option, shown):
    """Not Beam's 112-line usage: one line naming the option and the value."""
    with pytest.raises(errors.InputError) as raised:
        job.beam_arguments(_leftovers(option))
    assert shown in raised.value.message and "\n" not in raised.value.message


def test_beam_options_pass_through_unchanged():
    words = ["--runner=DirectRunner", "--direct_num_workers", "2"]
    assert job.beam_arguments(_leftovers(*words)) == words


# Options a typo is likely on: Beam's most used and classgate's validate flags.
_BEAM_OPTIONS = (
    "--runner",
    "--project",
    "--region",
    "--temp_location",
    "--staging_location",
    "--num_workers",
    "--max_num_workers",
    "--direct_num_workers",
    "--direct_running_mode",
    "--job_name",
    "--setup_file",
    "--requirements_file",
    "--machine_type",
    "--sdk_container_image",
    "--service_account_email",
    "--experiments",
)
_OWN = ("--model-config", "--output", "--labels-only", "--previous-report", "--strict")


def _ratio(one: str, other: str) -> float:
    import difflib

    def bare(flag):
        return flag.lstrip("-").replace("-", "_").lower()

    return difflib.SequenceMatcher(None, bare(one), bare(other)).ratio()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    option=st.sampled_from(_BEAM_OPTIONS + _OWN),
    typo=st.sampled_from(["drop", "double", "dash"]),
    at=st.floats(0, 1, exclude_max=True),
)
def test_a_misspelt_option_names_the_closest_known_one(option, typo, at):
    from classgate.cli import arguments

    name = option[2:]
    where = int(at * len(name))
    typed = {
        "drop": name[:where] + name[where + 1 :],
        "double": name[:where] + name[where] + name[where:],
        "dash": name.replace("_", "-") if "_" in name else name.replace("-", "_"),
    }
    misspelt = "--" + typed[typo]
    assume(misspelt != option)  # a name without a dash or an underscore
    own = arguments.flags_of("validate")
    with pytest.raises(errors.InputError) as raised:
        job.beam_arguments([f"{misspelt}=1"], own)
    said = raised.value.message
    assert said.startswith(f"unknown option {misspelt} (neither a classgate nor a ")
    suggested = said.rsplit(" ", 1)[1].rstrip("?)")
    whose = "classgate's" if option in _OWN else "Beam's"
    # the option meant, or one as close to what was typed
    assert suggested == option or (
        _ratio(misspelt, suggested) >= _ratio(misspelt, option)
    )
    if suggested == option:
        assert f"did you mean {whose} {option}?" in said


def test_the_command_line_says_did_you_mean_in_one_line(tmp_path, capsys):
    from classgate import cli

    code = cli.main(
        [
            *("validate", "--data", str(tmp_path / "d-*"), "--model-config", "m.yaml"),
            *("--output", str(tmp_path / "o"), "--runer=DirectRunner"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        "classgate: error: unknown option --runer (neither a classgate nor a Beam "
        "option; did you mean Beam's --runner?)\n"
    )


def test_an_option_close_to_none_gets_no_guess():
    with pytest.raises(errors.InputError) as raised:
        job.beam_arguments(["--verbose"], ("--output", "--strict"))
    assert raised.value.message == (
        "unknown option --verbose (neither a classgate nor a Beam option)"
    )


# What the job reads ------------------------------------------------------------


def _run_job(request, tmp_path):
    """Builds and runs the job of `request` (Beam's in_memory mode); its results."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from classgate.run import staging

    staged, run = str(tmp_path / "staging"), "0" * 32
    root = job.pipeline(PipelineOptions([]))
    job.build(root, request, staged, run)
    root.run().wait_until_finish()
    return staging.read_results(request, staged, run)


@pytest.mark.parametrize("fmt", ["parquet", "tfrecord"])
def test_labels_only_reads_every_feature_a_model_names(ws, tmp_path, fmt):
    """The context ids the trainer embeds are read and counted in labels-only mode
    too (a Parquet job once read the label column alone: no context checks)."""
    import builders

    from classgate.run import request

    pattern = ws.labels([0, 1, 2, 3], fmt=fmt, context=[0, 1, 2, 99])
    model = builders.model(
        num_classes=4, context_feature="context", context_vocab_size=10
    )
    made = request.request(
        {"train": (pattern,)}, [model], str(tmp_path / "out"), labels_only=True
    )
    found = _run_job(made, tmp_path)
    context = found.context(model, "train")
    assert (context.examples, context.max, context.classes_seen) == (4, 99, 3)
    assert found.label(model, "train").examples == 4


# A feature whose type changes across files -------------------------------------


def _examples(path, columns: dict) -> str:
    import pyarrow as pa
    from tfx_bsl.coders import example_coder

    from classgate.io import tfrecord

    batch = pa.RecordBatch.from_arrays(list(columns.values()), list(columns))
    records = example_coder.RecordBatchToExamplesEncoder().encode(batch)
    tfrecord.write_records(str(path), records, compress=False)
    return str(path)


@pytest.fixture
def mixed(tmp_path):
    """Two TFRecord shards; feature x is int64 in a.tfrecord, float in b.tfrecord."""
    import pyarrow as pa

    folder = tmp_path / "mixed"
    folder.mkdir()
    ints, floats = (
        pa.array([[1], [2]]),
        pa.array([[1.5], [2.5]], pa.list_(pa.float32())),
    )
    _examples(folder / "a.tfrecord", {"label": pa.array([[0], [1]]), "x": ints})
    _examples(folder / "b.tfrecord", {"label": pa.array([[0], [1]]), "x": floats})
    return str(folder / "*")


def test_types_that_differ_across_shards_are_named(mixed, tmp_path):
    """TFDV fails naming no feature; the files are read again to name it (exit 2),
    where the error once went out as a defect of ours (exit 3)."""
    import builders

    from classgate.run import request

    made = request.request({"train": (mixed,)}, [builders.model(num_classes=2)], "o")
    tfdv_error = RuntimeError("Unable to merge incompatible type: INT vs FLOAT")
    explained = job.explain(tfdv_error, made)
    assert isinstance(explained, errors.InputError)
    line = explained.message
    assert "feature 'x' is int in" in line and "but float in" in line
    assert "b.tfrecord (record 0)" in line and "a.tfrecord" in line


@pytest.mark.slow
def test_tfdv_says_so_when_a_feature_changes_type(mixed, tmp_path):
    """The words job.explain looks for are TFDV's own: its statistics of the mixed
    shards fail with them (read by the job's reader, in a Beam pipeline)."""
    import apache_beam as beam
    import builders

    from classgate.run import transforms
    from classgate.verdict import schema

    batches, _ = builders.read_files(sorted(tmp_path.glob("mixed/*")), ("label",))
    with pytest.raises(Exception, match="Unable to merge incompatible type"):
        with beam.Pipeline() as root:
            _ = (
                root
                | beam.Create(batches, reshuffle=False)
                | beam.Map(transforms.records_of)
                | schema.generate_statistics()
            )


# The DirectRunner stays off Prism ---------------------------------------------------


@pytest.mark.parametrize("runner", [[], ["--runner=DirectRunner"], ["--runner=direct"]])
def test_the_direct_runner_never_hands_the_job_to_prism(monkeypatch, runner):
    """Beam 2.68's DirectRunner would download Prism (into ~/.apache_beam) and run
    the job there; classgate's keeps it on the FnApiRunner, and the job still runs,
    without a round trip through its proto (which Beam spares its own)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability import prism_runner
    from apache_beam.testing.util import assert_that, equal_to

    tried = []

    def refused(self, *args, **kwargs):
        tried.append(self)
        raise RuntimeError("Prism was tried")

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", refused)
    # nor through a round trip of its proto, as Beam spares its own DirectRunner
    rebuilt = []
    from_proto = beam.Pipeline.from_runner_api
    monkeypatch.setattr(
        beam.Pipeline,
        "from_runner_api",
        staticmethod(lambda *a, **k: rebuilt.append(1) or from_proto(*a, **k)),
    )
    root = job.pipeline(PipelineOptions(runner))
    assert_that(
        root | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 2), equal_to([2, 4, 6])
    )
    assert root.run().wait_until_finish() == "DONE"
    assert tried == [] and rebuilt == []


def test_prism_asked_for_by_name_is_prism():
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability import prism_runner

    root = job.pipeline(PipelineOptions(["--runner=PrismRunner"]))
    assert isinstance(root.runner, prism_runner.PrismRunner)


def test_no_list_of_the_submitting_machines_packages_is_staged(tmp_path):
    """Beam's stager would run `pip freeze` (half a second) for every portable or
    Dataflow job, to stage the list beside it."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability import stager

    root = job.pipeline(PipelineOptions(["--runner=PortableRunner"]))
    staged = stager.Stager.create_job_resources(root._options, str(tmp_path))
    assert not any(stager.SUBMISSION_ENV_DEPENDENCIES_FILE in str(a) for a in staged)
    assert not (tmp_path / stager.SUBMISSION_ENV_DEPENDENCIES_FILE).exists()
