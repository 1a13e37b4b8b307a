"""The Request and pending.json: what a validation is asked, checked once.

Over real files in tmp_path: the output folder never inside the data (links
followed), patterns made absolute, and pending.json read back as data checked
field by field, its one path (the JUnit file) written only inside --output.
"""

import json
import pathlib
import pickle

import builders
import pytest

import classgate
from classgate import errors, names
from classgate.io import files
from classgate.run import request
from classgate.run.request import Request, Submission

RUN = "0123456789abcdef" * 2
STARTED = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def data(tmp_path):
    """Two Parquet-named shards; their pattern."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("a.parquet", "b.parquet"):
        (folder / name).write_bytes(b"data of " + name.encode())
    return str(folder / "*.parquet")


def made(data, out, **options) -> Request:
    return request.request(
        {"train": (data,)}, [builders.model(num_sampled=2)], str(out), **options
    )


# The output folder is never inside the data --------------------------------------


def test_an_output_inside_the_data_is_refused(tmp_path, data):
    with pytest.raises(errors.InputError, match="lies inside the data") as raised:
        request.request(
            {"train": (str(tmp_path / "data" / "**"),)},
            [builders.model()],
            str(tmp_path / "data" / "out"),
        )
    assert "split 'train'" in raised.value.message
    made(data, tmp_path / "data" / "out")  # this pattern matches no output name


def test_an_output_linked_into_the_data_is_inside_the_data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train-0").write_bytes(b"x")
    link = tmp_path / "out-link"
    link.symlink_to(folder)
    with pytest.raises(errors.InputError, match="lies inside the data"):
        request.request({"train": (str(folder / "*"),)}, [builders.model()], str(link))


def test_patterns_are_made_absolute_so_a_report_reads_from_anywhere(
    tmp_path, data, monkeypatch
):
    """A relative --data is named absolutely (the gate opens from any working
    directory, as a trainer's may be)."""
    monkeypatch.chdir(tmp_path)
    found = request.request({"train": ("data/*.parquet",)}, [builders.model()], "out")
    (split,) = found.splits
    assert split.patterns == (data,)
    assert [f.path for f in split.files] == [
        str(tmp_path / "data" / n) for n in ("a.parquet", "b.parquet")
    ]


# pending.json: data, checked field by field ----------------------------------------


@pytest.fixture
def pending(tmp_path, data) -> pathlib.Path:
    """The output folder of a submitted run: its pending.json, as written."""
    out = tmp_path / "out"
    out.mkdir()
    submission = Submission(
        classgate=classgate.__version__,
        run=RUN,
        started=STARTED,
        request=made(data, out, wait=False, labels_only=True),
    )
    (out / names.PENDING).write_text(submission.to_json())
    return out


def test_a_submission_reads_back_as_it_was_written(pending):
    read = Submission.read(str(pending))
    assert read.to_json() == (pending / names.PENDING).read_text()
    assert read.request.models == (builders.model(num_sampled=2),)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_id", "$(rm -rf /)"),
        ("job_id", "x" * 200),
        ("run", "../../x"),
        ("version", 1),
        ("request.junit_xml", ""),
        ("surprise", 1),
        ("started", "yesterday"),
        ("started", "2026-01-01T00:00:00"),  # no zone to compare with
        ("request.splits", []),
        ("request.class_range_width", 0),
        ("request.models", [{"name": "m"}]),
    ],
)
def test_pending_json_is_checked_field_by_field(pending, field, value):
    path = pending / names.PENDING
    submitted = json.loads(path.read_text())
    *inside, key = field.split(".")
    holder = submitted
    for step in inside:
        holder = holder[step]
    holder[key] = value
    path.write_text(json.dumps(submitted))
    with pytest.raises(errors.InputError, match="no submitted run to conclude"):
        Submission.read(str(pending))


@pytest.mark.parametrize(
    "content", [None, b"", b"[" * 200_000, b"\xff\xfe", b"null", b"{}"]
)
def test_no_submitted_run_is_a_line_naming_the_file(tmp_path, content):
    if content is not None:
        (tmp_path / names.PENDING).write_bytes(content)
    with pytest.raises(errors.InputError) as raised:
        Submission.read(str(tmp_path))
    message = raised.value.message
    assert "no submitted run to conclude" in message and "\n" not in message
    assert message.startswith(str(tmp_path / names.PENDING))


def test_a_planted_pending_json_runs_no_code_and_opens_no_path(tmp_path):
    """An older pending.json named a staging folder anywhere, whose pickles were
    loaded: now such a file is no submission at all, and nothing in it is read."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    (victim / "labels-0-0.pkl").write_bytes(pickle.dumps(Payload()))
    out = tmp_path / "out"
    out.mkdir()
    planted = {
        "staging": str(victim),
        "started": STARTED,
        "splits": [],
        "models": [],
        "labels_only": True,
        "strict": False,
    }
    (out / names.PENDING).write_text(json.dumps(planted))
    with pytest.raises(errors.InputError, match="no submitted run"):
        Submission.read(str(out))
    assert (victim / "precious.txt").read_text() == "keep" and not marker.exists()


class DataflowResult:
    """What a DataflowPipelineResult adds to the DirectRunner's: a job id."""

    def job_id(self):
        return "2024-05-01_12_34_56-1234567890123456789"


def test_a_submission_records_the_runners_job_id_and_an_absolute_junit(
    tmp_path, data, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    asked = made(data, "out", wait=False, junit_xml="ci/junit.xml")
    dataflow = Submission.of(asked, RUN, STARTED, DataflowResult())
    assert dataflow.job_id == "2024-05-01_12_34_56-1234567890123456789"
    assert dataflow.request.junit_xml == str(tmp_path / "ci" / "junit.xml")
    assert Submission.of(asked, RUN, STARTED, object()).job_id is None
    assert dataflow.classgate == classgate.__version__


# The one path conclude takes from pending.json: the JUnit file, inside --output ----


def submission(out, junit_xml) -> Submission:
    split = files.list_split("train", (str(out / "*.parquet"),), "parquet")
    asked = Request(
        splits=(split,),
        models=(builders.model(),),
        output=str(out),
        junit_xml=junit_xml,
    )
    return Submission(classgate="0", run=RUN, started=STARTED, request=asked)


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(b"x")  # a file for the split to list
    return folder


@pytest.mark.parametrize(
    "planted",
    [
        "{root}/elsewhere.xml",  # outside --output
        "{out}/../elsewhere.xml",
        "{out}/report.json",  # over classgate's own outputs and bookkeeping
        "{out}/statistics/Split-train/FeatureStats.pb",
        "{out}/.classgate-manifest.json",
        "{out}/.classgate-staging/junit.xml",
    ],
)
def test_a_junit_path_read_from_pending_json_stays_in_its_own_file(out, planted):
    """pending.json can be planted by anyone who can write the folder: the path it
    names is written only as a file of its own inside --output."""
    junit = planted.format(root=out.parent, out=out)
    with pytest.raises(errors.InputError) as raised:
        submission(out, junit).request_for(str(out), None)
    message = raised.value.message
    assert "conclude writes a path read from a file only there" in message
    assert f"--junit-xml {junit}`" in message and "\n" not in message
    # Given on conclude's own command line, the same path is the caller's choice.
    given = submission(out, junit).request_for(str(out), junit)
    assert given.junit_xml == junit


def test_a_recorded_junit_inside_the_output_is_written_there(out):
    recorded = str(out / "ci" / "junit.xml")
    found = submission(out, recorded).request_for(str(out), None)
    assert found.junit_xml == recorded and found.output == str(out)
    assert submission(out, None).request_for(str(out), None).junit_xml is None
    mine = str(out.parent / "mine.xml")
    assert submission(out, recorded).request_for(str(out), mine).junit_xml == mine


def test_the_request_names_its_specs_labels_then_context_ids():
    model = builders.model(context_feature="context", context_vocab_size=7)
    asked = Request.model_construct(models=(model,))
    assert [(s.feature, s.num_classes) for s in asked.specs] == [
        ("label", 10),
        ("context", 7),
    ]


def test_a_split_named_with_a_path_character_is_refused(data):
    with pytest.raises(errors.InputError, match="split name 'a b'"):
        request.request({"a b": (data,)}, [builders.model()], "out")


def test_the_training_split_is_train_or_else_the_first(data):
    """The schema is inferred from it, and the other splits are checked against
    it, whatever order the splits were given in."""
    model = [builders.model()]
    both = request.request({"eval": (data,), "train": (data,)}, model, "out")
    assert both.training_split == "train"
    other = request.request({"b": (data,), "a": (data,)}, model, "out")
    assert other.training_split == "b"
