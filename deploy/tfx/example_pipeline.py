"""An example TFX pipeline with classgate as its data gate, run by LocalDagRunner.

ImportExampleGen reads `Split-<name>/` folders of gzip TFRecords (the layout of
ExampleGen's own output, e.g. TFX's Chicago taxi data); ClassgateValidator checks
them against a model config; StartTraining runs only when the blessing's `blessed`
property is 1 (`tfx.dsl.Cond`), so a failed gate skips it and the run still
succeeds, as a pipeline whose Evaluator did not bless a model does.

    .venv-tfx/bin/python deploy/tfx/example_pipeline.py --data DIR --model-config FILE \
        --classgate-command .venv/bin/classgate --root OUT

Runs in the TFX environment (`make tfx-env`); MLMD is SQLite at OUT/metadata.sqlite.
"""

import argparse
import os
import sys

from tfx import v1 as tfx

# deploy/tfx is a folder, not a package: its component module is imported from here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classgate_tfx  # noqa: E402


def create_pipeline(
    name: str,
    root: str,
    data: str,
    splits: list,
    model_config: str,
    classgate_command: str,
    extra_flags: str = "",
) -> tfx.dsl.Pipeline:
    """ExampleGen -> ClassgateValidator -> (blessed only) StartTraining."""
    example_gen = tfx.components.ImportExampleGen(
        input_base=data,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name=split, pattern=f"Split-{split}/*")
                for split in splits
            ]
        ),
    )
    gate = classgate_tfx.ClassgateValidator(
        examples=example_gen.outputs["examples"],
        model_config=os.path.abspath(model_config),
        classgate_command=classgate_command,
        extra_flags=extra_flags,
    )
    blessing = gate.outputs["blessing"]
    with tfx.dsl.Cond(
        blessing.future()[0].custom_property(classgate_tfx.BLESSED_PROPERTY) == 1
    ):
        training = classgate_tfx.StartTraining(blessing=blessing)
    return tfx.dsl.Pipeline(
        pipeline_name=name,
        pipeline_root=os.path.join(root, "pipeline"),
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(
                os.path.join(root, "metadata.sqlite")
            )
        ),
        components=[example_gen, gate, training],
        # ImportExampleGen's Beam job: in this process, on one worker.
        beam_pipeline_args=[
            "--direct_num_workers=1",
            "--direct_running_mode=in_memory",
        ],
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of Split-<name>/ folders")
    parser.add_argument("--split", action="append", help="split names (train, eval)")
    parser.add_argument("--model-config", required=True)
    parser.add_argument("--classgate-command", default="classgate")
    parser.add_argument("--extra-flags", default="", help="more classgate flags")
    parser.add_argument("--root", required=True, help="pipeline root and MLMD folder")
    parser.add_argument("--name", default="classgate-example")
    args = parser.parse_args(argv)
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(
            args.name,
            os.path.abspath(args.root),
            os.path.abspath(args.data),
            args.split or ["train", "eval"],
            args.model_config,
            args.classgate_command,
            args.extra_flags,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
