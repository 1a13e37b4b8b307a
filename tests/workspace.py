"""A temporary folder with helpers to write data and configs and run the CLI."""

import json
import pathlib

import pyarrow as pa

from classgate import cli

from tools import synthetic

# Dataflow options that translate a job offline: dry run, no credentials. A bucket
# name Beam finds malformed makes it look one up over the network, so: my-bucket.
DATAFLOW = [
    "--runner=DataflowRunner",
    "--project=my-project",
    "--region=us-central1",
    "--temp_location=gs://my-bucket/tmp",
    "--no_auth",
    "--dry_run=True",
    "--sdk_location=container",
]


# The classic story on 10,000 true classes: num_classes -> (exit code, label errors).
CLASSIC = {
    10_000: (0, []),
    5_000: (1, ["LABEL_ABOVE_RANGE"]),
    20_000: (1, ["CLASSES_UNSEEN"]),
}


def label_errors(report) -> list[str]:
    """ERROR codes from classgate's own checks (TFDV_ findings are separate)."""
    return [
        a["code"]
        for a in sorted(report["anomalies"], key=lambda a: a["code"])
        if a["severity"] == "ERROR" and not a["code"].startswith("TFDV_")
    ]


class Workspace:
    """A temporary folder with helpers to write data and configs and run the CLI."""

    def __init__(self, root: pathlib.Path):
        self.root = root

    def labels(self, ids, fmt="tfrecord", shards=2, name="train", **columns):
        """Writes a dataset with the given label column; returns its glob pattern."""
        folder = self.root / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        data = {"label": _column(ids)}
        data.update({k: _column(v) for k, v in columns.items()})
        table = pa.table(data)
        if fmt == "tfrecord":
            synthetic.write_tfrecord(table, str(folder), shards, prefix=name)
        else:
            synthetic.write_parquet(table, str(folder), shards, prefix=name)
        return str(folder / f"{name}-*")

    def config(self, text: str, name="model.yaml") -> str:
        path = self.root / name
        path.write_text(text)
        return str(path)

    def model(self, num_classes, name="m", **keys) -> str:
        text = synthetic.model_yaml(name, num_classes)
        text += "".join(f"{k}: {v}\n" for k, v in keys.items())
        return self.config(text, f"{name}-{num_classes}.yaml")

    def validate(self, *args, output="out"):
        """Runs `classgate validate` in-process; returns (exit code, report or None)."""
        out = self.root / output
        code = cli.main(["validate", *args, "--output", str(out)])
        report_path = out / "report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return code, report

    @staticmethod
    def codes(report, severity=None):
        """The anomaly codes of a report, sorted, optionally of one severity."""
        return sorted(
            a["code"]
            for a in report["anomalies"]
            if severity is None or a["severity"] == severity
        )


def _column(values):
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    return pa.array(values)
