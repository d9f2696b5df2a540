"""Fixtures that run a real server process for the redis-py session tests.

The server binary is `SLOTKV_NODE_BIN` (default: `../../target/debug/slotkv-node` from this directory).
It is started the way `redis-server` is, so pointing `SLOTKV_NODE_BIN` at `/usr/bin/redis-server` runs
the same tests against real Redis: that is how the expected values here were checked.

Each server gets a free port and its own temporary directory, is polled with PING until it answers
(with a deadline), and is stopped with SIGTERM at the end of the session; a server that does not exit
with status 0 within a few seconds fails the run. When a test fails, the server's log is attached to
the failure report.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = HERE / ".." / ".." / "target" / "debug" / "slotkv-node"

START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 5.0
PORT_ATTEMPTS = 5
PASSWORD = "s3cret-pass"


def node_binary() -> Path:
    """The server binary to test; fails the test run with a clear message when it is missing."""
    raw = os.environ.get("SLOTKV_NODE_BIN")
    path = Path(raw).absolute() if raw else DEFAULT_BIN.resolve()  # not resolve(): redis-server is a symlink that dispatches on its name
    if not path.is_file() or not os.access(path, os.X_OK):
        how = "SLOTKV_NODE_BIN" if raw else "the default path (SLOTKV_NODE_BIN is not set)"
        pytest.fail(
            f"server binary not found or not executable: {path} (from {how}). "
            "Build it with `cargo build -p slotkv-node`, or set SLOTKV_NODE_BIN "
            "(e.g. SLOTKV_NODE_BIN=/usr/bin/redis-server to run these tests against real Redis).",
            pytrace=False,
        )
    return path


def free_port() -> int:
    """A port that was free a moment ago (bind to 0 and release); `Server.start` retries if it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on 127.0.0.1 with its own port, directory and log file."""

    def __init__(self, binary: Path, extra_args=(), password=None):
        self.binary = binary
        self.extra_args = list(extra_args)
        self.password = password
        self.tmp = tempfile.TemporaryDirectory(prefix="slotkv-py-")
        self.dir = Path(self.tmp.name)
        self.log_path = self.dir / "server.log"
        self.proc = None
        self.port = None
        self.final_log = None  # the log's text, kept when the directory is removed at stop

    @property
    def is_real_redis(self) -> bool:
        return self.binary.name.startswith("redis-server")

    def log(self) -> str:
        if self.final_log is not None:
            return self.final_log
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"

    def start(self):
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            args = [
                str(self.binary),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "no",
                *self.extra_args,
            ]
            with open(self.log_path, "ab") as log:
                log.write(f"==== {' '.join(repr(a) if a == '' else a for a in args)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    args, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            if self._wait_ready():
                return
            # It exited before answering: retry on another port only if it lost the port race.
            if "in use" not in self.log().lower():
                break
        pytest.fail(
            f"{self.binary} did not start (exit status {self.proc.returncode}).\n"
            f"---- server log ----\n{self.log()}",
            pytrace=False,
        )

    def _wait_ready(self) -> bool:
        """Polls PING until it answers (True), the process exits (False) or the deadline passes (fail)."""
        deadline = time.monotonic() + START_DEADLINE_S
        probe = redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, protocol=2,
            socket_connect_timeout=0.5, socket_timeout=2.0,
        )
        try:
            while True:
                if self.proc.poll() is not None:
                    return False
                try:
                    if probe.ping():
                        return True
                except redis.AuthenticationError as e:
                    self.proc.kill()
                    self.proc.wait()
                    pytest.fail(f"readiness PING was refused: {e}\n---- server log ----\n{self.log()}",
                                pytrace=False)
                except redis.ConnectionError:
                    pass  # not listening yet (or still loading)
                if time.monotonic() > deadline:
                    self.proc.kill()
                    self.proc.wait()
                    pytest.fail(
                        f"{self.binary} did not answer PING on port {self.port} within "
                        f"{START_DEADLINE_S}s.\n---- server log ----\n{self.log()}",
                        pytrace=False,
                    )
                time.sleep(0.02)  # poll interval, bounded by the deadline above
        finally:
            probe.close()

    def stop(self):
        """SIGTERM, then requires a clean exit (status 0) within STOP_DEADLINE_S."""
        if self.proc is None:
            self._cleanup()
            return
        if self.proc.poll() is not None:
            self._cleanup()
            pytest.fail(
                f"server exited on its own (status {self.proc.returncode}) before the end of the session.\n"
                f"---- server log ----\n{self.log()}",
                pytrace=False,
            )
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._cleanup()
            pytest.fail(
                f"server did not exit within {STOP_DEADLINE_S}s of SIGTERM (killed).\n"
                f"---- server log ----\n{self.log()}",
                pytrace=False,
            )
        self._cleanup()
        if status != 0:
            pytest.fail(
                f"server exited with status {status} after SIGTERM.\n---- server log ----\n{self.log()}",
                pytrace=False,
            )

    def _cleanup(self):
        """Removes the temporary directory, keeping the log's text for reports."""
        self.final_log = self.log()
        self.tmp.cleanup()

    def client(self, **kwargs) -> redis.Redis:
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_timeout", 10)
        if self.password is not None:
            kwargs.setdefault("password", self.password)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


@pytest.fixture(scope="session")
def server():
    """The server under test, shared by the whole session (tests start from FLUSHALL)."""
    srv = Server(node_binary())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def auth_server():
    """A second server started with --requirepass."""
    srv = Server(node_binary(), extra_args=["--requirepass", PASSWORD], password=PASSWORD)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def real_redis(server) -> bool:
    """True when the tests run against real redis-server (for the few replies that name the server)."""
    return server.is_real_redis


@pytest.fixture(scope="session")
def server_version(server):
    """redis_version as a tuple of ints, e.g. (7, 2, 4)."""
    c = server.client(protocol=2)
    try:
        return tuple(int(x) for x in c.info("server")["redis_version"].split("."))
    finally:
        c.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request) -> int:
    return request.param


@pytest.fixture
def r(server, protocol):
    """A redis-py client (decoded replies) on an empty keyspace, over RESP2 or RESP3."""
    c = server.client(protocol=protocol)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rb(server, protocol):
    """A redis-py client returning raw bytes, sharing `r`'s keyspace."""
    c = server.client(protocol=protocol, decode_responses=False)
    yield c
    c.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the logs of the servers a failed test used to its report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    for name in ("server", "auth_server"):
        srv = funcargs.get(name)
        if isinstance(srv, Server):
            tail = srv.log()[-20000:]
            rep.sections.append((f"{name} log ({srv.binary.name}, port {srv.port})", tail))
