"""Scaling and weight-migration benchmark: large generated models, AlexNet with weights, CLI start-up.

    .venv/bin/python benchmarks/scaling.py --label after            # everything (a few minutes on 2 cores)
    .venv/bin/python benchmarks/scaling.py --sizes 2000 6000 --skip-weights --skip-cli

1. **Scaling**: chain and residual models of 10,000 and 30,000 nodes, written
   as ``.nn`` text; each stage (parse, validate, generate PyTorch, generate
   Keras) is timed in this process, as wall time and as the process's CPU
   time (steadier on a shared machine), and the ratio t(large)/t(small)
   printed per stage (linear scaling gives 3 for 30k/10k). A stage that
   raises is reported with its exception name (RecursionError, ...).
2. **Weights**: AlexNet (``samples/paper/pytorch/alexnet_subclass.py``) with
   a real-size checkpoint made by torch in a temporary folder (never kept);
   ``nnpivot migrate --weights`` to Keras and to PyTorch in a subprocess:
   median wall and CPU time, peak RSS (the child's own ``ru_maxrss``), and the same
   figures for a process that only imports the frameworks, so the migration's
   own share can be read (``beyond_imports_s``, ``rss_beyond_imports_mb`` and
   its ratio to the checkpoint size).
3. **CLI**: median wall (and CPU) time of a whole ``nnpivot migrate`` process
   (static, no weights) and of ``nnpivot layers``, over ``--runs`` runs.

Results go to ``results/scaling_<label>.csv`` and are printed as tables.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
ALEXNET = ROOT / "samples" / "paper" / "pytorch" / "alexnet_subclass.py"
_SCRIPT = Path(sys.executable).with_name("nnpivot")  # the installed console script, as a user runs it
NNPIVOT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "nnpivot"]
ALEXNET_SHAPE = ["--input-shape", "x=3,224,224"]
WIDTH = 16


# --- 1. scaling ------------------------------------------------------------------------------------

def chain_text(nodes: int) -> str:
    """A straight chain of ``nodes`` layers (dense, relu, layer_norm in turn)."""
    lines = ["model Chain {", f"    input x: float32[{WIDTH}]"]
    previous = "x"
    cycle = (f"dense({{}}, {WIDTH})", "relu({})", f"layer_norm({{}}, {WIDTH})")
    for index in range(nodes):
        name = f"n{index}"
        lines.append(f"    {name} = {cycle[index % 3].format(previous)}")
        previous = name
    lines += [f"    output {previous}", "}", ""]
    return "\n".join(lines)


def residual_text(nodes: int) -> str:
    """Residual units ``h + relu(dense(h))`` until ``nodes`` layers (every add joins two branches)."""
    lines = ["model Residual {", f"    input x: float32[{WIDTH}]"]
    previous, index = "x", 0
    while index + 3 <= nodes:
        lines += [f"    d{index} = dense({previous}, {WIDTH})",
                  f"    r{index} = relu(d{index})",
                  f"    a{index} = add(r{index}, {previous})"]
        previous, index = f"a{index}", index + 3
    while index < nodes:
        lines.append(f"    i{index} = identity({previous})")
        previous, index = f"i{index}", index + 1
    lines += [f"    output {previous}", "}", ""]
    return "\n".join(lines)


def _timed(function):
    """(value, wall seconds, CPU seconds of this process, exception name or "")."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        value = function()
    except Exception as exc:  # noqa: BLE001 - a failing stage is a result of the benchmark
        traceback.print_exc(limit=3, file=sys.stderr)
        return None, time.perf_counter() - start, time.process_time() - cpu, type(exc).__name__
    return value, time.perf_counter() - start, time.process_time() - cpu, ""


def scaling_rows(sizes: list[int], repeats: int = 1) -> list[dict]:
    from nnpivot.generators import keras, pytorch
    from nnpivot.importers.nn_text import parse_text
    from nnpivot.validators import validate

    rows = []
    for shape, make in (("chain", chain_text), ("residual", residual_text)):
        for nodes in sizes:
            text = make(nodes)
            runs = [_stage_row(shape, nodes, text, parse_text, validate, pytorch.generate, keras.generate)
                    for _ in range(repeats)]
            measured = [_fastest([run[i] for run in runs]) for i in range(2)]  # wall row, CPU row
            rows += measured
            for row in measured:
                print(f"  {shape} {nodes}: {_fmt(row)}", file=sys.stderr, flush=True)
    return rows


def _fastest(rows: list[dict]) -> dict:
    """One row with each stage's smallest time over the repeats (a fresh parse each time)."""
    best = dict(rows[0])
    for stage in STAGES:
        times = [r[stage] for r in rows if isinstance(r[stage], float)]
        best[stage] = min(times) if times else ""
    best["error"] = "; ".join(dict.fromkeys(r["error"] for r in rows if r["error"]))
    return best


def _stage_row(shape, nodes, text, parse_text, validate, generate_pytorch, generate_keras) -> dict:
    row = {"model": shape, "nodes": nodes, "measure": "wall"}
    cpu_row = {"model": shape, "nodes": nodes, "measure": "cpu"}
    errors = []
    model, row["parse"], cpu_row["parse"], failed = _timed(lambda: parse_text(text, f"{shape}{nodes}.nn"))
    if failed:
        errors.append(f"parse: {failed}")
    for stage, run in (("validate", validate), ("pytorch", lambda m: generate_pytorch(m, f"{shape}.nn")),
                       ("keras", lambda m: generate_keras(m, f"{shape}.nn"))):
        if model is None:
            row[stage], cpu_row[stage] = "", ""
            continue
        _, row[stage], cpu_row[stage], failed = _timed(lambda run=run: run(model))
        if failed:
            errors.append(f"{stage}: {failed}")
    row["error"] = cpu_row["error"] = "; ".join(errors)
    return [row, cpu_row]


STAGES = ("parse", "validate", "pytorch", "keras")


def ratio_rows(rows: list[dict]) -> list[dict]:
    """t(largest)/t(smallest) per model, measure and stage."""
    ratios = []
    for shape, measure in dict.fromkeys((r["model"], r["measure"]) for r in rows):
        mine = sorted((r for r in rows if r["model"] == shape and r["measure"] == measure), key=lambda r: r["nodes"])
        small, large = mine[0], mine[-1]
        if small is large:
            continue
        ratio = {"model": shape, "nodes": f"{large['nodes']}/{small['nodes']}", "measure": f"{measure} ratio"}
        for stage in STAGES:
            a, b = small.get(stage), large.get(stage)
            ratio[stage] = f"{b / a:.2f}" if isinstance(a, float) and isinstance(b, float) and a > 0 else ""
        ratio["error"] = ""
        ratios.append(ratio)
    return ratios


# --- 2. AlexNet migrate --weights ---------------------------------------------------------------

def _run_measured(command: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS in MB of the child itself, exit code, CPU seconds of the child (user + system)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(output.decode(errors="replace")[-2000:], file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, process.returncode, usage.ru_utime + usage.ru_stime


def weight_rows(folder: Path, repeats: int) -> list[dict]:
    checkpoint = folder / "alexnet.pt"
    make = ("import sys, torch; sys.path.insert(0, sys.argv[1]); from alexnet_subclass import AlexNet; "
            "torch.manual_seed(0); torch.save(AlexNet().state_dict(), sys.argv[2])")
    subprocess.run([sys.executable, "-c", make,
                    str(ALEXNET.parent), str(checkpoint)], check=True)
    size_mb = checkpoint.stat().st_size / 2**20
    rows = []
    imports = {"keras": "import torch, keras", "pytorch": "import torch"}
    for target, suffix in (("keras", ".weights.h5"), ("pytorch", ".pt")):
        runs = [_run_measured(NNPIVOT + ["migrate", str(ALEXNET), "--to", target, "-o", str(folder / f"out_{target}.py"),
                                         "--weights", str(checkpoint), "--weights-out",
                                         str(folder / f"out{suffix}"), "--force",
                                         *ALEXNET_SHAPE], folder) for _ in range(repeats)]
        # Measured after the migrations, so both read the framework files from a warm page cache.
        baseline = [_run_measured([sys.executable, "-c", imports[target]], folder) for _ in range(repeats)]
        seconds, imports_s = statistics.median(r[0] for r in runs), statistics.median(r[0] for r in baseline)
        cpu, imports_cpu = statistics.median(r[3] for r in runs), statistics.median(r[3] for r in baseline)
        peak, imports_rss = max(r[1] for r in runs), max(r[1] for r in baseline)
        rows.append({"case": f"alexnet migrate --weights -> {target}", "checkpoint_mb": round(size_mb, 1),
                     "seconds": round(seconds, 2), "framework_import_s": round(imports_s, 2),
                     "beyond_imports_s": round(seconds - imports_s, 2), "cpu_s": round(cpu, 2),
                     "import_cpu_s": round(imports_cpu, 2), "cpu_beyond_imports_s": round(cpu - imports_cpu, 2),
                     "peak_rss_mb": round(peak, 1), "import_only_rss_mb": round(imports_rss, 1),
                     "rss_beyond_imports_mb": round(peak - imports_rss, 1),
                     "beyond_imports_over_checkpoint": round((peak - imports_rss) / size_mb, 2),
                     "exit": max(r[2] for r in runs)})
        print(f"  weights -> {target}: {_fmt(rows[-1])}", file=sys.stderr, flush=True)
    return rows


# --- 3. CLI processes ------------------------------------------------------------------------------

def cli_rows(folder: Path, runs: int) -> list[dict]:
    cases = {"nnpivot migrate (static, alexnet -> keras)":
             NNPIVOT + ["migrate", str(ALEXNET), "--to", "keras", "-o", str(folder / "static.py"), "--force",
                        *ALEXNET_SHAPE],
             "nnpivot layers": NNPIVOT + ["layers"]}
    rows = []
    for case, command in cases.items():
        measured = [_run_measured(command, folder) for _ in range(runs)]
        rows.append({"case": case, "runs": runs, "median_s": round(statistics.median(m[0] for m in measured), 3),
                     "min_s": round(min(m[0] for m in measured), 3),
                     "median_cpu_s": round(statistics.median(m[3] for m in measured), 3),
                     "exit": max(m[2] for m in measured)})
    return rows


# --- output ----------------------------------------------------------------------------------------

def _fmt(row: dict) -> str:
    return ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[f"{row.get(c):.2f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
             for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells]
    return "\n".join(lines) + "\n"


def write_csv(sections: dict[str, list[dict]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        for section, rows in sections.items():
            if not rows:
                continue
            columns = list(dict.fromkeys(key for row in rows for key in row))
            writer.writerow(["section", *columns])
            for row in rows:
                writer.writerow([section, *(f"{row[c]:.3f}" if isinstance(row.get(c), float) else row.get(c, "")
                                            for c in columns)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="latest", help="results/scaling_<label>.csv (default: latest)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 30_000], help="node counts")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each model's stages, the fastest kept (default 1; a fresh parse each run)")
    parser.add_argument("--runs", type=int, default=7, help="runs per CLI process measurement (default 7)")
    parser.add_argument("--weight-runs", type=int, default=3, help="runs per weight migration (default 3)")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--skip-weights", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args(argv)
    sections: dict[str, list[dict]] = {}
    if not args.skip_scaling:
        rows = scaling_rows(sorted(args.sizes), args.repeats)
        sections["scaling"] = rows + ratio_rows(rows)
        print(f"Scaling: seconds per stage, wall and CPU of this process (last rows: t(large)/t(small)); "
              f"load average before: {os.getloadavg()[0]:.1f}\n")
        print(table(sections["scaling"]))
    with tempfile.TemporaryDirectory(prefix="nnpivot_scaling_") as tmp:
        if not args.skip_weights:
            sections["weights"] = weight_rows(Path(tmp), args.weight_runs)
            print("AlexNet migrate --weights\n")
            print(table(sections["weights"]))
        if not args.skip_cli:
            sections["cli"] = cli_rows(Path(tmp), args.runs)
            print("CLI processes\n")
            print(table(sections["cli"]))
    path = RESULTS / f"scaling_{args.label}.csv"
    write_csv(sections, path)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
