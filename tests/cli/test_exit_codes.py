"""Exit 3 only for a defect of classgate's: the user's own conditions are exit 2.

Each test sets up a real condition (a full file size limit, damaged files that
classgate reads back) and runs the command line: exit 2 with one line naming the
path, or exit 1; never 3, never a traceback. Each reader's own refusals are tested
on that reader (a path through a file: tests/outputs/test_publish.py; an
unreachable bucket: tests/outputs/test_history.py; JSON nested past recursion:
tests/gate/test_blessing.py, test_folder.py, test_request.py).
"""

import io
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import cli
from classgate.outputs import folder as output_folder

CLEAN = list(range(10)) * 3
# `classgate` with its writes limited to FSIZE bytes a file, as a full disk would
# stop them (EFBIG rather than ENOSPC: the same OSError path, no mount needed).
FSIZE = 4_096
LIMITED = (
    "import resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FSIZE}, {FSIZE}))\n"
    "from classgate import cli\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


def one_line_error(err: str, *needles: str) -> None:
    assert err.count("\n") == 1 and err.startswith("classgate: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def clean(ws):
    return ws.labels(CLEAN), ws.model(10, num_sampled=2)


@pytest.mark.slow
def test_a_full_disk_under_output_is_exit_2_naming_the_path(ws, clean):
    out = ws.root / "out"
    done = subprocess.run(
        [sys.executable, "-c", LIMITED, "validate", "--data", clean[0]]
        + ["--model-config", clean[1], "--output", str(out), "--labels-only"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    one_line_error(done.stderr, str(out), "File too large")
    assert not (out / "report.json").exists()


# Damage to every file classgate reads back: reports, the manifest, pending.json,
# staged results and a previous run's class counts. Whatever the damage, exit 1
# or 2 (0 where the damage left the meaning whole), never 3.


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    """The files of a finished run (`run/`) and of a later one submitted with
    --no-wait (`pending/`) that compares with it."""
    from workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("submitted"))
    pattern, config = ws.labels(CLEAN + [12]), ws.model(10, num_sampled=2)
    common = ["--data", pattern, "--model-config", config, "--labels-only"]
    run, pending = ws.root / "run", ws.root / "pending"
    assert cli.main(["validate", *common, "--output", str(run)]) == 1
    previous = ["--previous-report", str(run)]
    submit = ["--output", str(pending), "--no-wait", "--verdict-by", "conclude"]
    submit += ["--junit-xml", str(pending / "junit.xml")]
    assert cli.main(["validate", *common, *previous, *submit]) == 0
    files = {
        path.relative_to(ws.root).as_posix(): path.read_bytes()
        for folder in (run, pending)
        for path in folder.rglob("*")
        if path.is_file() and path.name != output_folder.LOCK
    }
    return ws, common, files


# Values a damaged file may hold where it held another: wrong types, signs and
# sizes, paths that lead out, times that are no times, nesting past recursion.
HOSTILE_VALUES = [
    None,
    -1,
    0,
    2**70,
    1.5,
    float("nan"),
    "",
    "yesterday",
    "../../escape",
    "/etc/passwd",
    "0" * 32,
    [],
    {},
    [[]],
    {"a": 1},
]
HOSTILE_BYTES = [b"", b"\x00" * 64, b"[" * 100_000, b"{}", b"null", b"PK\x03\x04" * 8]


def _damage():
    """A way of damaging a file: its bytes, or one value of its JSON or arrays."""
    return st.one_of(
        st.tuples(st.just("truncate"), st.floats(0, 1)),
        st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
        st.tuples(st.just("replace"), st.sampled_from(HOSTILE_BYTES)),
        st.tuples(
            st.just("value"), st.integers(0, 10_000), st.sampled_from(HOSTILE_VALUES)
        ),
        st.tuples(
            st.just("array"), st.integers(0, 100), st.sampled_from(HOSTILE_ARRAYS)
        ),
    )


HOSTILE_ARRAYS = [
    np.array([], dtype=np.int64),
    np.array([-1, 5], dtype=np.int64),
    np.array([3, 1], dtype=np.int64),
    np.array([0.5, np.nan]),
    np.array([2**62, 2**62], dtype=np.int64),
    np.zeros((2, 2), dtype=np.int64),
    np.array([1], dtype=np.uint8),
]


def _leaves(node, where=()):
    """Every value in a JSON document, with its place."""
    yield where
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _leaves(value, (*where, key))


def _replaced(node, where, value):
    if not where:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[where[0]] = _replaced(node[where[0]], where[1:], value)
    return copy


def _damaged(data: bytes, damage) -> bytes:
    kind = damage[0]
    if kind == "truncate":
        return data[: int(len(data) * damage[1])]
    if kind == "flip":
        if not data:
            return data
        at = min(int(len(data) * damage[1]), len(data) - 1)
        return data[:at] + bytes([data[at] ^ damage[2]]) + data[at + 1 :]
    if kind == "replace":
        return damage[1]
    if data.startswith(b"PK"):  # a staged .npz: its JSON header or one array
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if "header" not in arrays:  # a run's class counts: arrays alone
            kind = "array"
            header = None
        else:
            header = json.loads(arrays["header"].tobytes())
        if kind == "value":
            places = list(_leaves(header))
            where = places[damage[1] % len(places)]
            header = _replaced(header, where, damage[2])
        else:
            names = sorted(n for n in arrays if n != "header") or ["header"]
            arrays[names[damage[1] % len(names)]] = damage[2]
        if header is not None:
            text = json.dumps(header).encode()
            arrays["header"] = np.frombuffer(text, dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()
    try:
        document = json.loads(data)
    except ValueError:
        return data
    if kind == "array":
        return data
    places = list(_leaves(document))
    where = places[damage[1] % len(places)]
    return json.dumps(_replaced(document, where, damage[2])).encode()


def _readers(case, common) -> dict:
    """The files classgate reads back, each with the command that reads it."""
    conclude = ["conclude", "--output", str(case / "pending")]
    again = ["validate", *common, "--output", str(case / "again")]
    return {
        "pending/pending.json": conclude,
        "pending/" + output_folder.MANIFEST: conclude,
        "pending/" + output_folder.STAGING: conclude,
        "run/report.json": ["run", "--report", str(case / "run" / "report.json")]
        + ["--", "true"],
        "run/classes": [*again, "--previous-report", str(case / "run")],
        "run/" + output_folder.MANIFEST: [
            "validate",
            *common,
            "--output",
            str(case / "run"),
        ],
    }


@pytest.mark.slow
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_damaged_files_classgate_reads_are_exit_1_or_2(submitted, capsys, data):
    ws, common, files = submitted
    case = ws.root / f"case-{next(_CASES)}"
    readers = _readers(case, common)
    read = sorted(f for f in files if any(f.startswith(r) for r in readers))
    name = data.draw(st.sampled_from(read), label="file")
    damage = data.draw(_damage(), label="damage")
    for relative, data in files.items():
        path = case / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_damaged(data, damage) if relative == name else data)
    (command,) = [c for prefix, c in readers.items() if name.startswith(prefix)]
    capsys.readouterr()
    code = cli.main(command)
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (name, err)
    assert "Traceback" not in err and "internal error" not in err, (name, err)
    if code == 2:
        one_line_error(err)


_CASES = itertools.count()
