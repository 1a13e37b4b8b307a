"""gs:// for real: Beam's GCS filesystem against a local GCS emulator.

gcp-storage-emulator serves Cloud Storage's JSON API on localhost; with
STORAGE_EMULATOR_HOST set, Beam's GCS client talks to it, anonymously. Data, model
configs, vocabularies and the output folder all live on gs://.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from classgate import cli
from classgate.outputs import folder as output_folder

from tools import portable
from workspace import Workspace

pytestmark = pytest.mark.slow

BUCKET = "gs://classgate-test"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """A running emulator with one bucket; STORAGE_EMULATOR_HOST points at it."""
    port = portable.free_port()
    emulator = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator"),
            "start",
            "--port",
            str(port),
            "--default-bucket",
            BUCKET.removeprefix("gs://"),
            "--in-memory",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://localhost:{port}"
    try:
        portable._wait_for(port, [emulator])
        yield Workspace(tmp_path_factory.mktemp("gcs"))
    finally:
        emulator.kill()
        emulator.wait(timeout=30)
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


def upload(local, remote: str) -> str:
    with (
        open(local, "rb") as f,
        FileSystems.create(
            remote, compression_type=CompressionTypes.UNCOMPRESSED
        ) as out,
    ):
        out.write(f.read())
    return remote


def objects(prefix: str) -> list[str]:
    return sorted(m.path for m in FileSystems.match([prefix + "/**"])[0].metadata_list)


def run(*argv) -> int:
    return cli.main(list(argv))


def report_of(path: str) -> dict:
    with FileSystems.open(path) as f:
        return json.loads(f.read())


def test_a_run_on_gcs_equals_the_local_run(gcs):
    ws = gcs
    words = ["cash", "card", "check", "caf\u00e9"]
    vocab = ws.root / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    labels = [words[i % 4] for i in range(40)] + ["bitcoin"]
    pattern = ws.labels(labels, shards=3, name="strings")
    config = ws.config(
        f"name: m\nlabel_feature: label\nnum_classes: 4\n"
        f"num_sampled: 2\nvocabulary_file: {vocab}\n"
    )
    local = ws.root / "local"
    assert (
        run(
            "validate",
            "--data",
            pattern,
            "--model-config",
            config,
            "--output",
            str(local),
            "--labels-only",
        )
        == 1
    )
    remote_vocab = upload(vocab, f"{BUCKET}/assets/vocab.txt")
    remote_config = f"{BUCKET}/configs/model.yaml"
    with FileSystems.create(remote_config) as f:
        f.write(open(config).read().replace(str(vocab), remote_vocab).encode())
    for path in sorted((ws.root / "data" / "strings").iterdir()):
        upload(path, f"{BUCKET}/data/{path.name}")
    out = f"{BUCKET}/runs/one"
    assert (
        run(
            "validate",
            "--data",
            f"{BUCKET}/data/*",
            "--model-config",
            remote_config,
            "--output",
            out,
            "--labels-only",
        )
        == 1
    )
    ours, theirs = (
        report_of(f"{out}/report.json"),
        json.loads((local / "report.json").read_text()),
    )
    assert ours["labels"] == theirs["labels"] and ours["status"] == theirs["status"]
    assert [a["code"] for a in ours["anomalies"]] == [
        a["code"] for a in theirs["anomalies"]
    ]
    assert not [p for p in objects(out) if output_folder.STAGING in p]  # removed on GCS
    # report.json is written last: no output is newer than it.
    times = {
        m.path: m.last_updated_in_seconds
        for m in FileSystems.match([out + "/**"])[0].metadata_list
    }
    assert max(times.values()) == times[f"{out}/report.json"]


def test_folders_are_really_removed_on_gcs(gcs):
    folder = output_folder.OutputFolder(f"{BUCKET}/removal")
    for name in (
        "model/saved_model.pb",
        "model/variables/v.index",
        "logs/events",
        "metrics.json",
    ):
        with FileSystems.create(f"{BUCKET}/removal/{name}") as f:
            f.write(b"x")
    with FileSystems.create(f"{BUCKET}/removal-neighbour/model/keep") as f:
        f.write(b"keep")
    with folder.open((), sweep=False):
        for name in ("model", "logs", "metrics.json"):
            folder.remove(name)
    assert objects(f"{BUCKET}/removal") == []
    assert objects(f"{BUCKET}/removal-neighbour") == [
        f"{BUCKET}/removal-neighbour/model/keep"
    ]


def test_the_gate_on_gcs_sees_objects_rewritten_added_or_removed(gcs, capsys):
    ws = gcs
    pattern = ws.labels(list(range(4)) * 5, shards=3, name="gate")
    shards = sorted((ws.root / "data" / "gate").iterdir())
    for path in shards:
        upload(path, f"{BUCKET}/gate/{path.name}")
    config = ws.model(4, num_sampled=2)
    out = f"{BUCKET}/gate-out"
    assert (
        run(
            "validate",
            "--data",
            f"{BUCKET}/gate/*",
            "--model-config",
            config,
            "--output",
            out,
            "--labels-only",
        )
        == 0
    )
    assert pattern  # the local copy stays as it was
    probe = [sys.executable, "-c", "pass"]
    report = f"{out}/report.json"
    assert run("run", "--report", report, "--", *probe) == 0
    changes = {
        "changed": lambda: (
            time.sleep(1.1),
            upload(shards[0], f"{BUCKET}/gate/{shards[0].name}"),
        ),
        "added": lambda: upload(shards[1], f"{BUCKET}/gate/extra.tfrecord.gz"),
        "removed": lambda: FileSystems.delete([f"{BUCKET}/gate/{shards[2].name}"]),
    }
    for verb, change in changes.items():
        change()
        capsys.readouterr()
        assert run("run", "--report", report, "--", *probe) == 1, verb
        assert f"1 file(s) {verb}" in capsys.readouterr().err
        assert run(
            "validate",
            "--data",
            f"{BUCKET}/gate/*",
            "--model-config",
            config,
            "--output",
            out,
            "--labels-only",
        ) in (0, 1)


def test_a_failed_run_on_gcs_leaves_no_verdict(gcs, capsys):
    ws = gcs
    ws.labels(list(range(4)) * 5, shards=1, name="verdict")
    (path,) = sorted((ws.root / "data" / "verdict").iterdir())
    upload(path, f"{BUCKET}/verdict/good.tfrecord.gz")
    out = f"{BUCKET}/verdict-out"
    argv = [
        "--model-config",
        ws.model(4, num_sampled=2),
        "--output",
        out,
        "--labels-only",
    ]
    assert run("validate", "--data", f"{BUCKET}/verdict/*", *argv) == 0
    with FileSystems.create(
        f"{BUCKET}/verdict/bad.tfrecord", compression_type=CompressionTypes.UNCOMPRESSED
    ) as f:
        f.write(b"not a tfrecord" * 10)
    assert run("validate", "--data", f"{BUCKET}/verdict/*", *argv) == 2
    assert "bad.tfrecord" in capsys.readouterr().err
    left = objects(out)
    assert f"{out}/report.json" not in left and f"{out}/report.md" not in left
    assert not [p for p in left if output_folder.STAGING in p]
