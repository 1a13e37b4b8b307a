"""Beam's portable runner on this machine: a job service and an SDK worker pool.

`services()` starts both (the worker pool with this interpreter's `python` first on
PATH, since it starts workers as `python -c ...`), waits until they listen, yields
the flags that send a pipeline to them, and stops both, with any worker processes,
whatever happens. With `threads=True` the pool runs its SDK workers as threads of
one process, so that process runs several bundles at a time.

Beam 2.68's local job service does not watch EXTERNAL workers. When one dies, the
thread reading its control stream ends and the instructions it had not answered
wait forever (4 of 5 runs killed 0.4-0.55 s after the worker connected hung here);
Dataflow, Flink and Spark watch their workers. The job service started here fails
those instructions instead (7 of 7 such runs: FAILED, so classgate exits 2, in
about 4 s), and any instruction sent to it later: a worker killed between two
bundles has none pending, and the next stage's bundle sent to it waited forever
(the labels-only job of whole-file tallies, killed 2 s after connecting). A worker
that dies before it ever connects still leaves the service waiting: nothing in
Beam's local service times out a worker that never calls.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

# Seconds a service may take to listen: Beam imports in about 2 s here.
START_TIMEOUT = 60
# Seconds the runner's calls to the job service may take.
JOB_SERVER_TIMEOUT = 600

_JOB_SERVICE = (
    "import sys\n"
    "from apache_beam.runners.portability import local_job_service_main\n"
    "from apache_beam.runners.portability.fn_api_runner import worker_handlers\n"
    "connection = worker_handlers.ControlConnection\n"
    "read, push = connection._read, connection.push\n"
    "def fail(self):\n"
    "    for future in list(self._futures_by_id.values()):\n"
    "        future.abort(self._ended)\n"
    "def read_then_fail(self):\n"
    "    try:\n"
    "        read(self)\n"
    "    finally:\n"
    "        self._ended = RuntimeError('the SDK worker ended before its answers')\n"
    "        fail(self)\n"
    "def push_or_fail(self, request):\n"
    "    future = push(self, request)\n"
    "    if future is not None and getattr(self, '_ended', None) is not None:\n"
    "        fail(self)\n"
    "    return future\n"
    "connection._read, connection.push = read_then_fail, push_or_fail\n"
    "local_job_service_main.run(sys.argv[1:])\n"
)

_THREAD_POOL = (
    "import sys, time\n"
    "from apache_beam.runners.worker import worker_pool_main\n"
    "address, server = worker_pool_main.BeamFnExternalWorkerPoolServicer.start(\n"
    "    use_process=False, port=int(sys.argv[1]))\n"
    "while True:\n"
    "    time.sleep(3600)\n"
)


# The session of each running worker pool (its pid: it leads a session of its own),
# by its address: the SDK workers it starts are in that session, and no others.
sessions: dict[str, int] = {}


def session_of(flags: list[str]) -> int:
    """The session of the worker pool that `services()` flags send jobs to."""
    (config,) = [f for f in flags if f.startswith("--environment_config=")]
    return sessions[config.split("=", 1)[1]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def services(threads: bool = False):
    """Yields the Beam flags of a running job service and worker pool."""
    job_port, pool_port = free_port(), free_port()
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    commands = [
        [sys.executable, "-c", _JOB_SERVICE, "--port", str(job_port)],
        [sys.executable, "-c", _THREAD_POOL, str(pool_port)]
        if threads
        else [
            sys.executable,
            "-m",
            "apache_beam.runners.worker.worker_pool_main",
            "--service_port",
            str(pool_port),
        ],
    ]
    started = []
    try:
        for command in commands:
            started.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # its workers die with it, below
                )
            )
        for port in (job_port, pool_port):
            _wait_for(port, started)
        sessions[f"localhost:{pool_port}"] = started[1].pid
        yield [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{job_port}",
            # Beam's default of 60 s runs out on a loaded machine (parallel tests).
            f"--job_server_timeout={JOB_SERVER_TIMEOUT}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{pool_port}",
        ]
    finally:
        sessions.pop(f"localhost:{pool_port}", None)
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _wait_for(port: int, started) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for process in started:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[:3]} exited {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {START_TIMEOUT} s")
