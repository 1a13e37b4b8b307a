"""Parquet as the data world writes it: pyarrow's every codec and page layout,
pandas with both engines, DuckDB, Polars, Spark-shaped output (hive partition
folders, job markers, INT96 timestamps, both list layouts), Hugging Face `datasets`,
labels inside structs, and full mode on any column type. Label figures must equal a
plain reference over the labels written."""

import datetime
import decimal

import builders
import duckdb
import numpy as np
import pandas as pd
import polars
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import classgate.config
from classgate import cli
from classgate.io import files

from workspace import Workspace

pytestmark = pytest.mark.slow

ROWS = 240
MODES = {"full": [], "labels-only": ["--labels-only"]}
# Spark's largest date, beside the label as INT96: past 2262 it wraps as nanoseconds.
LAST_DAY = datetime.datetime(9999, 12, 31, 23, 59, 59)


def known_labels(seed=0, lists=False, nulls=True):
    """Python rows of labels in [0, 40): None for a missing row; lists with
    empty lists and null elements when `lists`."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(ROWS):
        if nulls and i % 17 == 3:
            rows.append(None)
        elif lists:
            row = [int(v) for v in rng.integers(0, 40, 1 + i % 3)]
            if nulls and i % 29 == 5:
                row[0] = None
            rows.append(row if i % 31 else [])
        else:
            rows.append(int(rng.integers(0, 40)))
    return rows


def reference(rows) -> dict:
    """examples, missing, min, max, distinct of label rows, in plain Python."""
    lists = [r if isinstance(r, list) else ([] if r is None else [r]) for r in rows]
    missing = sum(1 for r in lists if not r or None in r)
    values = [v for r in lists for v in r if v is not None]
    return {
        "examples": len(rows),
        "missing": missing,
        "min": min(values),
        "max": max(values),
        "distinct": len(set(values)),
    }


def writers(folder):
    """{split name: (path, rows written)} over the writers and their settings."""
    found = {}
    scalars, lists = known_labels(1), known_labels(2, lists=True)

    def add(name, rows, write):
        path = folder / f"{name}.parquet"
        write(str(path))
        found[name] = (path, rows)

    for codec in ("none", "snappy", "gzip", "brotli", "zstd", "lz4"):
        for version in ("1.0", "2.0"):
            for dictionary in (True, False):
                name = (
                    f"pyarrow-{codec}-v{version[0]}-{'dict' if dictionary else 'plain'}"
                )
                table = pa.table({"label": pa.array(scalars, pa.int64())})
                add(
                    name,
                    scalars,
                    lambda p, t=table, c=codec, v=version, d=dictionary: pq.write_table(
                        t, p, compression=c, data_page_version=v, use_dictionary=d
                    ),
                )
    for kind in (pa.int32(), pa.uint32(), pa.int64()):
        table = pa.table({"label": pa.array(scalars, kind)})
        add(f"pyarrow-{kind}", scalars, lambda p, t=table: pq.write_table(t, p))
    for kind in (pa.list_(pa.int64()), pa.large_list(pa.int32())):
        table = pa.table({"label": pa.array(lists, kind)})
        add(
            f"pyarrow-{kind}".replace("<", "-")
            .replace(">", "")
            .replace(": ", "-")
            .replace(" ", ""),
            lists,
            lambda p, t=table: pq.write_table(t, p),
        )
    frame = pd.DataFrame({"label": pd.array(scalars, dtype="Int64")})
    for engine in ("pyarrow", "fastparquet"):
        add(
            f"pandas-{engine}-Int64",
            scalars,
            lambda p, e=engine: frame.to_parquet(p, engine=e),
        )
        dense = [v for v in scalars if v is not None]
        add(
            f"pandas-{engine}-int64",
            dense,
            lambda p, e=engine, d=dense: pd.DataFrame({"label": d}).to_parquet(
                p, engine=e
            ),
        )
        # A float64 column with NaN: how pandas stores nullable ints by default.
        add(
            f"pandas-{engine}-float64",
            scalars,
            lambda p, e=engine: pd.DataFrame(
                {"label": [np.nan if v is None else float(v) for v in scalars]}
            ).to_parquet(p, engine=e),
        )
    connection = duckdb.connect()
    values = {"scalars": _sql_rows(scalars), "lists": _sql_rows(lists)}
    for sql_type in ("BIGINT", "INTEGER", "UINTEGER"):
        add(
            f"duckdb-{sql_type}",
            scalars,
            lambda p, t=sql_type: connection.execute(
                f"COPY (SELECT label::{t} AS label FROM {values['scalars']}) "
                f"TO '{p}' (FORMAT PARQUET)"
            ),
        )
    add(
        "duckdb-BIGINT-list",
        lists,
        lambda p: connection.execute(
            f"COPY (SELECT label::BIGINT[] AS label FROM {values['lists']}) "
            f"TO '{p}' (FORMAT PARQUET)"
        ),
    )
    add(
        "polars-Int64",
        scalars,
        lambda p: polars.DataFrame(
            {"label": scalars}, schema={"label": polars.Int64}
        ).write_parquet(p),
    )
    add(
        "polars-UInt32",
        scalars,
        lambda p: polars.DataFrame(
            {"label": scalars}, schema={"label": polars.UInt32}
        ).write_parquet(p),
    )
    add(
        "polars-List",
        lists,
        lambda p: polars.DataFrame(
            {"label": lists}, schema={"label": polars.List(polars.Int64)}
        ).write_parquet(p),
    )
    found["spark-partitioned"] = spark_partitioned(folder / "spark", scalars)
    for compliant in (False, True):  # Spark's legacy list layout, and its default
        table = pa.table({"label": pa.array(lists, pa.list_(pa.int32()))})
        add(
            f"spark-list-{'compliant' if compliant else 'legacy'}",
            lists,
            lambda p, t=table, c=compliant: pq.write_table(
                t, p, use_compliant_nested_type=c
            ),
        )
    # Hugging Face `datasets` pins what Beam's dill cannot share a lock with: `make
    # install` installs it without its dependencies (tools/test-nodeps.txt).
    import datasets

    class_label = datasets.ClassLabel(names=[f"class-{i}" for i in range(40)])
    for name, rows, feature in (
        ("hf-ClassLabel", scalars, class_label),
        ("hf-Sequence-ClassLabel", lists, datasets.Sequence(class_label)),
    ):
        add(
            name,
            rows,
            lambda p, r=rows, f=feature: datasets.Dataset.from_dict(
                {"label": r}, features=datasets.Features({"label": f})
            ).to_parquet(p),
        )
    return found


def spark_partitioned(root, rows):
    """Rows as Spark writes a table partitioned by label_bucket, INT96 and all.

    label_bucket=k/ folders of snappy part files, each with its `.crc` beside it
    and `_SUCCESS` on top; an IntegerType label, an INT96 timestamp (one of them
    Spark's last day), a decimal and a list of strings in the legacy layout.
    Returns the glob that matches the part files, and the rows they hold in order.
    """
    parts = [rows[i::3] for i in range(3)]
    for k, part in enumerate(parts):
        folder = root / f"label_bucket={k}"
        folder.mkdir(parents=True)
        n = len(part)
        table = pa.table(
            {
                "label": pa.array(part, pa.int32()),
                "when": pa.array(
                    [
                        LAST_DAY if i == 0 else datetime.datetime(2026, 1, 1 + i % 28)
                        for i in range(n)
                    ],
                    pa.timestamp("us"),
                ),
                "amount": pa.array(
                    [decimal.Decimal(f"{i}.25") for i in range(n)], pa.decimal128(9, 2)
                ),
                "tags": pa.array([["a", "b"][: i % 3] for i in range(n)]),
            }
        )
        name = f"part-0000{k}-5e1d6a1c-c000.snappy.parquet"
        pq.write_table(
            table,
            folder / name,
            compression="snappy",
            use_deprecated_int96_timestamps=True,
            use_compliant_nested_type=False,
        )
        (folder / f".{name}.crc").write_bytes(b"crc")
    (root / "_SUCCESS").write_bytes(b"")
    return f"{root}/*/*.parquet", [v for part in parts for v in part]


def _sql_rows(rows) -> str:
    """Rows as a DuckDB VALUES list with one column, label."""

    def literal(value):
        if value is None:
            return "NULL"
        if isinstance(value, list):
            return "[" + ", ".join(map(literal, value)) + "]::BIGINT[]"
        return str(value)

    return "(VALUES " + ", ".join(f"({literal(r)})" for r in rows) + ") t(label)"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("writers"))
    folder = ws.root / "parquet"
    folder.mkdir()
    return ws, writers(folder)


# Full mode reads the label the same way; one file per writer shows the rest of
# each writer's columns go through TFDV too (and keeps the run short).
FULL_MODE_SPLITS = (
    "pyarrow-zstd-v2-dict",
    "pyarrow-list-item-int64",
    "pandas-pyarrow-Int64",
    "pandas-fastparquet-float64",
    "duckdb-UINTEGER",
    "duckdb-BIGINT-list",
    "polars-UInt32",
    "polars-List",
    "spark-partitioned",
    "spark-list-compliant",
    "hf-ClassLabel",
)


def read_figures(name, pattern, models):
    """{model: its label's summary} of the files `pattern` matches, read as a
    labels-only job reads them (the reader and the accumulators, no pipeline)."""
    paths = [f.path for f in files.list_split(name, (str(pattern),), "parquet").files]
    found = builders.results_of_files(models, {name: paths}, fmt="parquet")
    return {m.name: found.label(m, name).summary() for m in models}


def test_every_writer_gives_the_reference_figures_as_read(written):
    """Labels-only: each writer's file through the job's own reader."""
    _, found = written
    model = builders.model(num_classes=40, max_unseen_fraction=1.0, num_sampled=5)
    for name, (path, rows) in found.items():
        figures = read_figures(name, path, [model])["m"]
        ours = {key: figures[key] for key in reference(rows)}
        assert ours == reference(rows), name
    assert len(found) >= 40


def test_every_writer_gives_the_reference_figures_in_full_mode(written):
    """Full mode reads every column and hands them to TFDV: one split per writer,
    all in one run; the label figures the same."""
    ws, found = written
    found = {name: found[name] for name in FULL_MODE_SPLITS}
    splits = [
        a for name, (path, _) in found.items() for a in ("--split", f"{name}={path}")
    ]
    config = ws.model(40, max_unseen_fraction=1.0, num_sampled=5)
    code, report = ws.validate(*splits, "--model-config", config, output="out-full")
    assert code == 1  # missing labels: every split has some, but int64 dense ones
    for name, (_, rows) in found.items():
        figures = report["labels"][name]["label"]
        ours = {key: figures[key] for key in reference(rows)}
        assert ours == reference(rows), name
    # Spark's INT96 last day, in microseconds, not wrapped
    when = feature_statistics(ws.root / "out-full", "spark-partitioned")["when"]
    last_day = (LAST_DAY - datetime.datetime(1970, 1, 1)).total_seconds()
    assert when.num_stats.max == last_day * 1e6
    assert when.num_stats.min == 1767225600 * 1e6  # 2026-01-01


def feature_statistics(output, split) -> dict:
    """TFDV's statistics of a split in an output folder, by feature name."""
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(
        str(output / "statistics" / f"Split-{split}" / "FeatureStats.pb")
    )
    return {".".join(f.path.step): f for f in stats.datasets[0].features}


@pytest.mark.parametrize("mode", MODES)
def test_dictionary_encoded_labels_are_read_as_their_values(ws, mode):
    """pandas' category, pyarrow's dictionary and Polars' Enum, with a vocabulary.

    The files' dictionaries index the words otherwise than the vocabulary does
    (ids 1 to 3): an index read as an id would give 0 to 2.
    """
    vocab = ws.root / "vocab.txt"
    vocab.write_text("cash\ncard\ncheck\ncoin\n")
    words = ["coin", "card", "check"]  # an Enum keeps this order
    rows = [words[i % 3] for i in range(30)]
    folder = ws.root / "cat"
    folder.mkdir()
    pd.DataFrame({"label": pd.Categorical(rows)}).to_parquet(folder / "pandas.parquet")
    pq.write_table(
        pa.table({"label": pa.array(rows).dictionary_encode()}),
        folder / "pyarrow.parquet",
    )
    polars.DataFrame(
        {"label": rows}, schema={"label": polars.Enum(words)}
    ).write_parquet(folder / "polars-enum.parquet")
    ids = [i % 3 for i in range(30)]
    pq.write_table(
        pa.table({"label": pa.array(ids).dictionary_encode()}), folder / "ints.parquet"
    )
    with_vocab = ws.model(
        4, vocabulary_file=str(vocab), num_sampled=1, max_unseen_fraction=1.0
    )
    names = ("pandas", "pyarrow", "polars-enum")
    if mode == "labels-only":  # the job's reader and accumulators, no pipeline
        (model,) = classgate.config.load([with_vocab])
        for name in names:
            figures = read_figures(name, folder / f"{name}.parquet", [model])["m"]
            assert (figures["min"], figures["max"], figures["distinct"]) == (1, 3, 3)
        ints = builders.model(num_classes=3, num_sampled=1)
        figures = read_figures("ints", folder / "ints.parquet", [ints])["m"]
        assert figures["distinct"] == 3 and figures["max"] == 2
        return
    splits = [a for n in names for a in ("--split", f"{n}={folder / n}.parquet")]
    code, report = ws.validate(
        *splits, "--model-config", with_vocab, *MODES[mode], output="out-words"
    )
    assert code == 0, report["anomalies"]
    for name in names:
        figures = report["labels"][name]["label"]
        assert (figures["min"], figures["max"], figures["distinct"]) == (1, 3, 3)
    code, report = ws.validate(
        "--data",
        str(folder / "ints.parquet"),
        "--model-config",
        ws.model(3, num_sampled=1),
        *MODES[mode],
        output="out-ints",
    )
    assert code == 0 and report["labels"]["train"]["label"]["distinct"] == 3


def test_labels_inside_structs_give_the_reference_figures(ws):
    """`meta.label` and `meta.inner.label`, from pyarrow (both list layouts),
    Polars and DuckDB structs, null structs among them; as the reader reads them
    (labels-only) and in a full-mode run."""
    scalars, lists = known_labels(3), known_labels(4, lists=True)
    meta = [
        None if i % 23 == 7 else {"label": v, "inner": {"label": w}}
        for i, (v, w) in enumerate(zip(scalars, lists, strict=True))
    ]
    outer = [None if m is None else m["label"] for m in meta]
    inner = [None if m is None else m["inner"]["label"] for m in meta]
    kind = pa.struct(
        [("label", pa.int64()), ("inner", pa.struct([("label", pa.list_(pa.int64()))]))]
    )
    folder = ws.root / "structs"
    folder.mkdir()
    table = pa.table({"meta": pa.array(meta, kind), "id": range(ROWS)})
    pq.write_table(table, folder / "pyarrow.parquet")
    pq.write_table(
        table, folder / "pyarrow-compliant.parquet", use_compliant_nested_type=True
    )
    polars.from_arrow(table).write_parquet(folder / "polars.parquet")
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_parquet('{folder / 'pyarrow.parquet'}')) "
        f"TO '{folder / 'duckdb.parquet'}' (FORMAT PARQUET)"
    )
    names = ("pyarrow", "pyarrow-compliant", "polars", "duckdb")
    splits = [a for n in names for a in ("--split", f"{n}={folder / n}.parquet")]
    configs = [
        ws.config(
            f"name: {name}\nlabel_feature: {feature}\nnum_classes: 40\n"
            "num_sampled: 5\nmax_unseen_fraction: 1.0\n",
            f"{name}.yaml",
        )
        for name, feature in (("outer", "meta.label"), ("inner", "meta.inner.label"))
    ]
    models = classgate.config.load(configs)
    for name in names:  # labels-only: the job's reader and accumulators
        read = read_figures(name, folder / f"{name}.parquet", models)
        for model, rows in (("outer", outer), ("inner", inner)):
            ours = {key: read[model][key] for key in reference(rows)}
            assert ours == reference(rows), (name, model)
    argv = [*splits, "--model-config", configs[0], "--model-config", configs[1]]
    code, report = ws.validate(*argv, output="out-full")
    assert code == 1, report  # missing labels, under null structs too
    for name in names:
        for feature, rows in (("meta.label", outer), ("meta.inner.label", inner)):
            figures = report["labels"][name][feature]
            ours = {key: figures[key] for key in reference(rows)}
            assert ours == reference(rows), ("full", name, feature)


def test_full_mode_takes_a_pandas_table_of_everyday_columns(ws):
    """datetime, bool, category and decimal beside the label: same label figures
    as labels-only, and TFDV statistics of the other columns."""
    import tensorflow_data_validation as tfdv

    rows = 60
    frame = pd.DataFrame(
        {
            "label": [i % 6 for i in range(rows)],
            "when": pd.date_range("2026-01-01", periods=rows, freq="h"),
            "flag": [i % 2 == 0 for i in range(rows)],
            "kind": pd.Categorical(["a", "b", "c"] * (rows // 3)),
            "amount": [decimal.Decimal(f"{i}.25") for i in range(rows)],
            "day": [datetime.date(2026, 1, 1 + i % 28) for i in range(rows)],
        }
    )
    folder = ws.root / "everyday"
    folder.mkdir()
    frame.to_parquet(folder / "t.parquet")
    config = ws.model(6, num_sampled=2)
    figures = {}
    for mode, flags in MODES.items():
        code, report = ws.validate(
            "--data",
            str(folder / "t.parquet"),
            "--model-config",
            config,
            *flags,
            output=f"out-{mode}",
        )
        assert code == 0, report["anomalies"]
        figures[mode] = report["labels"]["train"]["label"]
        figures[mode].pop("value_types")
    assert figures["full"] == figures["labels-only"]
    stats = tfdv.load_stats_binary(
        str(ws.root / "out-full" / "statistics" / "Split-train" / "FeatureStats.pb")
    )
    types = {f.path.step[0]: f.type for f in stats.datasets[0].features}
    assert set(types) == {"label", "when", "flag", "kind", "amount", "day"}
    assert types["kind"] == 2 and types["amount"] == 1  # STRING, FLOAT
    assert types["when"] == types["flag"] == types["day"] == 0  # INT


def every_arrow_type(rows: int) -> pa.Table:
    """One column of each type pyarrow writes to Parquet, beside an int label."""

    def repeat(values):
        return (values * rows)[:rows]

    columns = {
        "label": pa.array([i % 4 for i in range(rows)]),
        "int8": pa.array(repeat([1, None]), pa.int8()),
        "int16": pa.array(repeat([1]), pa.int16()),
        "uint8": pa.array(repeat([1]), pa.uint8()),
        "uint16": pa.array(repeat([1]), pa.uint16()),
        "uint64": pa.array(repeat([2**64 - 1]), pa.uint64()),
        "float32": pa.array(repeat([1.5]), pa.float32()),
        "float64": pa.array(repeat([1.5, None])),
        "bool": pa.array(repeat([True, False, None])),
        "string": pa.array(repeat(["a", None])),
        "large_string": pa.array(repeat(["a"]), pa.large_string()),
        "binary": pa.array(repeat([b"\xff"]), pa.binary()),
        "large_binary": pa.array(repeat([b"x"]), pa.large_binary()),
        "fixed_binary": pa.array(repeat([b"ab"]), pa.binary(2)),
        "date32": pa.array(repeat([datetime.date(2026, 1, 1)]), pa.date32()),
        "date64": pa.array(repeat([datetime.date(2026, 1, 1)]), pa.date64()),
        "ts_s": pa.array(repeat([1]), pa.timestamp("s")),
        "ts_ns_tz": pa.array(repeat([10**9]), pa.timestamp("ns", tz="UTC")),
        "time32": pa.array(repeat([1]), pa.time32("ms")),
        "time64": pa.array(repeat([1]), pa.time64("us")),
        "duration": pa.array(repeat([1]), pa.duration("s")),
        "decimal": pa.array(repeat([decimal.Decimal("1.25")]), pa.decimal128(5, 2)),
        "decimal256": pa.array(repeat([decimal.Decimal("1.5")]), pa.decimal256(40, 2)),
        "dictionary": pa.array(repeat(["x", "y"])).dictionary_encode(),
        "list": pa.array(repeat([[1, None], None])),
        "large_list": pa.array(repeat([[1.5]]), pa.large_list(pa.float64())),
        "fixed_list": pa.FixedSizeListArray.from_arrays(
            pa.array(repeat([1, 2]) * 2)[: 2 * rows], 2
        ),
        "list_of_bool": pa.array(repeat([[True]])),
        "nested_list": pa.array(repeat([[[1], [2, 3]]])),
        "struct": pa.array(repeat([{"x": 1, "y": {"z": "q"}}, None])),
        "map": pa.array(repeat([[("k", 1)]]), pa.map_(pa.string(), pa.int64())),
        "list_of_struct": pa.array(repeat([[{"x": 1}]])),
        "null": pa.nulls(rows),
    }
    return pa.table(columns)


def test_full_mode_takes_every_type_pyarrow_writes(ws):
    import tensorflow_data_validation as tfdv

    folder = ws.root / "every"
    folder.mkdir()
    table = every_arrow_type(40)
    pq.write_table(table, folder / "t.parquet")
    config = ws.model(4, num_sampled=2)
    code, full = ws.validate(
        "--data", str(folder / "t.parquet"), "--model-config", config, output="full"
    )
    assert code == 0, full["anomalies"]
    (left_out,) = [
        a for a in full["anomalies"] if a["code"] == "COLUMNS_NOT_IN_STATISTICS"
    ]
    assert left_out["details"]["columns"] == ["list_of_struct", "map"]
    stats = tfdv.load_stats_binary(
        str(ws.root / "full" / "statistics" / "Split-train" / "FeatureStats.pb")
    )
    named = {".".join(f.path.step) for f in stats.datasets[0].features}
    expected = set(table.column_names) - {"map", "list_of_struct", "struct"}
    assert named >= expected - {"null"}  # TFDV may drop an all-null feature
    assert {"struct.x", "struct.y.z"} <= named
    code, labels_only = ws.validate(
        "--data",
        str(folder / "t.parquet"),
        "--model-config",
        config,
        "--labels-only",
        output="labels",
    )
    assert code == 0
    assert full["labels"] == labels_only["labels"]


def test_job_markers_and_hidden_files_are_skipped_and_named(ws, capsys):
    """Markers are skipped and listed; other hidden Parquet files are skipped as
    Arrow and Spark skip them, and named in a warning (tf.io.gfile.glob returns
    them); every skipped file is listed, for the fingerprint."""
    out = ws.root / "spark-out"
    (out / "_temporary" / "0").mkdir(parents=True)
    rows = list(range(8))
    pq.write_table(pa.table({"label": rows[:4]}), out / "part-00000.parquet")
    pq.write_table(pa.table({"label": rows[4:]}), out / "part-00001.parquet")
    (out / "_SUCCESS").write_bytes(b"")
    (out / ".part-00000.parquet.crc").write_bytes(b"crc")
    (out / "_temporary" / "0" / "part-x.parquet").write_bytes(b"half written")
    code, report = ws.validate(
        "--data",
        f"{out}/**",
        "--model-config",
        ws.model(8, num_sampled=2, sampler="uniform"),
        "--labels-only",
    )
    assert code == 0, report["anomalies"]
    data = report["data"]["train"]
    assert [f["path"].rsplit("/", 1)[1] for f in data["files"]] == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert sorted(f["path"].rsplit("/", 1)[1] for f in data["skipped"]) == [
        ".part-00000.parquet.crc",
        "_SUCCESS",
        "part-x.parquet",
    ]
    (hidden,) = [a for a in report["anomalies"] if a["code"] == "HIDDEN_FILES_SKIPPED"]
    assert hidden["details"]["files"] == [str(out / "_temporary/0/part-x.parquet")]
    assert report["labels"]["train"]["label"]["examples"] == 8
    code = cli.main(
        [
            "validate",
            "--data",
            f"{out}/_*",
            "--model-config",
            ws.model(8),
            "--output",
            str(ws.root / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no files match" in err and "only job markers" in err
