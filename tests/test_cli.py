"""The command line, the public API, the pipeline and atomic writing.

CLI tests call ``nnpivot.cli.main`` in-process (fast); one test runs the real
``python -m nnpivot`` to cover the entry point.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnpivot import api
from nnpivot.cli import COMMANDS, build_parser, main
from nnpivot.diagnostics import NNPivotError, error
from nnpivot.fileio import write_atomic
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_file
from nnpivot.kinds import KINDS
from nnpivot.pipeline import FORMATS, Pipeline, Step, UsageError, format_for

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "samples" / "lenet5.nn"
BROKEN = """model Broken {
    input x: float32[256]
    h = dense(x, 10, in_features=400)
    d = dropout(h, 1.5)
    output d
}
"""


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.nn"
    path.write_text(BROKEN)
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- check -----------------------------------------------------------------------------

def test_check_sound_files(capsys):
    samples = sorted((ROOT / "samples").glob("*.nn"))
    status, out, err = run(capsys, "check", *samples)
    assert status == 0 and err == ""
    assert out.splitlines() == [f"{p}: ok" for p in samples]


def test_check_reports_every_problem_gcc_style(capsys, broken):
    status, out, err = run(capsys, "check", broken, LENET)
    assert status == 1
    assert err.splitlines() == [
        f"{broken}:3:5: error[shape-mismatch]: dense 'h': declared with 400 input features but fed 256 ((N, 256))",
        f"{broken}:4:5: error[out-of-range]: dropout 'd': rate must be in [0, 1), got 1.5"]
    assert out.splitlines() == [f"{broken}: 2 errors", f"{LENET}: ok"]


def test_check_warnings_do_not_fail(capsys, tmp_path):
    path = tmp_path / "warn.nn"
    path.write_text("model W {\n    input x: float32[4]\n    a = relu(x)\n    b = tanh(x)\n    output a\n}\n")
    status, out, err = run(capsys, "check", path)
    assert status == 0
    assert out == f"{path}: ok (1 warning)\n"
    assert f"{path}:4:5: warning[unused-node]" in err


@pytest.mark.parametrize("make,code", [
    (lambda d: d / "missing.nn", "file-not-found"),
    (lambda d: d, "not-a-file"),
    (lambda d: (d / "latin1.nn").write_bytes(b"model \xe9 {}") and d / "latin1.nn", "unreadable-file"),
    (lambda d: (d / "bad.nn").write_text("model M {\n    input x: float32[4\n}\n") and d / "bad.nn", "syntax-error"),
    (lambda d: (d / "bad.xmi").write_text("<not xmi") and d / "bad.xmi", "xmi-syntax"),
], ids=["missing", "directory", "undecodable", "syntax", "xmi"])
def test_check_user_mistakes_are_diagnostics(capsys, tmp_path, make, code):
    target = make(tmp_path.joinpath("folder.nn") if code == "not-a-file" else tmp_path)
    if code == "not-a-file":
        target.mkdir()
    status, out, err = run(capsys, "check", target)
    assert status == 1
    assert err.startswith(f"{target}") and f"error[{code}]" in err
    assert out == f"{target}: 1 error\n"


def test_check_unknown_extension_is_a_usage_error(capsys, tmp_path):
    status, _out, err = run(capsys, "check", tmp_path / "model.onnx")
    assert status == 2
    assert "error[unknown-format]: nnpivot cannot load '.onnx' files; known: .nn, .xmi" in err


# --- convert ---------------------------------------------------------------------------

def test_convert_nn_to_xmi_and_back(capsys, tmp_path):
    xmi, text = tmp_path / "lenet.xmi", tmp_path / "lenet.nn"
    assert run(capsys, "convert", LENET, "-o", xmi)[:2] == (0, f"{xmi}: written (nn -> xmi)\n")
    assert run(capsys, "convert", xmi, "-o", text)[0] == 0
    assert text.read_text() == to_text(parse_file(LENET))
    assert files_in(tmp_path) == ["lenet.nn", "lenet.xmi"]  # no temporary files left


def test_convert_never_overwrites_without_force(capsys, tmp_path):
    output = tmp_path / "out.nn"
    output.write_text("precious")
    status, _out, err = run(capsys, "convert", LENET, "-o", output)
    assert status == 1 and output.read_text() == "precious"
    assert f"{output}: error[output-exists]: {output} already exists; use --force to overwrite it" in err
    assert run(capsys, "convert", LENET, "-o", output, "--force")[0] == 0
    assert output.read_text() == to_text(parse_file(LENET))
    assert files_in(tmp_path) == ["out.nn"]


def test_convert_invalid_model_stops_at_validate_and_writes_nothing(capsys, tmp_path, broken):
    status, out, err = run(capsys, "convert", broken, "-o", tmp_path / "out.xmi")
    assert status == 1 and out == ""
    assert "error[out-of-range]" in err and "error[shape-mismatch]" in err
    assert "note[pipeline-stopped]: stopped at step 'validate' (completed before it: import)" in err
    assert files_in(tmp_path) == ["broken.nn"]


def test_convert_missing_source(capsys, tmp_path):
    status, _out, err = run(capsys, "convert", tmp_path / "nope.nn", "-o", tmp_path / "out.xmi")
    assert status == 1
    assert f"{tmp_path / 'nope.nn'}: error[file-not-found]" in err
    assert "stopped at step 'import' (completed before it: nothing)" in err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("argv,code", [
    (["-o", "out.py"], "ambiguous-format"),
    (["-o", "out.txt"], "unknown-format"),
    (["-o", "out.nn", "--to", "tensorflow"], "unknown-target"),
], ids=["ambiguous", "extension", "target"])
def test_convert_usage_errors(capsys, tmp_path, argv, code):
    argv = [a if not a.startswith("out") else tmp_path / a for a in argv]
    status, _out, err = run(capsys, "convert", LENET, *argv)
    assert status == 2 and f"error[{code}]" in err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_convert_to_code(capsys, tmp_path, target):
    output = tmp_path / "net.py"
    status, _out, err = run(capsys, "convert", LENET, "-o", output, "--to", target)
    if importlib.util.find_spec(f"nnpivot.generators.{target}") is None:
        # the generator is not installed: a diagnostic naming it, and no file
        assert status == 1 and "error[format-unavailable]" in err and files_in(tmp_path) == []
    else:
        assert status == 0, err
        assert output.read_text().startswith("# Generated by nnpivot")


# --- layers and general usage ----------------------------------------------------------

def test_layers_lists_every_kind(capsys):
    status, out, _err = run(capsys, "layers")
    assert status == 0
    assert all(f"\n{keyword} " in out for keyword in KINDS)
    status, markdown, _ = run(capsys, "layers", "--markdown")
    assert markdown.count("\n| `") == len(KINDS)


def test_layers_update_readme_rewrites_only_the_section(capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n\n<!-- layers:start -->\nstale\n<!-- layers:end -->\n\nMore.\n")
    status, out, _ = run(capsys, "layers", "--update-readme", readme)
    text = readme.read_text()
    assert status == 0 and out == f"{readme}: layer table updated\n"
    assert text.startswith("# Project\n\n<!-- layers:start -->\n") and text.endswith("<!-- layers:end -->\n\nMore.\n")
    assert "stale" not in text and "| `conv2d` |" in text
    assert run(capsys, "layers", "--update-readme", readme)[1] == f"{readme}: layer table already up to date\n"


@pytest.mark.parametrize("argv", [[], ["bogus"], ["convert", "a.nn"], ["check"]], ids=str)
def test_usage_errors_exit_2(capsys, argv):
    status, _out, err = run(capsys, *argv)
    assert status == 2 and "usage: nnpivot" in err


def test_help_lists_the_subcommands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    assert all(command.name in out for command in COMMANDS)


def _subcommand_parsers(parser) -> dict:
    [commands] = [action for action in parser._actions if action.dest == "command"]
    return commands.choices


def _arguments_of(sub) -> list:
    return [(a.option_strings, a.dest, a.nargs, a.default, a.required, a.help) for a in sub._actions] + [
        (name, _arguments_of(nested)) for action in sub._actions if action.choices and isinstance(action.choices, dict)
        for name, nested in action.choices.items()]


@pytest.mark.parametrize("name", [command.name for command in COMMANDS])
def test_the_parser_of_one_subcommand_defines_its_arguments_as_the_whole_parser(name):
    """main() defines only the arguments of the subcommand it runs (start-up time): the same arguments."""
    whole, one = _subcommand_parsers(build_parser()), _subcommand_parsers(build_parser(name))
    assert list(one) == list(whole)
    assert _arguments_of(one[name]) == _arguments_of(whole[name]) and len(_arguments_of(one[name])) > 2
    assert all(len(one[other]._actions) == 1 for other in one if other != name)  # --help only


@pytest.mark.parametrize("argv", [["--traceback", "migrate", "--help"], ["weights", "convert", "--help"]])
def test_help_of_a_subcommand_after_global_options(capsys, argv):
    status, out, _ = run(capsys, *argv)
    assert status == 0 and "--force" in out


def test_internal_errors_are_one_line(capsys, monkeypatch):
    def explode(args):
        raise RuntimeError("boom")
    monkeypatch.setattr("nnpivot.layers_cli.run_layers", explode)
    status, _out, err = run(capsys, "layers")
    assert status == 70
    assert err == "nnpivot: internal error in 'layers': RuntimeError: boom (run with --traceback and report it)\n"


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nnpivot", "check", str(tmp_path / "none.nn")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr == f"{tmp_path / 'none.nn'}: error[file-not-found]: no such file: {tmp_path / 'none.nn'}\n"


# --- API and pipeline --------------------------------------------------------------------

def test_api_load_save_check(tmp_path):
    model = api.load(LENET)
    assert api.save(model, tmp_path / "l.xmi") == tmp_path / "l.xmi"
    assert to_text(api.load(tmp_path / "l.xmi")) == to_text(model)
    assert api.check(tmp_path / "l.xmi") == []
    with pytest.raises(NNPivotError) as raised:
        api.save(model, tmp_path / "l.xmi")
    assert [d.code for d in raised.value.diagnostics] == ["output-exists"]
    with pytest.raises(UsageError):
        api.check(tmp_path / "l.weird")


def test_api_save_refuses_an_invalid_model(tmp_path, broken):
    model = api.load(broken)
    with pytest.raises(NNPivotError) as raised:
        api.save(model, tmp_path / "b.nn")
    assert {d.code for d in raised.value.diagnostics} == {"out-of-range", "shape-mismatch"}
    assert not (tmp_path / "b.nn").exists()
    api.save(model, tmp_path / "b.nn", validate=False)  # work in progress may be saved on request
    assert "dropout(h, 1.5)" in (tmp_path / "b.nn").read_text()


def test_format_table():
    assert {f.name for f in FORMATS} >= {"nn", "xmi", "pytorch", "keras"}
    assert format_for("a.NN").name == "nn" and format_for("a.xmi", purpose="save").name == "xmi"
    assert format_for("a.py", "keras", purpose="save").name == "keras"
    for path, target, code in (("a.weird", None, "unknown-format"), ("a.py", None, "ambiguous-format"),
                               ("a.nn", "caffe", "unknown-target")):
        with pytest.raises(UsageError) as raised:
            format_for(path, target, purpose="save")
        assert [d.code for d in raised.value.diagnostics] == [code]
    core_modules = {f.loader.split(":")[0] for f in FORMATS if f.loader} | {f.saver.split(":")[0] for f in FORMATS}
    assert all(m.startswith("nnpivot.") for m in core_modules)


def test_core_imports_no_framework():
    code = ("import sys, nnpivot.cli, nnpivot.api, nnpivot.validators; "
            "from nnpivot.cli import main; main(['check', sys.argv[1]]); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, str(LENET)], capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.splitlines()[-1] == "[]"


def test_pipeline_stops_at_the_first_failing_step():
    calls = []

    def step(name, diagnostics=(), raises=False):
        def run(state):
            calls.append(name)
            if raises:
                raise NNPivotError([error("boom", f"{name} failed")])
            return list(diagnostics)
        return Step(name, run)

    result = Pipeline([step("import"), step("passes"), step("validate", raises=True), step("generate")]).run()
    assert calls == ["import", "passes", "validate"]
    assert not result.ok and result.failed == "validate" and result.ran == ["import", "passes"]
    assert [d.code for d in result.diagnostics] == ["boom", "pipeline-stopped"]
    assert "stopped at step 'validate' (completed before it: import, passes)" in result.diagnostics[-1].message

    calls.clear()
    warned = Pipeline([step("import", [_warning()]), step("generate")]).run()
    assert warned.ok and calls == ["import", "generate"] and [d.code for d in warned.diagnostics] == ["note-worthy"]


def _warning():
    from nnpivot.diagnostics import warning
    return warning("note-worthy", "a warning does not stop the pipeline")


# --- atomic writing -----------------------------------------------------------------------

def test_write_atomic_creates_and_refuses(tmp_path):
    target = tmp_path / "f.txt"
    write_atomic(target, "one")
    with pytest.raises(NNPivotError) as raised:
        write_atomic(target, "two")
    assert raised.value.diagnostics[0].code == "output-exists" and target.read_text() == "one"
    write_atomic(target, b"three", force=True)
    assert target.read_bytes() == b"three"
    assert files_in(tmp_path) == ["f.txt"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def test_write_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch):
    class FullDisk:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("nnpivot.fileio.os.fdopen", FullDisk)
    with pytest.raises(NNPivotError) as raised:
        write_atomic(tmp_path / "f.txt", "data")
    assert raised.value.diagnostics[0].code == "output-unwritable"
    assert "No space left on device" in raised.value.diagnostics[0].message
    assert files_in(tmp_path) == []


def test_write_atomic_into_a_missing_folder(tmp_path):
    with pytest.raises(NNPivotError) as raised:
        write_atomic(tmp_path / "no" / "f.txt", "data")
    assert raised.value.diagnostics[0].code == "output-unwritable"
