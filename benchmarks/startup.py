"""Start-up time of the ``nnpivot`` command: whole processes, timed from outside.

    .venv/bin/python benchmarks/startup.py [--runs 10] [--bytecode cached|source] [--only layers,migrate]
    .venv/bin/python benchmarks/startup.py --against main     # paired: the working tree against a revision

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

``--against REV`` compares the working tree with a git revision on a busy
machine: both are laid out as packages in a temporary folder (setup.cfg's
``package_dir``; REV exported with ``git archive``) and run as
``python -m nnpivot`` from ``PYTHONPATH``, alternating run by run, so both
see the same load.
"""
from __future__ import annotations

import argparse
import configparser
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
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


def package_layout(source: Path, folder: Path) -> Path:
    """``folder`` with the import package ``nnpivot`` of the tree ``source`` laid out as setup.cfg maps it."""
    config = configparser.ConfigParser()
    config.read(source / "setup.cfg")
    mapping = dict(line.split("=") for line in config["options"]["package_dir"].split("\n") if "=" in line)
    mapping = {package.strip(): directory.strip() for package, directory in mapping.items()}
    for package, directory in sorted(mapping.items()):
        target = folder.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for item in (source / directory).iterdir():
            if item.is_file() and item.suffix in (".py", ".tx", ".ecore") or item.name == "templates":
                (target / item.name).symlink_to(item)
    return folder


def exported_revision(revision: str, folder: Path) -> Path:
    """The files of git ``revision`` of this repository, exported into ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision], capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def remove_project_bytecode() -> None:
    for name in PROJECT_FOLDERS:
        shutil.rmtree(ROOT / name / "__pycache__", ignore_errors=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], environment: dict, cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run."""
    cpu_before, started = children_cpu(), time.perf_counter()
    completed = subprocess.run(argv, env=environment, capture_output=True, text=True, check=False, cwd=cwd)
    elapsed, cpu_used = time.perf_counter() - started, children_cpu() - cpu_before
    if completed.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stderr}")
    return elapsed, cpu_used


def time_runs(argv: list[str], runs: int, environment: dict, fresh_source: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each timed run."""
    wall, cpu = [], []
    for index in range(runs + 1):  # the first run warms the caches and is not counted
        if fresh_source:
            remove_project_bytecode()
        elapsed, cpu_used = timed(argv, environment)
        if index:
            wall.append(elapsed)
            cpu.append(cpu_used)
    return wall, cpu


def compare(revision: str, chosen: list[str], runs: int, environment: dict, folder: Path, fresh_source: bool) -> None:
    """Alternate runs of ``revision`` and of the working tree; per scenario the medians of both."""
    layouts = {revision: package_layout(exported_revision(revision, folder / "tree"), folder / "old"),
               "working tree": package_layout(ROOT, folder / "new")}
    table = scenarios(folder)
    print(f"{'scenario':<10} {'tree':<14} {'median_s':>9} {'cpu_median_s':>13}")
    for name in chosen:
        times = {label: ([], []) for label in layouts}
        for index in range(runs + 1):
            for label, layout in layouts.items():
                if fresh_source:
                    remove_project_bytecode()
                    for cache in list(folder.rglob("__pycache__")):
                        shutil.rmtree(cache, ignore_errors=True)
                elapsed, cpu_used = timed([sys.executable, "-m", "nnpivot", *table[name]],
                                          dict(environment, PYTHONPATH=str(layout)), cwd=layout)
                if index:
                    times[label][0].append(elapsed)
                    times[label][1].append(cpu_used)
        for label, (wall, cpu) in times.items():
            print(f"{name:<10} {label:<14} {statistics.median(wall):>9.3f} {statistics.median(cpu):>13.3f}",
                  flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per scenario (default 10)")
    parser.add_argument("--bytecode", choices=("cached", "source"), default="cached",
                        help="cached: keep compiled modules (default); source: compile nnpivot's modules every run")
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--against", metavar="REV", help="compare with this git revision, run by run")
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
        if args.against:
            compare(args.against, chosen, args.runs, environment, Path(folder), args.bytecode == "source")
            return 0
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
