"""classgate: checks label data against NCE model configs before training starts.

Data flows one way: files -> Arrow record batches -> mergeable label statistics
(+ TFDV statistics) -> checks -> report -> gate. The command line is in README.md;
as a library:

    import classgate

    report = classgate.validate("data/train-*.tfrecord.gz", "model.yaml", "out/")
    report.status                      # "pass" or "fail"
    classgate.open_gate("out/")        # raises classgate.GateClosed unless pass
    classgate.train("out/", "run-1/")  # the built-in trainer, behind the gate

In a Beam job of your own: `classgate.beam.LabelStatistics` and
`classgate.beam.check`. Names resolve on first use: `import classgate` imports
neither Beam, TensorFlow nor TFDV.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "validate": "classgate.api",
    "open_gate": "classgate.api",
    "train": "classgate.api",
    "Report": "classgate.report.model",
    "ModelConfig": "classgate.config",
    "Anomaly": "classgate.checks.anomaly",
    "Code": "classgate.checks.anomaly",
    "Severity": "classgate.checks.anomaly",
    "InputError": "classgate.errors",
    "GateClosed": "classgate.errors",
    "Blessing": "classgate.gate.blessing",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'classgate' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
