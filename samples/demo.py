"""`make demo`: the main job on bundled samples, through the real CLI.

Each step prints the command it runs and what came out; the demo stops at the
first failing step. Outputs go to out/demo/ (recreated on every run).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
NNPIVOT = [sys.executable, "-m", "nnpivot"]


def run(*args: str) -> str:
    shown = " ".join(["nnpivot", *args]).replace(str(ROOT) + "/", "")
    print(f"\n$ {shown}")
    done = subprocess.run([*NNPIVOT, *args], cwd=ROOT, capture_output=True, text=True)
    output = (done.stdout + done.stderr).rstrip()
    if output:
        print(output)
    if done.returncode != 0:
        sys.exit(f"demo: step failed with exit code {done.returncode}")
    return done.stdout


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    sample = "samples/alexnet.nn"
    print("== 1. The pivot: check a model written in the .nn language")
    run("check", sample)
    print("\n== 2. Model -> XMI (Eclipse EMF) -> canonical .nn text")
    run("convert", sample, "-o", str(OUT / "alexnet.xmi"))
    run("convert", str(OUT / "alexnet.xmi"), "-o", str(OUT / "alexnet.nn"))
    run("convert", sample, "-o", str(OUT / "alexnet.canonical.nn"))
    same = (OUT / "alexnet.canonical.nn").read_text() == (OUT / "alexnet.nn").read_text()
    print(f"\n.nn -> XMI -> .nn gives the canonical text of the original: {'yes' if same else 'NO'}")
    if not same:
        sys.exit("demo: the round trip changed the model")
    print(f"\nDone. Outputs are in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
