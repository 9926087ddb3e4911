"""`make demo`: the main job on bundled samples, through the real CLI.

Each step prints the command it runs and what came out; the demo stops at the
first failing step. Outputs go to out/demo/ (recreated on every run).

1. check a `.nn` model; 2. `.nn` -> XMI -> `.nn`; 3. generate PyTorch and Keras
code from it and verify them against each other; 4. migrate the hand-written
PyTorch AlexNet of the paper to Keras WITH trained weights (a checkpoint made
here with a fixed seed), then run the original module with its checkpoint and
the generated Keras model with the migrated `.weights.h5` (loaded by Keras
itself) on the same random inputs and print the maximum difference.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
NNPIVOT = [sys.executable, "-m", "nnpivot"]
PAPER_ALEXNET = "samples/paper/pytorch/alexnet_subclass.py"
ATOL = 1e-5
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(*args: str) -> str:
    shown = " ".join(["nnpivot", *args]).replace(str(ROOT) + "/", "")
    print(f"\n$ {shown}")
    done = subprocess.run([*NNPIVOT, *args], cwd=ROOT, capture_output=True, text=True, check=False)
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
    print("\n== 3. Generate PyTorch and Keras code from the pivot and verify them against each other")
    run("convert", sample, "-o", str(OUT / "alexnet_pytorch.py"), "--to", "pytorch")
    run("convert", sample, "-o", str(OUT / "alexnet_keras.py"), "--to", "keras")
    run("verify", str(OUT / "alexnet_pytorch.py"), str(OUT / "alexnet_keras.py"), "--model", sample,
        "--inputs", "20")
    migrate_alexnet_with_weights()
    print(f"\nDone. Outputs are in {OUT.relative_to(ROOT)}/")


def migrate_alexnet_with_weights() -> None:
    import torch

    from nnpivot.frameworks import open_model_file, random_inputs
    from nnpivot.migrate import import_source, source_runner

    print(f"\n== 4. Migrate the hand-written PyTorch AlexNet ({PAPER_ALEXNET}) to Keras with its weights")
    source = ROOT / PAPER_ALEXNET
    checkpoint = OUT / "alexnet_original.pt"
    model, report = import_source(source, "pytorch", input_shapes={"x": [3, 224, 224]})
    torch.manual_seed(0)
    original = source_runner(source, "pytorch", model, report)  # the original module, as its author wrote it
    torch.save(original.obj.state_dict(), checkpoint)
    print(f"(trained weights stand-in: AlexNet() with torch.manual_seed(0), saved to "
          f"{checkpoint.relative_to(ROOT)}: {len(original.obj.state_dict())} tensors such as features.0.weight)")
    keras_file, keras_weights = OUT / "alexnet_migrated_keras.py", OUT / "alexnet_migrated.weights.h5"
    run("migrate", PAPER_ALEXNET, "--to", "keras", "-o", str(keras_file), "--input-shape", "x=3,224,224",
        "--weights", str(checkpoint), "--weights-out", str(keras_weights), "--report", str(OUT / "alexnet_report.txt"))
    generated = open_model_file(keras_file, model, "keras")
    generated.obj.load_weights(str(keras_weights))  # Keras' own loader, not nnpivot's
    inputs = random_inputs(model, 20, seed=1)
    want, got = original.run(inputs)[0], generated.run(inputs)[0]
    worst = float(np.abs(want.astype(np.float64) - got).max())
    verdict = "PASS" if worst <= ATOL else "FAIL"
    print(f"\noriginal PyTorch AlexNet + {checkpoint.name} vs generated Keras AlexNet + {keras_weights.name}: "
          f"20 random 3x224x224 inputs, max abs difference {worst:.3g} (atol {ATOL:g}): {verdict}")
    if verdict != "PASS":
        sys.exit("demo: the migrated model does not compute what the original computes")


if __name__ == "__main__":
    main()
