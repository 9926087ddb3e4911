"""Conformance with Eclipse EMF itself (Debian's libeclipse-emf-ecore-xmi-java).

One JVM run (start-up dominates) checks that ``metamodel/nn.ecore`` loads and
passes EMF's Diagnostician, then, for every model (the programmatic models of
``pivot_models`` and every ``samples/*.nn``), that the XMI nnpivot writes loads
in EMF, validates, and that the file EMF writes back loads in nnpivot as an
equal model. Missing Java or EMF jars fail the tests: ``make system-deps``
installs them.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pivot_models import PROGRAMMATIC_MODELS

from nnpivot.compare import differences
from nnpivot.generators.xmi import save_xmi
from nnpivot.importers.xmi import load_xmi
from nnpivot.metamodel import ECORE_PATH

ROOT = Path(__file__).resolve().parent.parent
CHECKER_SOURCE = Path(__file__).with_name("emf") / "NNCheck.java"
JAR_FOLDER = Path("/usr/share/java")
JARS = ("eclipse-emf-common.jar", "eclipse-emf-ecore.jar", "eclipse-emf-ecore-xmi.jar")
SAMPLES = sorted((ROOT / "samples").glob("*.nn"))
MODEL_NAMES = [*PROGRAMMATIC_MODELS, *(f"sample:{p.stem}" for p in SAMPLES)]

# A model EMF must reject: a BlockCall without its (required) block.
INVALID_XMI = """<?xml version="1.0" encoding="UTF-8"?>
<nn:Model xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:nn="http://nnpivot.org/nn/1.0" name="Broken">
  <nodes xsi:type="nn:Input" name="x" shape="4"/>
  <nodes xsi:type="nn:BlockCall" name="call" inputs="//@nodes.0"/>
</nn:Model>
"""


def build_model(name: str):
    if name.startswith("sample:"):
        from nnpivot.importers.nn_text import parse_file  # the samples need the DSL parser
        return parse_file(ROOT / "samples" / f"{name.removeprefix('sample:')}.nn")
    return PROGRAMMATIC_MODELS[name]()


@dataclass
class Checker:
    folder: Path
    classpath: str

    def run(self, ecore: Path, pairs: list[tuple[Path, Path]]) -> Report:
        manifest = self.folder / f"manifest-{len(list(self.folder.glob('manifest-*')))}.txt"
        manifest.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
        done = subprocess.run(["java", "-cp", self.classpath, "NNCheck", str(ecore), str(manifest)],
                              check=False, capture_output=True, text=True, timeout=300)
        return Report.parse(done.returncode, done.stdout, done.stderr)


@dataclass
class Report:
    returncode: int
    ok: set[str] = field(default_factory=set)
    failures: dict[str, list[str]] = field(default_factory=dict)
    stderr: str = ""

    @classmethod
    def parse(cls, returncode: int, stdout: str, stderr: str) -> Report:
        report = cls(returncode, stderr=stderr)
        for line in stdout.splitlines():
            if line.startswith("OK "):
                report.ok.add(line[3:])
            elif line.startswith("FAIL "):
                path, _, message = line[5:].partition(": ")
                report.failures.setdefault(path, []).append(message)
        return report

    def problems(self, path: Path) -> list[str]:
        return self.failures.get(str(path), [])


@pytest.fixture(scope="session")
def emf_checker(tmp_path_factory) -> Checker:
    """NNCheck compiled once per session against the EMF jars."""
    missing = [tool for tool in ("java", "javac") if shutil.which(tool) is None]
    missing += [str(JAR_FOLDER / jar) for jar in JARS if not (JAR_FOLDER / jar).is_file()]
    if missing:
        pytest.fail(f"EMF conformance needs {', '.join(missing)}: run `make system-deps` "
                    "(apt-get install libeclipse-emf-ecore-xmi-java default-jdk-headless)")
    folder = tmp_path_factory.mktemp("emf")
    jars = ":".join(str(JAR_FOLDER / jar) for jar in JARS)
    compiled = subprocess.run(["javac", "-d", str(folder), "-cp", jars, str(CHECKER_SOURCE)],
                              check=False, capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, f"NNCheck.java does not compile:\n{compiled.stderr}"
    return Checker(folder, f"{jars}:{folder}")


@dataclass
class Batch:
    report: Report
    xmi: dict[str, Path]          # model name -> XMI written by nnpivot
    emf_xmi: dict[str, Path]      # model name -> XMI written back by EMF
    invalid: Path


@pytest.fixture(scope="session")
def emf_batch(emf_checker, tmp_path_factory) -> Batch:
    """The metamodel and every model through EMF in one JVM run."""
    folder = tmp_path_factory.mktemp("emf-models")
    xmi, emf_xmi = {}, {}
    for name in MODEL_NAMES:
        stem = name.replace(":", "-")
        xmi[name], emf_xmi[name] = folder / f"{stem}.xmi", folder / f"{stem}.emf.xmi"
        save_xmi(build_model(name), xmi[name])
    invalid = folder / "invalid.xmi"
    invalid.write_text(INVALID_XMI)
    pairs = [(xmi[n], emf_xmi[n]) for n in MODEL_NAMES] + [(invalid, folder / "invalid.emf.xmi")]
    return Batch(emf_checker.run(ECORE_PATH, pairs), xmi, emf_xmi, invalid)


def test_metamodel_validates_in_emf(emf_batch):
    assert emf_batch.report.problems(ECORE_PATH) == []
    assert str(ECORE_PATH) in emf_batch.report.ok, emf_batch.report.stderr


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_emf_loads_and_validates_xmi(emf_batch, name):
    path = emf_batch.xmi[name]
    assert emf_batch.report.problems(path) == []
    assert str(path) in emf_batch.report.ok, emf_batch.report.stderr


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_xmi_written_by_emf_loads_as_equal_model(emf_batch, name):
    emf_file = emf_batch.emf_xmi[name]
    assert emf_file.is_file(), emf_batch.report.problems(emf_batch.xmi[name])
    assert "xmi:version" in emf_file.read_text()
    assert differences(build_model(name), load_xmi(emf_file)) == []


def test_emf_diagnostician_rejects_invalid_model(emf_batch):
    problems = emf_batch.report.problems(emf_batch.invalid)
    assert any("block" in p and "ERROR" in p for p in problems), problems
    assert emf_batch.report.returncode == 1  # the invalid model alone makes the run fail


@pytest.mark.parametrize("original, mutation, expected", [
    ('name="Identity"', 'name="1dentity"', "1dentity"),       # Diagnostician: not a well-formed name
    ('eType="#//Padding"', 'eType="#//NoSuchEnum"', "NoSuchEnum"),  # load: dangling type reference
])
def test_emf_rejects_broken_metamodel(emf_checker, tmp_path, original, mutation, expected):
    """The metamodel check can fail."""
    text = ECORE_PATH.read_text()
    assert original in text
    path = tmp_path / "broken.ecore"
    path.write_text(text.replace(original, mutation, 1))
    report = emf_checker.run(path, [])
    problems = report.problems(path)
    assert report.returncode == 1 and str(path) not in report.ok
    assert any(expected in p for p in problems), problems
