"""The benchmarks keep working: each runs with ``--smoke`` (seconds) and prints the machine and its figure lines.

Benchmarks are not tests (DESIGN.md): nothing here looks at a figure's value or at how long anything took;
a run must exit 0 and print ``machine:`` and every figure line it promises (``figure NAME = VALUE``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "replay_throughput.py": [
        "redis_benchmark.SET_P1",
        "redis_benchmark.SET_P100",
        "redis_benchmark.HINCRBY_P1",
        "redis_benchmark.HINCRBY_P100",
        *(
            f"replay.{src}.{f}"
            for src in ("queue_log", "bank")
            for f in (
                "end_to_end",
                "steady",
                "python_cpu_us_per_event",
                "redis_cpu_us_per_event",
                "ceiling_measured",
                "ceiling",
                "drop",
                "redis_memory",
            )
        ),
    ],
    "live_latency.py": [
        f"live.{rate}.{f}"
        for rate in (500, 2000)
        for f in ("rate", "applied", "ingest_cpu_share", "p50_ms", "p95_ms", "p99_ms")
    ],
    "scale.py": [
        "scale.events_per_s",
        "scale.apply_cpu_share",
        "scale.snapshot.build_ms",
        "scale.snapshot.cpu_ms",
        "scale.snapshot.summary_bytes",
        "scale.snapshot.detail_bytes",
        "scale.snapshot_cpu_share",
        "scale.ingest_cpu_share",
        "scale.redis_memory_per_hour",
        "scale.redis_memory_24h",
    ],
    "soak.py": [
        f"soak.{f}"
        for f in (
            "lines",
            "days",
            "wall_s",
            "events_applied",
            "dead_letters",
            "faults_injected",
            "reconnects",
            "events_lost",
            "events_double_counted",
            "longest_stale_s",
            "recovery_after_ingester_kill_s",
            "recovery_after_redis_restart_s",
            "ingester_rss_first_mb",
            "ingester_rss_last_mb",
            "redis_memory_end_mb",
        )
    ],
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_smoke_run(script):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"{script} --smoke failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    out = proc.stdout
    machine = [line for line in out.splitlines() if line.startswith("machine:")]
    assert len(machine) == 1, out
    for part in ("cpu=", "cores=", "python=", "redis="):
        assert part in machine[0], machine[0]
    figures = dict(re.findall(r"^figure (\S+) = (.+)$", out, re.M))
    missing = [name for name in EXPECTED[script] if name not in figures]
    assert not missing, f"{script}: no figure line for {missing}:\n{out}"
    if script == "live_latency.py":  # its view held the snapshots that showed the joins (it read each delta)
        assert all(not figures[f"live.{rate}.p50_ms"].startswith("nan") for rate in (500, 2000)), out
