"""What each subcommand loads: only what it uses (the times are ``benchmarks/startup.py``'s job).

Each case runs ``nnpivot.cli.main`` in a fresh interpreter and lists the
modules that were executed. numpy counts as loaded only when one of its
submodules is (the weight code names it lazily, see ``nnpivot.lazy``).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LENET_PY = ROOT / "samples" / "corpus" / "pytorch" / "cnn_lenet.py"
KERAS_PY = ROOT / "samples" / "paper" / "keras" / "tutorial_cnn_sequential.py"
WATCHED = ("numpy", "torch", "tensorflow", "keras", "h5py", "jinja2", "textx", "nnpivot.validators",
           "nnpivot.pipeline", "nnpivot.importers.pytorch", "nnpivot.importers.keras", "nnpivot.generators.keras",
           "nnpivot.generators.pytorch", "nnpivot.migrate", "nnpivot.source_runs", "nnpivot.weight_formats")

PROBE = """
import contextlib, io, json, sys
from nnpivot.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    status = main(json.loads(sys.argv[1]))
executed = lambda name: any(m == name or m.startswith(name + ".") for m in sys.modules) if name != "numpy" else \\
    any(m.startswith("numpy.") for m in sys.modules)
print(json.dumps([status, [name for name in json.loads(sys.argv[2]) if executed(name)]]))
"""


def loaded_by(argv: list[str], watched=WATCHED) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(watched)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    status, names = json.loads(done.stdout.splitlines()[-1])
    return status, set(names)


HEAVY = {"numpy", "torch", "tensorflow", "keras", "h5py", "nnpivot.source_runs", "nnpivot.weight_formats"}
CODE = {"nnpivot.importers.pytorch", "nnpivot.importers.keras", "nnpivot.generators.keras",
        "nnpivot.generators.pytorch", "jinja2"}


def test_layers_loads_the_registry_only():
    status, loaded = loaded_by(["layers"])
    assert status == 0 and loaded == set()


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["migrate", "--help"]])
def test_the_parser_loads_no_metamodel(argv):
    status, loaded = loaded_by(argv, watched=("pyecore", "nnpivot.metamodel", "nnpivot.kinds", *WATCHED))
    assert status == 0 and loaded == set()


FREEZE_PROBE = """
import contextlib, gc, io, json, sys
from nnpivot.cli import main
argv = json.loads(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    if argv[0] == "own":  # the process's own command line, as the console script runs it
        sys.argv = ["nnpivot", *argv[1:]]
        status = main()
    else:
        status = main(argv[1:])
print(json.dumps([status, gc.get_freeze_count(), gc.isenabled()]))
"""


@pytest.mark.parametrize("own", [True, False], ids=["own-command-line", "called-with-argv"])
def test_only_the_processs_own_command_line_freezes_what_start_up_made(own):
    """The collector skips the modules and the metamodel in a command's own process; a caller's objects stay
    collectable when main is called with arguments (tests, scripts), and the collector stays on."""
    argv = ["own" if own else "call", "layers"]
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE, json.dumps(argv)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    status, frozen, collecting = json.loads(done.stdout.splitlines()[-1])
    assert status == 0 and collecting
    assert (frozen > 10_000) if own else (frozen == 0)


def test_check_loads_no_source_importer_nor_numpy():
    status, loaded = loaded_by(["check", str(ROOT / "samples" / "lenet5.nn")])
    assert status == 0
    # (the weight-sharing validator reads the PyTorch generator's parameter table, so that one may come along)
    assert {"textx", "nnpivot.validators"} <= loaded
    assert not loaded & (HEAVY | CODE - {"nnpivot.generators.pytorch", "jinja2"})


@pytest.mark.parametrize("source,target,needed,unused", [
    (LENET_PY, "keras", {"nnpivot.importers.pytorch", "nnpivot.generators.keras"}, {"nnpivot.importers.keras"}),
    (LENET_PY, "nn", {"nnpivot.importers.pytorch"}, {"nnpivot.importers.keras", "nnpivot.generators.keras"}),
    (KERAS_PY, "pytorch", {"nnpivot.importers.keras", "nnpivot.generators.pytorch"}, {"nnpivot.importers.pytorch"}),
], ids=["pytorch-to-keras", "pytorch-to-nn", "keras-to-pytorch"])
def test_static_migration_loads_its_importer_and_generator_and_no_numpy(tmp_path, source, target, needed, unused):
    suffix = ".nn" if target == "nn" else ".py"
    shape = ["--input-shape", "x=1,32,32"] if source == LENET_PY else []
    status, loaded = loaded_by(["migrate", str(source), "--to", target, "-o", str(tmp_path / f"out{suffix}"), *shape])
    assert status == 0
    assert needed <= loaded and not loaded & (HEAVY | unused)
