"""The output folder: deletes guarded exactly as writes, whatever was planted in it.

Unit tests of classgate.output over real folders, files and symbolic links: no
pipeline runs. The property: for any manifest and any links inside --output, a
run's sweep, writes and removals change nothing outside the folder.
"""

import hashlib
import json
import os
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classgate import errors, names
from classgate.outputs import folder as output_folder

# Names a run of one model `m` over one split `train` declares (publish.declared).
DECLARED = [
    names.REPORT,
    names.REPORT_MD,
    names.REPORT_HTML,
    names.SCHEMA,
    names.ANOMALIES,
    names.PENDING,
    names.unigram("m"),
    names.remap("m"),
    names.statistics("train"),
    names.schema_diff("train"),
    names.class_counts("m", "train"),
]
# What a planted manifest may name: genuine names, names through the folders a
# link may replace, names of no output, and ways out of the folder.
PLANTED = [
    *DECLARED,
    "statistics/keep",
    "statistics",
    "classes",
    "classes/m",
    "unigram-old.txt",
    "remap-old.txt",
    "junit.xml",
    "reports/junit.xml",
    "../outside/keep.txt",
    "/etc/passwd",
    "statistics/../../outside",
    "",
    ".",
    "keep.txt",
]
# Places inside --output a link to the outside may stand.
LINK_SPOTS = [
    "statistics",
    "statistics/Split-train",
    "classes",
    "classes/m",
    "anomalies",
    names.REPORT,
    names.unigram("m"),
    "remap-old.txt",
    "junit.xml",
    output_folder.STAGING,
    "model",
]


def snapshot(root: pathlib.Path) -> dict:
    """Every entry under root: links by target, files by content digest."""
    found = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = pathlib.Path(folder, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = "link:" + os.readlink(path)
            elif path.is_file():
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[key] = "dir"
    return found


def outside_tree(root: pathlib.Path) -> pathlib.Path:
    """A folder outside --output shaped like an output folder: a tempting target."""
    outside = root / "outside"
    for name in [*DECLARED, "keep/file.txt", "keep.txt", "unigram-x.txt"]:
        path = outside / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"precious {name}\n")
    return outside


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    manifest=st.one_of(
        st.none(),
        st.lists(st.sampled_from(PLANTED), max_size=8),
        st.sampled_from(["[]", "{}", "null", '{"files": "x"}', "[" * 100_000]),
    ),
    links=st.lists(
        st.tuples(st.sampled_from(LINK_SPOTS), st.sampled_from(["dir", "file"])),
        max_size=4,
        unique_by=lambda link: link[0],
    ),
    stale=st.lists(st.sampled_from(["remap-old.txt", "unigram-old.txt"]), max_size=2),
)
def test_nothing_outside_the_folder_changes(tmp_path_factory, manifest, links, stale):
    root = tmp_path_factory.mktemp("case")
    outside = outside_tree(root)
    out = root / "out"
    out.mkdir()
    for spot, kind in links:
        path = out / spot
        if path.parent.is_symlink() or not path.parent.is_dir():
            continue
        target = outside / ("keep" if kind == "dir" else "keep.txt")
        if not path.exists() and not path.is_symlink():
            path.symlink_to(target)
    for name in stale:
        if not (out / name).is_symlink():
            (out / name).write_text("0\n")
    if manifest is not None:
        text = (
            manifest if isinstance(manifest, str) else json.dumps({"files": manifest})
        )
        (out / output_folder.MANIFEST).write_text(text)
    before = snapshot(outside)

    folder = output_folder.OutputFolder(str(out))
    try:
        with folder.open(DECLARED):
            for name in DECLARED:
                try:
                    folder.write(name, b"new\n")
                except errors.InputError:
                    pass  # refused: its folder leads outside
            for name in ("model", "checkpoints", names.PENDING):
                folder.remove(name)
            folder.staging()
            folder.remove_staging()
    except errors.InputError:
        pass  # a manifest that is not classgate's: refused, exit 2

    assert snapshot(outside) == before


def test_a_link_in_the_folder_is_removed_as_a_link(tmp_path):
    outside = outside_tree(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "statistics").symlink_to(outside / "statistics")
    (out / output_folder.MANIFEST).write_text(json.dumps({"files": DECLARED}))
    before = snapshot(outside)
    folder = output_folder.OutputFolder(str(out))
    with pytest.raises(errors.InputError, match="leads outside"):
        with folder.open(DECLARED):
            folder.write(names.statistics("train"), b"x")
    assert snapshot(outside) == before
    assert (outside / names.statistics("train")).exists()


@pytest.mark.parametrize("planted", ["statistics/keep", "keep.txt", "../keep.txt"])
def test_a_manifest_naming_what_classgate_never_writes_is_refused(tmp_path, planted):
    out = tmp_path / "out"
    (out / "statistics" / "keep").mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    (out / output_folder.MANIFEST).write_text(json.dumps({"files": [planted]}))
    with pytest.raises(errors.InputError, match="not a manifest classgate wrote"):
        with output_folder.OutputFolder(str(out)).open(DECLARED):
            pass
    assert (out / "statistics" / "keep").is_dir()
    assert (out / "keep.txt").read_text() == "mine"


def test_per_class_files_no_manifest_lists_are_swept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("unigram-old.txt", "remap-old.txt", "notes.txt"):
        (out / name).write_text("0\n")
    with output_folder.OutputFolder(str(out)).open(DECLARED):
        pass
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "notes.txt"
    ]


def test_a_manifest_nested_too_deeply_is_a_line_not_a_crash(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / output_folder.MANIFEST).write_text("[" * 200_000)
    with pytest.raises(errors.InputError, match="nested too deeply"):
        with output_folder.OutputFolder(str(out)).open(DECLARED):
            pass


# The folder itself: named, plain, one run at a time -------------------------------


@pytest.mark.parametrize("path", ["", "  "])
def test_an_empty_output_is_refused(tmp_path, monkeypatch, path):
    """An unset variable in `--output $OUT` must not mean the working directory."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.InputError, match="--output is empty"):
        output_folder.OutputFolder(path)
    assert list(tmp_path.iterdir()) == []


def test_output_is_a_path_never_a_pattern(tmp_path):
    """`exp?` is a folder of that name: its siblings exp1 and exp2, which the
    pattern would match, keep every file through a run and its rerun."""
    runs = tmp_path / "runs"
    for sibling in ("exp1", "exp2"):
        (runs / sibling).mkdir(parents=True)
        for name in (names.REPORT, names.REPORT_MD, names.unigram("m")):
            (runs / sibling / name).write_text("keep me")
    for _ in range(2):  # the rerun sweeps what the first run wrote, only that
        folder = output_folder.OutputFolder(str(runs / "exp?"))
        with folder.open(DECLARED):
            folder.write(names.REPORT, b"{}")
            folder.write(names.unigram("m"), b"1\n")
            folder.staging()
            folder.remove_staging()
    assert (runs / "exp?" / names.REPORT).read_bytes() == b"{}"
    for sibling in ("exp1", "exp2"):
        for name in (names.REPORT, names.REPORT_MD, names.unigram("m")):
            assert (runs / sibling / name).read_text() == "keep me"


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    first = output_folder.OutputFolder(str(out))
    with first.open(DECLARED):
        first.write(names.REPORT, b"{}")
        with pytest.raises(errors.InputError, match="another classgate run"):
            with output_folder.OutputFolder(str(out)).open(DECLARED):
                pass
        assert (out / names.REPORT).read_bytes() == b"{}"  # not swept by the second
    with output_folder.OutputFolder(str(out)).open(DECLARED):  # released: free again
        pass


def test_an_output_through_a_file_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(errors.InputError) as raised:
        with output_folder.OutputFolder(str(blocker / "out")).open(DECLARED):
            pass
    message = raised.value.message
    assert message.startswith(f"--output {blocker / 'out'}: not writable")
    assert "\n" not in message
