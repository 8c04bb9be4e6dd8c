"""Start-up cost: median wall time of a read command against the floor of importing what every
click CLI pays.  Prints figures; asserts nothing.  Run: python bench/startup.py [--runs N]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3


def sporder() -> list[str]:
    script = Path(sys.executable).with_name("sporder")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sporder_py"]


def median_ms(cmd: list[str], runs: int, extra_env: dict[str, str] | None = None) -> float:
    env = {**os.environ, "SPORDER_CATALOG": str(ROOT / "catalogs" / "windows-11.toml"),
           **(extra_env or {})}
    subprocess.run(cmd, capture_output=True, env=env, check=False)          # warm the caches
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=False)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    floor = median_ms([sys.executable, "-c", "import click, tomllib, json"], args.runs)
    print(f"{'command':<58} {'median ms':>9} {'floor ms':>9} {'ratio':>6}  target")
    for label, argv, env in (("sporder resolve AF_INET SOCK_STREAM IPPROTO_TCP --json",
                              ["resolve", "AF_INET", "SOCK_STREAM", "IPPROTO_TCP", "--json"], None),
                             ("sporder list --json", ["list", "--json"], None)):
        ms = median_ms(sporder() + argv, args.runs, env)
        print(f"{label:<58} {ms:9.1f} {floor:9.1f} {ms / floor:6.2f}  "
              + (f"<= {TARGET}" if env is None else "(info: a catalog never read before)"))
    print(f"(floor: python -c 'import click, tomllib, json'; {args.runs} runs each; "
          f"{sys.executable})")


if __name__ == "__main__":
    main()
