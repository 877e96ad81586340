"""Soak `isovox live` on a JACK dummy server: dropped/total callbacks per block size, and the latency.

For each block size it starts a private jackd (dummy driver, period = the block), runs
`isovox live --block-size B --duration SECONDS` with the shipped model, connects the dummy capture
to it and it to the dummy playback, and (with --load-cores N) keeps N cores busy with a competing
numpy load meanwhile. It prints one row per block size: callbacks, dropped blocks (PortAudio
over/underflow flags plus worker-ring under/overruns), DSP load, and the reported input-to-output
latency; `--json FILE` writes the rows. `--reference-minutes M` also runs JACK's own C pass-through
client (`jack_thru`) for M minutes per block size under the same load and counts the server's xruns:
the floor this machine sets for any client.

  python benchmarks/live_soak.py --minutes 10                       # the #13 soak: 128, 256, 512, 1024
  python benchmarks/live_soak.py --minutes 0.5 --rate 48000 --block-sizes 256   # latency at 48 kHz
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isovox.core.errors import DeviceError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # the tests' JACK dummy-server launcher
from jack_server import JackServer, wait_for_ports

LOAD_SCRIPT = ("import numpy as np\n"
               "a = np.random.default_rng(0).random((256, 256))\n"
               "while True:\n"
               "    a = np.tanh(a @ a)\n")


def _competing_load(cores: int) -> list[subprocess.Popen]:
    """`cores` single-threaded busy processes (a matrix product loop each)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return [subprocess.Popen([sys.executable, "-c", LOAD_SCRIPT], env=env, stdout=subprocess.DEVNULL)
            for _ in range(cores)]


def _connect(server: JackServer, pairs: tuple[tuple[str, str], ...]) -> None:
    for source, destination in pairs:
        subprocess.run(["jack_connect", source, destination], check=False, capture_output=True, env=server.env())


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def soak(block_size: int, seconds: float, rate: int, load_cores: int, extra: list[str]) -> dict:
    """One block size: a fresh server, the competing load, one `isovox live` run; its JSON report."""
    with JackServer(sample_rate=rate, period_samples=block_size) as server, \
            tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "report.json"
        live = subprocess.Popen(
            [sys.executable, "-m", "isovox", "live", "--block-size", str(block_size), "--duration", str(seconds),
             "--report", str(report_path), *extra],
            env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        load: list[subprocess.Popen] = []
        try:
            try:
                wait_for_ports("PortAudio:", 4, server, timeout_seconds=60)
            except DeviceError:
                live.kill()
                raise SystemExit(f"isovox live did not open its ports: {live.communicate()[1].strip()[-600:]}")
            _connect(server, (("system:capture_1", "PortAudio:in_0"), ("system:capture_2", "PortAudio:in_1"),
                              ("PortAudio:out_0", "system:playback_1"), ("PortAudio:out_1", "system:playback_2")))
            load = _competing_load(load_cores)
            _out, err = live.communicate(timeout=seconds + 120)
        finally:
            _stop(load)
            if live.poll() is None:
                live.kill()
                live.wait()
        if live.returncode != 0:
            raise SystemExit(f"isovox live failed at block {block_size}: {err.strip()[-400:]}")
        report = json.loads(report_path.read_text())
    report["load_cores"] = load_cores
    return report


def reference_xruns(block_size: int, seconds: float, rate: int, load_cores: int) -> int:
    """JACK xruns while `jack_thru` (a C pass-through client) runs `seconds` under the same load."""
    with JackServer(sample_rate=rate, period_samples=block_size) as server:
        client = subprocess.Popen(["jack_thru"], env=server.env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        load: list[subprocess.Popen] = []
        try:
            wait_for_ports("jack_thru:", 2, server, timeout_seconds=30)
            _connect(server, (("system:capture_1", "jack_thru:input_1"), ("jack_thru:output_1", "system:playback_1")))
            load = _competing_load(load_cores)
            time.sleep(seconds)
        finally:
            _stop([*load, client])
        return server.log_tail(10 ** 8).count("JackTimedDriver::Process XRun")


def _row(report: dict) -> str:
    dropped, callbacks = report["dropped_blocks"], report["callbacks"]
    return (f"| {report['block_size']} | {report['sample_rate']} | {'worker' if report['worker'] else 'callback'}"
            f"{' (RT)' if report.get('realtime_threads') else ''} | {callbacks} | {dropped} | "
            f"{100 * dropped / max(callbacks, 1):.3f} % | {report['dsp_load_mean']:.3f} / {report['dsp_load_max']:.3f} | "
            f"{report['processing_latency_samples']} | {report['total_latency_ms']:.1f} | "
            f"{report.get('reference_xruns', '')} |")


def _cpu_name() -> str:
    """The CPU's model name (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--minutes", type=float, default=10.0, help="run time per block size (default 10)")
    parser.add_argument("--rate", type=int, default=44100, help="JACK's sample rate (default 44100)")
    parser.add_argument("--load-cores", type=int, default=1, help="cores kept busy meanwhile (default 1)")
    parser.add_argument("--reference-minutes", type=float, default=0.0,
                        help="also run jack_thru this long per block size and count its xruns (default 0: off)")
    parser.add_argument("--json", type=Path, default=None, help="write the reports here")
    parser.add_argument("live_args", nargs="*", help="more `isovox live` arguments (after --)")
    args = parser.parse_args()
    print(f"machine: {_cpu_name()}, {os.cpu_count()} cores; "
          f"{args.minutes:g} min per block size at {args.rate} Hz, {args.load_cores} core(s) of competing load; "
          f"started {time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    print("| block | rate | design | callbacks | dropped | dropped share | DSP load mean / max | "
          "processing latency (samples) | total latency (ms) | jack_thru xruns |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    reports = []
    for block_size in args.block_sizes:
        reports.append(soak(block_size, 60 * args.minutes, args.rate, args.load_cores, args.live_args))
        if args.reference_minutes:
            reports[-1]["reference_xruns"] = reference_xruns(block_size, 60 * args.reference_minutes, args.rate,
                                                             args.load_cores)
            reports[-1]["reference_seconds"] = 60 * args.reference_minutes
        print(_row(reports[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
