"""Start-up time of the ``nnpivot`` command: whole processes, timed from outside.

    .venv/bin/python benchmarks/startup.py [--runs 10] [--bytecode cached|source] [--only layers,migrate]

Each scenario runs the installed ``nnpivot`` console script (beside this
Python) ``--runs`` times in fresh processes after one untimed warm-up run, and
prints the median, minimum and maximum wall time, and the median CPU time
(user + system: less disturbed than wall time when other work shares the
machine). The scenarios:

- ``layers``: ``nnpivot layers`` (the registry only);
- ``migrate``: ``nnpivot migrate`` of a small PyTorch file to Keras code, no
  weights (the static path: no torch, no TensorFlow);
- ``check``, ``convert``: ``samples/lenet5.nn`` checked, and converted to XMI;
- ``version``: ``nnpivot --version`` (the interpreter and the parser alone).

``--bytecode cached`` (default) lets Python keep compiled modules in
``__pycache__``, as an installed package does; ``--bytecode source`` sets
``PYTHONDONTWRITEBYTECODE=1`` and removes the project's own ``__pycache__``
folders first, so nnpivot's modules are compiled on every run (what a
checkout sees with the Makefile's environment); site-packages stay compiled.
For where the time goes, run one command under ``python -X importtime``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FOLDERS = ("nnpivot", "metamodel", "kinds", "grammars", "importers", "generators", "validators")
SMALL_PYTORCH = ROOT / "samples" / "corpus" / "pytorch" / "cnn_lenet.py"
LENET = ROOT / "samples" / "lenet5.nn"


def command() -> list[str]:
    script = Path(sys.executable).with_name("nnpivot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nnpivot"]


def scenarios(folder: Path) -> dict[str, list[str]]:
    return {
        "version": ["--version"],
        "layers": ["layers"],
        "check": ["check", str(LENET)],
        "convert": ["convert", str(LENET), "-o", str(folder / "lenet.xmi"), "--force"],
        "migrate": ["migrate", str(SMALL_PYTORCH), "--to", "keras", "-o", str(folder / "lenet_keras.py"),
                    "--input-shape", "x=1,32,32", "--force"],
    }


def remove_project_bytecode() -> None:
    for name in PROJECT_FOLDERS:
        shutil.rmtree(ROOT / name / "__pycache__", ignore_errors=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_runs(argv: list[str], runs: int, environment: dict, fresh_source: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each timed run."""
    wall, cpu = [], []
    for index in range(runs + 1):  # the first run warms the caches and is not counted
        if fresh_source:
            remove_project_bytecode()
        cpu_before, started = children_cpu(), time.perf_counter()
        completed = subprocess.run(argv, env=environment, capture_output=True, text=True, check=False)
        elapsed, cpu_used = time.perf_counter() - started, children_cpu() - cpu_before
        if completed.returncode:
            raise SystemExit(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stderr}")
        if index:
            wall.append(elapsed)
            cpu.append(cpu_used)
    return wall, cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per scenario (default 10)")
    parser.add_argument("--bytecode", choices=("cached", "source"), default="cached",
                        help="cached: keep compiled modules (default); source: compile nnpivot's modules every run")
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    args = parser.parse_args(argv)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.bytecode == "source":
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="nnpivot_startup_") as folder:
        table = scenarios(Path(folder))
        chosen = args.only.split(",") if args.only else list(table)
        unknown = [name for name in chosen if name not in table]
        if unknown:
            parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(table)}")
        print(f"nnpivot start-up, {args.runs} runs each, bytecode {args.bytecode}, load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"{'scenario':<10} {'median_s':>9} {'min_s':>7} {'max_s':>7} {'cpu_median_s':>13}")
        for name in chosen:
            wall, cpu = time_runs(command() + table[name], args.runs, environment, args.bytecode == "source")
            print(f"{name:<10} {statistics.median(wall):>9.3f} {min(wall):>7.3f} {max(wall):>7.3f} "
                  f"{statistics.median(cpu):>13.3f}", flush=True)
    if args.bytecode == "source":
        remove_project_bytecode()
    return 0


if __name__ == "__main__":
    sys.exit(main())
