"""Run every kernelkit benchmark with one command: the engine, then each area's script.

Usage::

    python benchmarks/suite.py                    # everything (tens of minutes)
    python benchmarks/suite.py --quick            # the short version of every script
    python benchmarks/suite.py --only engine,density --markdown
    python benchmarks/suite.py --json-dir results/   # one JSON file per script

Each script (``run.py`` for the engine, ``bench_<area>.py`` for the rest) runs in its own
fresh process, so one area's warm caches and threads cannot flatter another's. Inside a
script, kernelkit and its named peers run in the same process, on the same data, and the
tables report ratios. The machine this runs on is shared: compare ratios, not seconds, and
prefer medians over several ``--repeats``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> dict[str, Path]:
    """Area name → script: ``engine`` is run.py, the others are ``bench_<area>.py``."""
    found = {"engine": HERE / "run.py"}
    for path in sorted(HERE.glob("bench_*.py")):
        found[path.stem.removeprefix("bench_")] = path
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    available = scripts()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(available),
                   help=f"comma-separated areas, from {','.join(available)}")
    p.add_argument("--quick", action="store_true", help="pass --quick to every script")
    p.add_argument("--repeats", type=int, default=None, help="pass --repeats N to every script")
    p.add_argument("--markdown", action="store_true", help="Markdown tables")
    p.add_argument("--json-dir", type=Path, default=None,
                   help="folder for one JSON result file per script")
    args = p.parse_args(argv)
    args.only = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in args.only if a not in available]
    if unknown:
        p.error(f"--only: unknown area(s) {unknown}; choose from {', '.join(available)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    available = scripts()
    if args.json_dir is not None:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for area in args.only:
        cmd = [sys.executable, str(available[area])]
        if args.quick:
            cmd.append("--quick")
        if args.repeats is not None:
            cmd += ["--repeats", str(args.repeats)]
        if args.markdown:
            cmd.append("--markdown")
        if args.json_dir is not None:
            cmd += ["--json", str(args.json_dir / f"{area}.json")]
        print(f"\n## {area}: {' '.join(cmd[1:])}\n", flush=True)
        t0 = time.perf_counter()
        status = subprocess.call(cmd, cwd=HERE.parent)
        print(f"\n({area} took {time.perf_counter() - t0:.0f} s, exit status {status})",
              flush=True)
        if status != 0:
            failures.append(area)
    if failures:
        print(f"\nFailed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
