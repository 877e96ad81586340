"""A private JACK dummy server for live tests: skipped with the reason where none can start, unless
ISOVOX_REQUIRE_JACK=1 (CI), where that is a failure."""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from isovox.core.errors import IsovoxError
from jack_server import JackServer


@contextmanager
def jack_server_or_skip(sample_rate: int = 44100, period_samples: int = 256):
    """Yield a started, activated `JackServer`; skip (or fail under ISOVOX_REQUIRE_JACK=1) without one."""
    server = JackServer(sample_rate=sample_rate, period_samples=period_samples)
    try:
        server.start()
    except IsovoxError as exc:
        reason = f"no JACK server: {exc}"
        print(reason)
        if os.environ.get("ISOVOX_REQUIRE_JACK") == "1":
            pytest.fail(f"{reason} (ISOVOX_REQUIRE_JACK=1 forbids skipping)")
        pytest.skip(reason)
    server.activate()
    try:
        yield server
    finally:
        server.stop()
