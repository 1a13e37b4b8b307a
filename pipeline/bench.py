"""`make bench`: classgate against TFDV and the I/O limits, side by side, interleaved.

Generates the data once (TFRecord shards of tf.Example, Parquet files), then runs each
contender as its own process, round after round, and reports wall time, examples/s and
the process's peak RSS (Beam's multi-processing workers, where used, are not counted).
The table goes to stdout and to JSON. Absolute times here are noisy; the ratios,
measured in one run, are the figures to compare.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from pipeline import synthetic

_DECODE_LIMIT = """
import sys, tensorflow as tf
from tfx_bsl.coders import example_coder
decoder = example_coder.ExamplesToRecordBatchDecoder()
n = 0
for batch in tf.data.TFRecordDataset(sys.argv[1:], "GZIP").batch(4096):
    n += decoder.DecodeBatch(batch.numpy().tolist()).num_rows
print(n)
"""
_PARQUET_LIMIT = """
import sys, numpy as np, pyarrow.parquet as pq
n = 0
for path in sys.argv[1:]:
    ids = pq.read_table(path, columns=["label"]).column(0).to_numpy()
    n += int(np.bincount(ids).sum())
print(n)
"""
_TFDV = """
import sys, tensorflow_data_validation as tfdv
stats = tfdv.generate_statistics_from_tfrecord(sys.argv[1])
print(stats.datasets[0].num_examples)
"""


def _run(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one process, which must succeed."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{command[:4]} failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss // 1024


def _contenders(folder: str, tfrecords, parquets, num_classes: int):
    python = sys.executable
    classgate = [python, "-m", "pipeline", "validate", "--model-config"]
    config = os.path.join(folder, "model.yaml")
    with open(config, "w") as f:
        f.write(synthetic.model_yaml("bench", num_classes))
    out = os.path.join(folder, "out")
    tf_glob = os.path.join(folder, "tfrecord", "*.gz")
    pq_glob = os.path.join(folder, "parquet", "*.parquet")
    return {
        "classgate labels-only (TFRecord)": [
            *classgate,
            config,
            "--data",
            tf_glob,
            "--labels-only",
            "--output",
            out,
        ],
        "classgate full (TFRecord)": [
            *classgate,
            config,
            "--data",
            tf_glob,
            "--output",
            out,
        ],
        "TFDV GenerateStatistics (TFRecord)": [python, "-c", _TFDV, tf_glob],
        "decode limit (tf.data + tfx_bsl)": [python, "-c", _DECODE_LIMIT, *tfrecords],
        "classgate labels-only (Parquet)": [
            *classgate,
            config,
            "--data",
            pq_glob,
            "--labels-only",
            "--output",
            out,
        ],
        "Parquet limit (pyarrow + bincount)": [python, "-c", _PARQUET_LIMIT, *parquets],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000_000, help="TFRecord")
    parser.add_argument("--rows", type=int, default=20_000_000, help="Parquet")
    parser.add_argument("--num-classes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", default="bench-out")
    args = parser.parse_args(argv)

    os.makedirs(os.path.join(args.folder, "tfrecord"), exist_ok=True)
    os.makedirs(os.path.join(args.folder, "parquet"), exist_ok=True)
    rng = np.random.default_rng(0)
    n = args.num_classes
    print(f"generating {args.examples} tf.Examples and {args.rows} Parquet rows ...")
    ids = synthetic.labels(args.examples, n)
    tfrecords = synthetic.write_tfrecord(
        synthetic.table(ids, n), os.path.join(args.folder, "tfrecord"), 4
    )
    rows = np.minimum(rng.zipf(1.3, args.rows) - 1, n - 1)
    parquets = synthetic.write_parquet(
        synthetic.table(rows, n).select(["label"]),
        os.path.join(args.folder, "parquet"),
        4,
    )
    contenders = _contenders(args.folder, tfrecords, parquets, n)
    times = {name: [] for name in contenders}
    memory = {name: 0 for name in contenders}
    for round_number in range(args.rounds):  # interleaved: drift hits all alike
        for name, command in contenders.items():
            wall, rss = _run(command)
            times[name].append(wall)
            memory[name] = max(memory[name], rss)
            print(f"  round {round_number + 1}: {name}: {wall:.2f} s, {rss} MiB")

    best = {name: min(t) for name, t in times.items()}
    size = {name: args.rows if "Parquet" in name else args.examples for name in times}
    tfdv = best["TFDV GenerateStatistics (TFRecord)"]
    rows_out = [
        {
            "contender": name,
            "seconds": round(best[name], 2),
            "examples_per_s": round(size[name] / best[name]),
            "peak_rss_mib": memory[name],
            "vs_tfdv": round(tfdv / best[name], 2) if "TFRecord" in name else None,
        }
        for name in contenders
    ]
    ratios = {
        "labels_only_speedup_vs_tfdv": round(
            tfdv / best["classgate labels-only (TFRecord)"], 2
        ),
        "full_over_tfdv": round(best["classgate full (TFRecord)"] / tfdv, 2),
        "labels_only_over_decode_limit": round(
            best["classgate labels-only (TFRecord)"]
            / best["decode limit (tf.data + tfx_bsl)"],
            2,
        ),
        "parquet_over_limit": round(
            best["classgate labels-only (Parquet)"]
            / best["Parquet limit (pyarrow + bincount)"],
            2,
        ),
    }
    print(
        f"\n{'contender':<38} {'s':>7} {'examples/s':>11} {'RSS MiB':>8} {'TFDV/x':>7}"
    )
    for row in rows_out:
        ratio = "" if row["vs_tfdv"] is None else f"{row['vs_tfdv']:.2f}"
        print(
            f"{row['contender']:<38} {row['seconds']:>7.2f} "
            f"{row['examples_per_s']:>11} {row['peak_rss_mib']:>8} {ratio:>7}"
        )
    print("\n" + "\n".join(f"{k}: {v}" for k, v in ratios.items()))
    result = {"args": vars(args), "table": rows_out, "ratios": ratios}
    with open(os.path.join(args.folder, "bench.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"written to {args.folder}/bench.json")


if __name__ == "__main__":
    main()
