"""A run submitted without waiting (a Flex Template launch) and its later verdict.

The job's last stage writes the verdict itself (the DirectRunner runs the job
inside `run()`, so `validate --no-wait` returns it). With `--verdict-by
conclude`, `conclude` over the folder of one real submitted run (its job ran once,
for the module), copied for each test: what it reads is what the job staged,
never a path pending.json names; its JUnit file goes where the submitter or the
caller said. `conclude` is idempotent and can wait. pending.json's fields and the
staged results themselves are unit-tested in test_request.py and test_staging.py;
a job that outlives its submitter (the portable runner's) in test_job_portable.py.
"""

import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest

from classgate import cli, errors, names
from classgate.outputs import folder as output_folder
from classgate.run import validation

from workspace import Workspace


def staged_folder(out):
    """The staging folder of a submitted run: derived from --output alone."""
    return out / output_folder.STAGING


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    """The folder of a `validate --no-wait --verdict-by conclude` of failing data
    (label 12 of 10 classes), its job finished: pending.json and staged results."""
    ws = Workspace(tmp_path_factory.mktemp("submitted"))
    pattern = ws.labels(list(range(10)) * 3 + [12])
    out = ws.root / "out"
    argv = ["--data", pattern, "--model-config", ws.model(10), "--output", str(out)]
    no_wait = ["--no-wait", "--verdict-by", "conclude", "--labels-only"]
    assert cli.main(["validate", *argv, *no_wait]) == 0
    return out


@pytest.fixture
def out(submission, tmp_path):
    """This test's copy of the submitted run's folder."""
    copy = tmp_path / "out"
    shutil.copytree(submission, copy)
    return copy


def edit_pending(out, **request):
    """Rewrites fields of pending.json's request (still a valid submission)."""
    path = out / names.PENDING
    submitted = json.loads(path.read_text())
    submitted["request"].update(request)
    path.write_text(json.dumps(submitted))
    return submitted


def test_conclude_gives_the_verdict_and_clears_the_submission(out):
    outcome = validation.conclude(str(out))
    assert outcome.status == "fail"
    assert "LABEL_ABOVE_RANGE" in [a.code for a in outcome.anomalies]
    report = json.loads((out / "report.json").read_text())
    assert report["labels"]["train"]["label"]["examples"] == 31
    assert (out / "report.html").exists() and not (out / names.PENDING).exists()
    assert not staged_folder(out).exists()


def test_conclude_before_the_job_finished(out):
    for result in staged_folder(out).iterdir():
        result.unlink()  # as if the job were still running
    with pytest.raises(errors.InputError, match="has not finished, or failed"):
        validation.conclude(str(out))
    assert (out / names.PENDING).exists() and not (out / "report.json").exists()
    started = time.monotonic()
    with pytest.raises(errors.NotFinished, match=r"after waiting 1 s"):
        validation.conclude(str(out), wait_s=1)
    assert time.monotonic() - started >= 1


def test_conclude_is_idempotent(out, tmp_path, capsys):
    """A CI step retried: the verdict that stands is given again, same exit code,
    its JUnit XML written again; the folder is left as the first conclude left it."""
    assert cli.main(["conclude", "--output", str(out)]) == 1
    first = capsys.readouterr().out
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    junit = tmp_path / "again.xml"
    assert cli.main(["conclude", "--output", str(out), "--junit-xml", str(junit)]) == 1
    assert capsys.readouterr().out == first
    assert junit_failures(junit) == ["LABEL_ABOVE_RANGE"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def test_conclude_waits_for_the_job(out):
    """`conclude --wait` polls until the job has staged everything."""
    hidden = out.parent / "held-back"
    staged_folder(out).rename(hidden)  # the job still running
    staged_folder(out).mkdir()
    done = subprocess.Popen(
        [sys.executable, "-m", "classgate", "conclude", "--output", str(out),
         "--wait", "120"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(3)
    assert done.poll() is None  # still waiting
    for result in hidden.iterdir():  # the job stages its results
        result.rename(staged_folder(out) / result.name)
    shown, _ = done.communicate(timeout=120)
    assert done.returncode == 1 and "LABEL_ABOVE_RANGE" in shown
    assert (out / "report.json").exists() and not (out / names.PENDING).exists()


def test_the_jobs_last_stage_writes_the_verdict(ws, capsys):
    """`validate --no-wait`: the job concludes itself, report.json last; on the
    DirectRunner, which runs the job inside run(), that verdict is the exit code."""
    out = ws.root / "out"
    argv = ["--data", ws.labels(list(range(10)) * 3 + [12]), "--model-config",
            ws.model(10), "--output", str(out), "--labels-only"]  # fmt: skip
    assert cli.main(["validate", *argv, "--no-wait"]) == 1
    assert "LABEL_ABOVE_RANGE" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["labels"]["train"]["label"]["examples"] == 31
    assert not (out / names.PENDING).exists() and not staged_folder(out).exists()
    assert cli.main(["conclude", "--output", str(out)]) == 1  # idempotent


def test_the_jobs_last_stage_leaves_a_later_runs_folder_alone(out):
    """A job whose run no longer owns the folder (pending.json names another run)
    writes nothing there."""
    pending = json.loads((out / names.PENDING).read_text())
    validation.conclude_in_job(1, str(out), "0" * 32)
    assert not (out / "report.json").exists()
    validation.conclude_in_job(1, str(out), pending["run"])
    assert json.loads((out / "report.json").read_text())["status"] == "fail"


def junit_failures(path) -> list[str]:
    suites = ElementTree.parse(path).getroot()
    return sorted(
        case.get("name")
        for case in suites.iter("testcase")
        if case.find("failure") is not None
    )


def test_conclude_writes_the_junit_xml_the_submitter_asked_for(out):
    junit = out / "ci" / "junit.xml"
    edit_pending(out, junit_xml=str(junit))
    assert validation.conclude(str(out)).status == "fail"
    assert junit_failures(junit) == ["LABEL_ABOVE_RANGE"]


def test_conclude_junit_xml_overrides_the_recorded_one(out, tmp_path):
    recorded, given = out / "junit.xml", tmp_path / "ci" / "mine.xml"
    edit_pending(out, junit_xml=str(recorded))
    assert validation.conclude(str(out), str(given)).status == "fail"
    assert junit_failures(given) == ["LABEL_ABOVE_RANGE"]
    assert not recorded.exists()


def test_a_planted_junit_path_leaves_every_file_as_it_was(out, tmp_path):
    """pending.json can be planted by anyone who can write the folder: a JUnit
    path it names outside --output is refused before anything is written or
    removed (each kind of such path: test_request.py)."""
    edit_pending(out, junit_xml=str(tmp_path / "elsewhere.xml"))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(errors.InputError, match="--junit-xml"):
        validation.conclude(str(out))
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing removed


def test_a_job_that_has_not_finished_is_named_by_its_runners_id(out):
    path = out / names.PENDING
    submitted = json.loads(path.read_text())
    submitted["job_id"] = "2024-05-01_12_34_56-1234567890123456789"
    path.write_text(json.dumps(submitted))
    (staged,) = staged_folder(out).glob("labels-*")
    staged.unlink()  # as if the job were still running
    with pytest.raises(errors.InputError) as raised:
        validation.conclude(str(out))
    message = raised.value.message
    assert "job 2024-05-01_12_34_56-1234567890123456789 has not finished" in message


def test_conclude_opens_no_path_a_planted_pending_json_names(out, tmp_path, capsys):
    """Vocabulary, checkpoint, baseline schema and history come from what the
    submitting run staged; pending.json's paths are never opened, nor echoed."""
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-1\nSECRET-1\nSECRET-2\n")  # duplicate lines get echoed
    pending = json.loads((out / names.PENDING).read_text())
    pending["request"]["models"][0].update(
        vocabulary_file=str(secret),
        checkpoint=str(tmp_path / "no-such-checkpoint"),
        weights_variable="w",
    )
    pending["request"]["baseline_schema"] = str(secret)
    pending["request"]["previous_report"] = str(secret)
    (out / names.PENDING).write_text(json.dumps(pending))
    code = cli.main(["conclude", "--output", str(out)])
    shown = capsys.readouterr()
    assert code in (0, 1, 2), shown.err
    assert "SECRET" not in shown.out + shown.err
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert not any(b"SECRET" in data for data in written)
    assert "no-such-checkpoint" not in shown.err


@pytest.mark.slow
def test_labels_only_never_imports_tensorflow(ws):
    """The path issue 5 made fast stays so: a labels-only run imports neither
    TensorFlow nor TFDV (seconds of start-up)."""
    pattern = ws.labels([0, 1, 2, 3])
    script = (
        "import sys\n"
        "from classgate import cli\n"
        f"code = cli.main(['validate', '--data', {pattern!r}, '--model-config', "
        f"{ws.model(4)!r}, '--output', {str(ws.root / 'out')!r}, '--labels-only'])\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_data_validation') "
        "if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
