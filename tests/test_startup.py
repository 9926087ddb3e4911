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

import jinja2
import pytest

from nnpivot.generators.codegen import CompiledTemplates, environment

ROOT = Path(__file__).resolve().parent.parent
LENET_PY = ROOT / "samples" / "corpus" / "pytorch" / "cnn_lenet.py"
KERAS_PY = ROOT / "samples" / "paper" / "keras" / "tutorial_cnn_sequential.py"
WATCHED = ("numpy", "torch", "tensorflow", "keras", "h5py", "jinja2", "textx", "nnpivot.validators",
           "nnpivot.pipeline", "nnpivot.importers.pytorch", "nnpivot.importers.keras", "nnpivot.generators.keras",
           "nnpivot.generators.pytorch", "nnpivot.migrate", "nnpivot.source_runs", "nnpivot.weight_formats",
           "_posixsubprocess")  # (subprocess executed: the Keras generator names it lazily, for ruff only)

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


HEAVY = {"numpy", "torch", "tensorflow", "keras", "h5py", "nnpivot.source_runs", "nnpivot.weight_formats",
         "_posixsubprocess"}
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


# --- compiled templates ------------------------------------------------------------------

def _compiled(cache: CompiledTemplates) -> list:
    """The code of the Keras template through ``cache``: [(code read from the cache or None, code used)]."""
    env = environment("keras")
    env.bytecode_cache = cache
    seen = []
    read = cache.load_bytecode
    cache.load_bytecode = lambda bucket: (read(bucket), seen.append(bucket.code))
    template = env.get_template("model.py.j2")
    return [(seen[0], template.root_render_func.__code__)]


def _fresh_code():
    env = environment("keras")
    source, filename, _ = env.loader.get_source(env, "model.py.j2")
    return env.compile(source, "model.py.j2", filename)


def test_templates_compile_once_and_are_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    folder = tmp_path / "made" / "__pycache__"  # made when first written
    [(read, _)] = _compiled(CompiledTemplates(str(folder), pattern="keras-%s.jinja2"))
    assert read is None and [p.suffix for p in folder.iterdir()] == [".jinja2"]
    [(read, _)] = _compiled(CompiledTemplates(str(folder), pattern="keras-%s.jinja2"))
    assert read == _fresh_code()


def test_a_changed_template_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    folder = tmp_path / "__pycache__"
    _compiled(CompiledTemplates(str(folder), pattern="keras-%s.jinja2"))
    [cached] = folder.iterdir()
    cached.write_bytes(cached.read_bytes()[:-1] + b"x")  # what an older template's text would have left
    original = environment("keras").loader.get_source
    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", lambda self, env, name: (
        original(env, name)[0] + "\n", *original(env, name)[1:]))
    [(read, _)] = _compiled(CompiledTemplates(str(folder), pattern="keras-%s.jinja2"))
    assert read is None  # the checksum of the text differs: not read


def test_templates_are_not_cached_without_bytecode_writing_or_a_writable_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _compiled(CompiledTemplates(str(tmp_path / "quiet"), pattern="keras-%s.jinja2"))
    assert not (tmp_path / "quiet").exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    [(read, _)] = _compiled(CompiledTemplates(str(blocked / "__pycache__"), pattern="keras-%s.jinja2"))  # no error
    assert read is None and blocked.read_text() == "not a folder"
