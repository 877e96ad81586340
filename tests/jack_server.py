"""Start and stop a private JACK server with the dummy driver (for tests, benchmarks, headless CI).

`JackServer(sample_rate=44100, period_samples=256)` runs ``jackd -n NAME -d dummy -r RATE -p PERIOD``
under a unique server name, so it never disturbs (or is disturbed by) a server that already runs,
and a test may kill it on purpose. Clients reach it through the ``JACK_DEFAULT_SERVER`` environment
variable (libjack, PortAudio's JACK host API, rtmidi and the jack_* tools all honour it): `env()`
gives the variables for a subprocess, `activate()` sets them in this process.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

from isovox.core.errors import DeviceError, ToolMissingError


class JackServer:
    """A jackd dummy-driver server owned by this process; a context manager (`with JackServer() as s`)."""

    def __init__(self, sample_rate: int = 44100, period_samples: int = 256, name: str | None = None,
                 start_timeout_seconds: float = 10.0) -> None:
        self.sample_rate = int(sample_rate)
        self.period_samples = int(period_samples)
        self.name = name or f"isovox-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.start_timeout_seconds = start_timeout_seconds
        self.process: subprocess.Popen | None = None
        self._log = Path(tempfile.gettempdir()) / f"{self.name}.log"
        self._saved_env: str | None = None

    def start(self) -> JackServer:
        jackd, jack_wait = shutil.which("jackd"), shutil.which("jack_wait")
        if jackd is None or jack_wait is None:
            raise ToolMissingError("jackd/jack_wait not found; install them with "
                                   "`apt-get install jackd2` (the dummy driver needs no sound card)")
        if not self._launch(jackd, jack_wait) and _clear_stale_registrations(self.log_tail()):
            self._launch(jackd, jack_wait)
        if self.process is None or self.process.poll() is not None:
            raise DeviceError(f"jackd (dummy driver, {self.sample_rate} Hz, period {self.period_samples}) "
                              f"did not start: {self.log_tail()!r}; check that jackd2 works (`jackd -d dummy`)")
        return self

    def _launch(self, jackd: str, jack_wait: str) -> bool:
        """Start jackd and wait until it answers; on failure stop it and return False."""
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                [jackd, "-n", self.name,
                 "-d", "dummy", "-r", str(self.sample_rate), "-p", str(self.period_samples)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        waited = subprocess.run([jack_wait, "-s", self.name, "-w", "-t", str(int(self.start_timeout_seconds))],
                                check=False, capture_output=True, text=True, env=self.env())
        if waited.returncode != 0 or self.process.poll() is not None:
            self.stop()
            return False
        return True

    def env(self) -> dict[str, str]:
        """os.environ plus JACK_DEFAULT_SERVER naming this server (for subprocesses)."""
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name}

    def activate(self) -> None:
        """Point this process's future JACK clients at this server (undone by `stop`)."""
        self._saved_env = os.environ.get("JACK_DEFAULT_SERVER", "")
        os.environ["JACK_DEFAULT_SERVER"] = self.name

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (tests of a server that disappears mid-run)."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._saved_env is not None:
            if self._saved_env:
                os.environ["JACK_DEFAULT_SERVER"] = self._saved_env
            else:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            self._saved_env = None

    def log_tail(self, chars: int = 400) -> str:
        try:
            return self._log.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_ports(pattern: str, count: int, server: JackServer, timeout_seconds: float = 10.0) -> list[str]:
    """Poll `jack_lsp` until at least `count` ports contain `pattern`; DeviceError on timeout."""
    deadline = time.monotonic() + timeout_seconds
    ports: list[str] = []
    while time.monotonic() < deadline:
        listing = subprocess.run(["jack_lsp"], check=False, capture_output=True, text=True, env=server.env())
        ports = [p for p in listing.stdout.splitlines() if pattern in p]
        if len(ports) >= count:
            return ports
        time.sleep(0.05)
    raise DeviceError(f"JACK ports matching {pattern!r}: found {ports}, expected {count} within "
                      f"{timeout_seconds} s; is the client running?")


def _clear_stale_registrations(log: str) -> bool:
    """Remove JACK's shared-memory registry when jackd refused with "Too many servers already active"
    while no jackd runs at all: servers killed with SIGKILL (as a test does on purpose) leave their
    entries behind, and once their process ids are reused by other programs JACK counts them as alive.
    Returns whether anything was cleared (then a retry can succeed)."""
    if "Too many servers" not in log:
        return False
    running = subprocess.run(["pgrep", "-x", "jackd"], check=False, capture_output=True, text=True)
    if running.stdout.strip():  # a live server owns that state: leave it alone
        return False
    shm = Path("/dev/shm")
    stale = [*shm.glob("jack-*"), *shm.glob("jack_*")]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return bool(stale)
