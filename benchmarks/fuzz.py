"""Fuzz benchmark: mutated models and sources through the command line, in process.

    .venv/bin/python benchmarks/fuzz.py --inputs 10000 --seed 1 --label after
    .venv/bin/python benchmarks/fuzz.py --inputs 150 --seed 8          # a quick slice (the suite runs one)

Seeds are the samples (``samples/*.nn``), their XMI (written in memory from
them) and the corpus sources (``samples/corpus/pytorch/*.py``,
``samples/corpus/keras/*.py``). Each input is one seed under one to three
mutations (byte flips, token swaps, deletions, line duplication, numbers
replaced by hostile values, deep nesting, huge repetition) or one generated
large model (a 25,000-node chain, residual or weight-sharing model), and runs
through ``nnpivot.cli.main`` the way a user runs it: ``check``, ``convert`` to
a random target, or ``migrate --to`` for sources (read statically: nothing is
executed). Every run is timed and bounded by a per-input timeout.

It counts, per format: inputs tried, internal errors (exit 70 or an exception
out of ``main``; the reproducer is saved with its command), runs over 10 s
(of CPU time, the criterion, which a machine shared by many does not inflate;
wall time is counted too),
generated Python files that do not compile, and generated ``.nn``/XMI files
that do not load back. The table is printed and, with ``--label``, written to
``results/fuzz_<label>.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from nnpivot import api
from nnpivot.cli import main
from nnpivot.generators.xmi import to_xmi_string

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SLOW_SECONDS = 10.0
INTERNAL = 70

# Values that break assumptions: zero, negatives, floats where ints go, huge, non-finite, odd text.
HOSTILE_NUMBERS = ("0", "-1", "2.5", "1e308", "-0.0", "nan", "inf", "10**9", "2**64", "999999999999", "1_0",
                   "0x10", "1e-320", "True", "None", '"3"', "[]", "()")
HOSTILE_TOKENS = ("?", "[", "]", "(", ")", "{", "}", ",", "=", ":", '"', "\\", "\x00", "\ud800", "é", "\n",
                  "//", "#", "/*", "lambda", "import", "self", "x", "None", "...", "**", "<<", "@")
TOKEN = re.compile(r"\w+|\"(?:\\.|[^\"\\\n])*\"|'[^'\n]*'|\S")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


@dataclass
class Seed:
    name: str
    kind: str        # nn, xmi, pytorch, keras
    text: str
    options: list[str] = field(default_factory=list)  # --input-shape/--model for sources


@dataclass
class Case:
    seed: Seed
    mutations: list[str]
    text: str
    argv: list[str] = field(default_factory=list)


@dataclass
class Tally:
    tried: int = 0
    ok: int = 0
    diagnosed: int = 0
    internal: int = 0
    slow: int = 0          # over SLOW_SECONDS of CPU time (or stopped by the timeout)
    slow_wall: int = 0     # over SLOW_SECONDS of wall time (a loaded machine inflates it)
    uncompilable: int = 0
    unloadable: int = 0
    outputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0       # wall
    slowest_cpu: float = 0.0


# --- seeds -----------------------------------------------------------------------------------------------

def _source_options(entry: dict) -> list[str]:
    options = ["--model", entry["model"]]
    for item in entry.get("inputs", []):
        options += ["--input-shape", f"{item['name']}=" + ",".join(str(d) for d in item["shape"])]
    if entry.get("kwargs"):
        options += ["--model-args", json.dumps(entry["kwargs"])]
    return options


def seeds() -> list[Seed]:
    found = []
    for path in sorted((ROOT / "samples").glob("*.nn")):
        text = path.read_text(encoding="utf-8")
        found.append(Seed(path.name, "nn", text))
        found.append(Seed(path.with_suffix(".xmi").name, "xmi", to_xmi_string(api.load(path))))
    manifest = json.loads((ROOT / "samples" / "corpus" / "manifest.json").read_text())["entries"]
    by_path = {entry["path"]: entry for entry in manifest}
    for framework in ("pytorch", "keras"):
        for path in sorted((ROOT / "samples" / "corpus" / framework).glob("*.py")):
            entry = by_path.get(f"{framework}/{path.name}")
            options = _source_options(entry) if entry else []
            found.append(Seed(path.name, framework, path.read_text(encoding="utf-8"), options))
    return found


# --- mutations -------------------------------------------------------------------------------------------

def byte_flips(rng, text):
    data = bytearray(text.encode("utf-8", errors="surrogatepass"))
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return data.decode("utf-8", errors="replace")  # what a reader of the file sees (U+FFFD for broken bytes)


def token_swap(rng, text):
    tokens = [m for m in TOKEN.finditer(text)]
    if len(tokens) < 2:
        return text
    a, b = sorted(rng.sample(range(len(tokens)), 2))
    ta, tb = tokens[a], tokens[b]
    return text[:ta.start()] + tb.group() + text[ta.end():tb.start()] + ta.group() + text[tb.end():]


def token_insert(rng, text):
    tokens = [m for m in TOKEN.finditer(text)]
    at = rng.choice(tokens).start() if tokens else 0
    return text[:at] + rng.choice(HOSTILE_TOKENS) + text[at:]


def deletion(rng, text):
    if not text:
        return text
    start = rng.randrange(len(text))
    return text[:start] + text[start + rng.choice((1, 1, 3, 10, 40, 200)):]


def line_duplication(rng, text):
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    index = rng.randrange(len(lines))
    lines[index:index] = [lines[index]] * rng.choice((1, 2, 5))
    return "".join(lines)


def line_deletion(rng, text):
    lines = text.splitlines(keepends=True)
    if lines:
        del lines[rng.randrange(len(lines))]
    return "".join(lines)


def number_swap(rng, text):
    numbers = list(NUMBER.finditer(text))
    if not numbers:
        return token_insert(rng, text)
    match = rng.choice(numbers)
    return text[:match.start()] + rng.choice(HOSTILE_NUMBERS) + text[match.end():]


def deep_nesting(rng, text):
    numbers = list(NUMBER.finditer(text))
    if not numbers:
        return text
    match = rng.choice(numbers)
    depth = rng.choice((40, 200, 1000, 5000))
    opening, closing = rng.choice((("[", "]"), ("(", ")"), ("-", ""), ("{", "}"), ("not ", "")))
    return text[:match.start()] + opening * depth + match.group() + closing * depth + text[match.end():]


def huge_repeat(rng, text):
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    index = rng.randrange(len(lines))
    lines[index:index] = [lines[index]] * rng.choice((200, 2000))
    return "".join(lines)


def long_line(rng, text):
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    index = rng.randrange(len(lines))
    lines[index] = lines[index].rstrip("\n") * rng.choice((50, 500)) + "\n"
    return "".join(lines)


MUTATIONS = {
    "byte-flip": (byte_flips, 4), "token-swap": (token_swap, 4), "token-insert": (token_insert, 3),
    "deletion": (deletion, 4), "line-dup": (line_duplication, 3), "line-del": (line_deletion, 3),
    "number": (number_swap, 5), "deep": (deep_nesting, 1), "huge": (huge_repeat, 1), "long-line": (long_line, 1),
}


def large_model(rng, nodes: int = 25_000) -> tuple[str, str]:
    """A generated ``.nn`` model of ``nodes`` nodes: a chain, a residual model or a weight-sharing chain."""
    shape = rng.choice(("chain", "residual", "sharing"))
    lines = [f"model Large{shape.capitalize()} {{", "    input x: float32[16]"]
    previous = "x"
    for index in range(nodes):
        if shape == "chain":
            lines.append(f"    n{index} = {('relu', 'tanh', 'sigmoid')[index % 3]}({previous})")
        elif shape == "residual":
            skip = f"n{index - 2}" if index >= 2 else "x"  # the input of the dense before: a residual add
            lines.append(f"    n{index} = dense({previous}, 16)" if index % 2 == 0 else
                         f"    n{index} = add({previous}, {skip})")
        else:
            lines.append(f"    n{index} = dense({previous}, 16" + (f", shares=n{index - 1})" if index % 2 else ")"))
        previous = f"n{index}"
    lines += [f"    output {previous}", "}", ""]
    return f"large-{shape}", "\n".join(lines)


def make_case(rng, all_seeds: list[Seed], large_every: int, number: int) -> Case:
    if large_every and number % large_every == large_every - 1:
        name, text = large_model(rng)
        return Case(Seed(name, "nn", text), ["generated-25k"], text)
    kind = rng.choice(("nn", "xmi", "pytorch", "keras"))  # each format as often, whatever its seed count
    seed = rng.choice([s for s in all_seeds if s.kind == kind])
    names = list(MUTATIONS)
    weights = [MUTATIONS[n][1] for n in names]
    chosen = rng.choices(names, weights, k=rng.choice((1, 1, 2, 3)))
    text = seed.text
    for name in chosen:
        text = MUTATIONS[name][0](rng, text)
    return Case(seed, chosen, text)


# --- running ---------------------------------------------------------------------------------------------

class Timeout(BaseException):
    """The per-input time limit (a BaseException: the CLI's own handlers must not swallow it)."""


def _alarm(signum, frame):
    raise Timeout()


# The limit is on CPU time (SIGPROF), which other users of a shared machine do not inflate; a wall-time
# limit WALL_FACTOR times longer still stops a run that waits instead of computing.
WALL_FACTOR = 20


TARGETS = (("pytorch", ".py"), ("keras", ".py"), ("nn", ".nn"), ("xmi", ".xmi"), ("dot", ".dot"))
SUFFIX = {"nn": ".nn", "xmi": ".xmi", "pytorch": ".py", "keras": ".py"}


def command_for(rng, case: Case, source: Path, folder: Path) -> tuple[list[str], Path | None]:
    target, suffix = rng.choice(TARGETS)
    output = folder / f"out{suffix}"
    if case.seed.kind in ("nn", "xmi"):
        if rng.random() < 0.4:
            return ["check", str(source)], None
        return ["convert", str(source), "-o", str(output), "--to", target], output
    options = list(case.seed.options)
    if rng.random() < 0.5:
        return ["convert", str(source), "-o", str(output), "--to", target, *options], output
    return ["migrate", str(source), "--to", target, "-o", str(output), *options], output


def check_output(output: Path | None, tally: Tally) -> str | None:
    """What is wrong with a written output: None, 'uncompilable' or 'unloadable'."""
    if output is None or not output.exists():
        return None
    tally.outputs += 1
    if output.suffix == ".py":
        try:
            compile(output.read_text(encoding="utf-8"), str(output), "exec")
        except (SyntaxError, ValueError) as exc:
            return f"uncompilable: {exc}"
    elif output.suffix in (".nn", ".xmi"):
        try:
            api.load(output)
        except Exception as exc:  # noqa: BLE001 - a generated model file must load back
            return f"unloadable: {type(exc).__name__}: {exc}"[:300]
    return None


def run_case(case: Case, argv: list[str], timeout: float) -> tuple[str, float, float, str]:
    """(outcome, wall seconds, CPU seconds, detail): outcome is ok, diagnosed, internal or timeout."""
    out, err = io.StringIO(), io.StringIO()
    start, start_cpu = time.perf_counter(), time.process_time()
    signal.setitimer(signal.ITIMER_PROF, timeout)
    signal.setitimer(signal.ITIMER_REAL, timeout * WALL_FACTOR)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["--traceback", *argv])
        outcome = "ok" if status == 0 else "internal" if status == INTERNAL else "diagnosed"
        detail = err.getvalue()[-500:] if outcome == "internal" else ""
    except Timeout:
        outcome, detail = "timeout", f"stopped by the {timeout:.0f} s CPU (or {timeout * WALL_FACTOR:.0f} s wall) limit"
    except BaseException as exc:  # noqa: BLE001 - an exception out of main is an internal error
        outcome = "internal"
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)
                      if "/site-packages/" not in f.filename), "?")
        detail = f"{type(exc).__name__}: {str(exc)[:300]} at {where}"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome, time.perf_counter() - start, time.process_time() - start_cpu, detail


def save_reproducer(folder: Path, number: int, case: Case, argv: list[str], problem: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"case{number:05d}"
    suffix = SUFFIX[case.seed.kind]
    # Kept as .txt (a mutated .py is no code of this repository for linters); the command reads it back
    # under its own suffix: copy it to the name the argv shows.
    source = folder / f"{stem}{suffix}.txt"
    source.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    shown = [f"{stem}{suffix}" if Path(a).name == f"model{suffix}" else a for a in argv]
    (folder / f"{stem}.json").write_text(json.dumps({"seed": case.seed.name, "mutations": case.mutations,
                                                      "input": source.name, "argv": shown, "problem": problem},
                                                     indent=1))
    return source


def fuzz(inputs: int, seed: int, timeout: float, large_every: int, failures: Path | None,
         progress: bool = False) -> tuple[dict[str, Tally], list[dict]]:
    rng = random.Random(seed)
    all_seeds = seeds()
    tallies: dict[str, Tally] = {}
    problems: list[dict] = []
    previous = {number: signal.signal(number, _alarm) for number in (signal.SIGALRM, signal.SIGPROF)}
    work = Path(tempfile.mkdtemp(prefix="nnpivot-fuzz-"))
    try:
        for number in range(inputs):
            case = make_case(rng, all_seeds, large_every, number)
            folder = work / f"c{number}"
            folder.mkdir()
            source = folder / f"model{SUFFIX[case.seed.kind]}"
            source.write_text(case.text, encoding="utf-8", errors="surrogatepass")
            argv, output = command_for(rng, case, source, folder)
            tally = tallies.setdefault(case.seed.kind, Tally())
            tally.tried += 1
            outcome, seconds, cpu, detail = run_case(case, argv, timeout)
            tally.seconds += seconds
            tally.slowest = max(tally.slowest, seconds)
            tally.slowest_cpu = max(tally.slowest_cpu, cpu)
            tally.slow_wall += seconds > SLOW_SECONDS
            problem = None
            if outcome == "internal":
                tally.internal += 1
                problem = f"internal error: {detail.strip()}"
            elif outcome == "timeout" or cpu > SLOW_SECONDS:
                tally.slow += 1
                problem = f"slow: {cpu:.1f} s CPU, {seconds:.1f} s wall ({detail or 'finished'})"
            else:
                setattr(tally, outcome, getattr(tally, outcome) + 1)
            wrong = check_output(output, tally) if outcome == "ok" else None
            if wrong:
                if wrong.startswith("uncompilable"):
                    tally.uncompilable += 1
                else:
                    tally.unloadable += 1
                problem = wrong
            if problem:
                entry = {"case": number, "kind": case.seed.kind, "seed": case.seed.name, "mutations": case.mutations,
                         "command": argv[0], "problem": problem}
                if failures is not None:
                    entry["reproducer"] = str(save_reproducer(failures, number, case, argv, problem))
                problems.append(entry)
                if progress:
                    print(f"  case {number}: {entry['seed']} {'+'.join(case.mutations)} {argv[0]}: {problem}",
                          file=sys.stderr, flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            if progress and (number + 1) % 250 == 0:
                total = sum(t.tried for t in tallies.values())
                print(f"  {total} inputs, {sum(t.internal for t in tallies.values())} internal errors, "
                      f"{len(problems)} problems", file=sys.stderr, flush=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        shutil.rmtree(work, ignore_errors=True)
    return tallies, problems


def table(tallies: dict[str, Tally], seconds: float, seed: int) -> str:
    columns = ("format", "inputs", "ok", "diagnosed", "internal errors", f"over {SLOW_SECONDS:.0f} s CPU",
               f"over {SLOW_SECONDS:.0f} s wall", "outputs", "uncompilable", "not loading back", "slowest CPU s",
               "slowest wall s", "mean wall ms")
    rows = []
    total = Tally()
    for name in ("nn", "xmi", "pytorch", "keras"):
        if name not in tallies:
            continue
        t = tallies[name]
        rows.append((name, t))
        for attribute in ("tried", "ok", "diagnosed", "internal", "slow", "slow_wall", "uncompilable", "unloadable",
                          "outputs", "seconds"):
            setattr(total, attribute, getattr(total, attribute) + getattr(t, attribute))
        total.slowest = max(total.slowest, t.slowest)
        total.slowest_cpu = max(total.slowest_cpu, t.slowest_cpu)
    rows.append(("total", total))
    lines = [f"seed {seed}, {total.tried} inputs in {seconds:.0f} s wall", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, t in rows:
        mean = 1000 * t.seconds / t.tried if t.tried else 0
        lines.append(f"| {name} | {t.tried} | {t.ok} | {t.diagnosed} | {t.internal} | {t.slow} | {t.slow_wall} | "
                     f"{t.outputs} | {t.uncompilable} | {t.unloadable} | {t.slowest_cpu:.2f} | {t.slowest:.2f} | "
                     f"{mean:.0f} |")
    return "\n".join(lines) + "\n"


def main_cli(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="per-input limit in CPU seconds (default 20; "
                                                                    f"wall: {WALL_FACTOR} times that)")
    parser.add_argument("--large-every", type=int, default=500, help="one generated 25,000-node model every N "
                                                                    "inputs (0: none; default 500)")
    parser.add_argument("--label", help="write results/fuzz_<label>.md and reproducers to results/fuzz_<label>/")
    args = parser.parse_args(argv)
    failures = RESULTS / f"fuzz_{args.label}" if args.label else None
    if failures is not None and failures.exists():
        shutil.rmtree(failures)
    started = time.perf_counter()
    tallies, problems = fuzz(args.inputs, args.seed, args.timeout, args.large_every, failures, progress=True)
    text = table(tallies, time.perf_counter() - started, args.seed)
    if problems:
        text += "\nProblems:\n\n" + "\n".join(f"- case {p['case']} ({p['kind']}, {p['seed']}, "
                                              f"{'+'.join(p['mutations'])}, {p['command']}): {p['problem']}"
                                              for p in problems) + "\n"
    print(text)
    if args.label:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"fuzz_{args.label}.md").write_text(f"# Fuzz run `{args.label}`\n\n"
                                                       f"`benchmarks/fuzz.py --inputs {args.inputs} --seed "
                                                       f"{args.seed} --label {args.label}`\n\n{text}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main_cli())
