"""A failed job's error as the exit code it deserves: decided by module, not file.

Exit 3 (a defect of ours) when the error's traceback, or the worker traceback a
runner hands back as text, runs through a classgate module other than the driver
modules every failure passes on its way up; exit 2 (the runner failed) otherwise.
"""

import importlib.util

import numpy as np
import pytest

from classgate import errors
from classgate.run import job
from classgate.stats import class_counts


@pytest.mark.parametrize("name", job.DRIVER_MODULES)
def test_every_driver_module_is_a_module(name):
    assert importlib.util.find_spec(name) is not None, name


def raised_in_classgate() -> Exception:
    try:
        class_counts.ClassCounts(10).add_counts(np.array([5, 1]), np.array([1, 1]))
    except ValueError as e:
        return e
    raise AssertionError("add_counts took unsorted ids")


def test_an_error_raised_in_a_classgate_module_is_ours():
    error = raised_in_classgate()
    assert job.explain(error, request=None) is error


WORKER_TRACEBACK = """Traceback (most recent call last):
  File "apache_beam/runners/common.py", line 1498, in process
  File "/usr/local/lib/python3.11/site-packages/{path}", line 40, in process
    raise ValueError("boom")
ValueError: boom [while running 'Read[train]/Decode']"""


@pytest.mark.parametrize(
    "path, ours",
    [
        ("classgate/io/parquet.py", True),
        ("classgate/stats/__init__.py", True),
        ("classgate/run/job.py", False),
        ("classgate/cli/__init__.py", False),
        ("apache_beam/io/filesystems.py", False),
    ],
)
def test_a_worker_traceback_from_another_machine_is_judged_by_module(path, ours):
    error = RuntimeError(WORKER_TRACEBACK.format(path=path))
    explained = job.explain(error, request=None)
    if ours:
        assert explained is error
    else:
        assert isinstance(explained, errors.InputError)
        assert "the job failed in the runner" in explained.message


@pytest.mark.parametrize(
    "path, module",
    [
        ("/x/site-packages/classgate/io/parquet.py", "classgate.io.parquet"),
        ("/x/classgate/stats/__init__.py", "classgate.stats"),
        ("/x/classgate/__init__.py", "classgate"),
        ("/x/apache_beam/runners/common.py", None),
    ],
)
def test_a_file_names_its_module(path, module):
    assert job.module_of_file(path) == module
