"""Constructor mode (``--run-constructor``, issue 10 item 3): the model built by the source's own constructor,
read from the object, and nothing else of the source executed.

The corpus files in constructor mode are migrated and compared with their originals by
tests/test_corpus_sizes.py; the one whose input size must be given (the minGPT-style model, whose
position ids cover the sequence) is migrated here with its weights and called at two batch sizes. The
other tests pin the contract: only definitions, plain constants and the constructor run (never the
script's top level, an unused function or the ``__main__`` block; without the flag nothing runs), blocks
stay blocks (one parameterised block per user class where the recorded constructor arguments give one),
what cannot be read is an error naming the module path, and the CLI and the API take the flag.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot import api
from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators.codegen import class_name
from nnpivot.importers.constructed import (
    RecordedConstructors,
    build_model,
    constructor_definitions,
    execute_definitions,
)
from nnpivot.migrate import import_source, migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

ROOT = Path(__file__).resolve().parent.parent / "samples" / "corpus"
ENTRIES = {entry["path"]: entry for entry in json.loads((ROOT / "manifest.json").read_text())["entries"]
           if entry.get("run_constructor")}

SIDE_EFFECTS = '''"""A model file that is also a script: constructor mode must run the class and nothing else."""
from pathlib import Path

import torch
from torch import nn

MARKERS = {markers!r}
HIDDEN = [8, 8]

print("the script starts")
(Path(MARKERS) / "top_level.txt").write_text("the top level ran")


def unused_helper():
    (Path(MARKERS) / "unused.txt").write_text("an unused function ran")


class Net(nn.Module):
    def __init__(self, width=6, classes=3):
        super().__init__()
        (Path(MARKERS) / "constructor.txt").write_text("the constructor ran")
        sizes = [width, *HIDDEN]
        self.body = nn.Sequential(*[nn.Sequential(nn.Linear(a, b), nn.ReLU()) for a, b in zip(sizes, sizes[1:])])
        self.head = nn.Linear(sizes[-1], classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.body(x))


model = Net()
for step in range(3):
    (Path(MARKERS) / f"loop{{step}}.txt").write_text("a top-level loop ran")

if __name__ == "__main__":
    (Path(MARKERS) / "main.txt").write_text("the main block ran")
'''


def _side_effect_file(tmp_path: Path) -> tuple[Path, Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    source = tmp_path / "scripted_net.py"
    source.write_text(SIDE_EFFECTS.format(markers=str(markers)))
    return source, markers


def test_constructor_mode_runs_the_definitions_and_the_constructor_only(tmp_path, capsys):
    source, markers = _side_effect_file(tmp_path)
    result = migrate(source, "keras", tmp_path / "net_keras.py", model_name="Net", run_constructor=True)
    assert result.ok, result.report_text()
    assert sorted(p.name for p in markers.iterdir()) == ["constructor.txt"]
    assert "the script starts" not in capsys.readouterr().out
    assert result.report.model == "Net" and result.report.input_shapes == {"x": (6,)}

    # verify in constructor mode builds the original the same way: the script still does not run
    (markers / "constructor.txt").unlink()
    generated = tmp_path / "net_torch.py"
    assert migrate(source, "pytorch", generated, model_name="Net", run_constructor=True).ok
    (markers / "constructor.txt").unlink()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = main(["verify", str(source), str(generated), "--model-name", "Net", "--run-constructor",
                       "--inputs", "4"])
    assert status == 0, printed.getvalue()
    assert sorted(p.name for p in markers.iterdir()) == ["constructor.txt"]


def test_without_the_flag_nothing_of_the_source_runs(tmp_path):
    source, markers = _side_effect_file(tmp_path)
    result = migrate(source, "nn", tmp_path / "net.nn", model_name="Net")
    # the static reading follows the constructor without running it: its file write is only reported
    assert [d.code for d in result.import_problems if d.is_error] == ["unknown-function"]
    assert list(markers.iterdir()) == []
    assert not result.report.constructed


def test_only_plain_constants_of_the_module_level_are_kept(tmp_path):
    tree = ast.parse("import os\nA = 3\nB = [A, 2 * A]\nC = os.getcwd()\nD = B[0] + len(B)\nE = -A if A else 1\n"
                     "def f():\n    return A\nclass K:\n    pass\nf()\nif __name__ == '__main__':\n    f()\n")
    kept = constructor_definitions(tree, {"E": 7})
    described = [ast.unparse(stmt).splitlines()[0] for stmt in kept]
    assert described == ["import os", "A = 3", "B = [A, 2 * A]", "E = 7", "def f():", "class K:"]


def _users_checkpoint(entry: dict, tmp_path: Path):
    """The original built as its users build it, weights made lively, saved with torch.save(state_dict)."""
    import torch

    module, _ = execute_definitions(ROOT / entry["path"])
    torch.manual_seed(0)
    original = getattr(module, entry["model"])(**entry["kwargs"]).eval()
    with torch.no_grad():
        for tensor in [*original.parameters(), *original.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.5)
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    return original, checkpoint


@pytest.mark.parametrize("path", [p for p, e in ENTRIES.items() if "shape_needed" in e and e["framework"] == "pytorch"])
def test_a_constructed_model_given_its_size_migrates_with_its_weights(path, tmp_path):
    import keras
    import torch

    entry = ENTRIES[path]
    original, checkpoint = _users_checkpoint(entry, tmp_path)
    shapes = [spec["shape"] for spec in entry["inputs"]]
    code, weights = tmp_path / "migrated.py", tmp_path / "migrated.weights.h5"
    result = migrate(ROOT / path, "keras", code, model_name=entry["model"], input_shapes=shapes, weights=checkpoint,
                     weights_out=weights, run_constructor=True)
    assert result.ok, result.report_text()
    assert result.report.blocks, "the user's classes stay blocks"

    namespace: dict = {"__name__": "migrated"}
    exec(compile(code.read_text(), str(code), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    migrated = namespace[class_name(result.model.name)]()
    rng = np.random.default_rng(1)
    worst = 0.0
    for batch in (2, 3):
        arrays = []
        for spec in entry["inputs"]:
            if spec["dtype"] == "int64":
                arrays.append(rng.integers(0, spec["vocab"], size=(batch, *spec["shape"])))
            else:
                arrays.append(rng.standard_normal((batch, *spec["shape"])).astype("float32"))
        if batch == 2:
            migrated(arrays[0] if len(arrays) == 1 else arrays)   # builds the layers, as its users do
            migrated.load_weights(str(weights))
        with torch.no_grad():
            expected = original(*[torch.from_numpy(a) for a in arrays]).numpy()
        got = keras.ops.convert_to_numpy(migrated(arrays[0] if len(arrays) == 1 else arrays, training=False))
        assert got.shape == expected.shape
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst <= 1e-5


def test_blocks_of_the_module_tree_stay_blocks_one_per_source_class():
    model, report = import_source(ROOT / "pytorch/ctor_resnet_make_layer.py", "pytorch", "resnet14",
                                  run_constructor=True)
    assert not [d for d in report.diagnostics if d.is_error]
    # resnet14 has stages of 1, 2, 2, 1 blocks: 3 stages open with a downsampling block, 2 repeat a block;
    # the constructor's recorded arguments make them one BasicBlock(inplanes, planes, stride, downsample)
    assert report.blocks == ["BasicBlock"]
    (block,) = model.blocks
    assert [(p.name, p.type.name) for p in block.parameters] == [
        ("inplanes", "int"), ("planes", "int"), ("stride", "int"), ("downsample", "bool")]
    (guard,) = block.guards
    assert sorted(n.name for n in guard.nodes) == ["downsample_0", "downsample_1"]
    calls = [n for n in model.nodes if n.eClass.name == "BlockCall"]
    given = [{a.parameter.name: a.value.value for a in call.arguments} for call in calls]
    assert given == [{"inplanes": 16, "planes": 16}, {"inplanes": 16, "planes": 32, "stride": 2, "downsample": True},
                     {"inplanes": 32, "planes": 32}, {"inplanes": 32, "planes": 64, "stride": 2, "downsample": True},
                     {"inplanes": 64, "planes": 64}, {"inplanes": 64, "planes": 128, "stride": 2, "downsample": True}]
    assert report.state_dict_prefixes["layer2_0"] == "layer2.0"
    assert report.state_dict_prefixes["BasicBlock:downsample_0"] == "downsample.0"
    assert report.model == "resnet14" and report.model_kind == "function" and report.constructed


RECORDED = '''import torch
from torch import nn


class Base(nn.Module):
    def __init__(self, width, **options):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=options.get("eps", 1e-5))


class Scaled(Base):
    def __init__(self, width, factor=2, *extra, **options):
        super().__init__(width, **options)
        self.proj = nn.Linear(width, width * factor)

    def forward(self, x):
        return self.proj(self.norm(x))


def build():
    return nn.Sequential(Scaled(4), Scaled(8, 3, eps=1e-3))
'''


def test_the_users_block_constructors_are_recorded_only_while_the_model_is_built(tmp_path):
    from torch import nn

    source = tmp_path / "recorded.py"
    source.write_text(RECORDED)
    recorded = RecordedConstructors(nn.Module)
    linear_init = nn.Linear.__init__
    built, _, _ = build_model(source, "build", None, None, None, recorded)
    first, second = built[0], built[1]
    module_class = type(first)
    # the most derived __init__ is recorded, bound to its parameters with its defaults; **options spread
    assert recorded.arguments_of(first) == (module_class.__init__, {"width": 4, "factor": 2})
    assert recorded.arguments_of(second)[1] == {"width": 8, "factor": 3, "eps": 1e-3}
    base_class = module_class.__mro__[1]
    assert base_class.__name__ == "Base"
    # restored: the classes are the user's again, and torch's were never touched
    assert "__wrapped__" not in vars(module_class.__init__) and "__wrapped__" not in vars(base_class.__init__)
    assert nn.Linear.__init__ is linear_init
    assert recorded.arguments_of(nn.Linear(2, 2)) is None
    assert len(recorded.calls) == 2   # the torch layers are not the user's classes


STAGES = '''import torch
from torch import nn


class Stage(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1)
        if stride != 1 or cin != cout:
            self.skip = nn.Conv2d(cin, cout, 1, stride)

    def forward(self, x):
        return torch.relu(self.conv(x)) + (self.skip(x) if hasattr(self, "skip") else x)


class Square(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Conv2d(width, width * width, 1)

    def forward(self, x):
        return self.proj(x)


def build(widths=(4, 4, 8, 8)):
    layers = [Stage(3, widths[0])]
    for cin, cout in zip(widths, widths[1:]):
        layers.append(Stage(cin, cout, 2 if cout != cin else 1))
    layers += [Square(8), nn.Conv2d(64, 2, 1), Square(2)]
    return nn.Sequential(*layers)
'''


def test_recorded_arguments_make_one_block_of_a_class_whose_uses_specialise_back(tmp_path):
    source = tmp_path / "stages.py"
    source.write_text(STAGES)
    model, report = import_source(source, "pytorch", "build", input_shapes=[[3, 16, 16]], run_constructor=True)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    blocks = {b.name: b for b in model.blocks}
    # Stage: the user's own `if` of __init__ guards the skip convolution
    stage = blocks["Stage"]
    assert [p.name for p in stage.parameters] == ["cin", "cout", "stride"]
    assert [n.name for n in stage.guards[0].nodes] == ["skip"]
    # Square's uses need width * width, which no expression of one parameter and one constant gives: one
    # block per use, as before
    assert sorted(blocks) == ["Square", "Square2", "Stage"]
    assert not blocks["Square"].parameters and not blocks["Square2"].parameters


UNTRACEABLE = '''import torch
from torch import nn


class Gate(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        if x.sum() > 0:   # a branch on the data: no graph holds it
            return self.proj(x)
        return x


class Stack(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.stages = nn.ModuleList([nn.Linear(width, width), Gate(width)])

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return x
'''

NO_KIND = '''import torch
from torch import nn


def build(width=4):
    return nn.Sequential(nn.Linear(width, width), nn.Sequential(nn.Bilinear(width, width, width)))
'''


def test_a_forward_fx_cannot_trace_is_read_from_the_source_and_an_untranslated_branch_names_its_module(tmp_path):
    source = tmp_path / "gated.py"
    source.write_text(UNTRACEABLE)
    result = migrate(source, "keras", tmp_path / "out.py", model_name="Stack", input_shapes=[[4]],
                     run_constructor=True)
    # never a partial output: Gate's forward would have been read as an identity
    assert result.failed == "import" and not (tmp_path / "out.py").exists()
    first = result.diagnostics[0]
    assert first.code == "unsupported-construct" and first.is_error
    assert first.message.startswith("module stages.1 (Gate), in `if x.sum() > 0:`: ")
    assert first.location.file == str(source.resolve()) and first.location.line == 5   # class Gate
    notes = [d for d in result.diagnostics if d.code == "forward-read-statically"]
    assert len(notes) == 1 and "module stages.1 (Gate): torch.fx cannot trace its forward" in notes[0].message


SHAPE_BRANCH = '''import math

import torch
from torch import nn


def scaled(scores, dim):
    return scores * (1.0 / math.sqrt(dim))


class Attention(nn.Module):
    heads = 2

    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        if x.dim() == 2:   # one token: a sequence of one
            x = x.unsqueeze(1)
        b, t, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = torch.softmax(scaled(q @ k.transpose(-2, -1), k.size(-1)), dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, t, c))


class Net(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.embed = nn.Linear(4, dim)
        self.attn = Attention(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        h = self.embed(x)
        return self.head(h + self.attn(h))
'''


def test_a_branch_on_sizes_fx_cannot_trace_is_read_statically_and_computes_the_same(tmp_path):
    import keras
    import torch

    source = tmp_path / "branchy.py"
    source.write_text(SHAPE_BRANCH)
    module, _ = execute_definitions(source)
    torch.manual_seed(0)
    original = module.Net().eval()
    torch.save(original.state_dict(), tmp_path / "net.pt")
    code, weights = tmp_path / "net_keras.py", tmp_path / "net.weights.h5"
    result = migrate(source, "keras", code, model_name="Net", input_shapes=[[5, 4]], weights=tmp_path / "net.pt",
                     weights_out=weights, run_constructor=True)
    assert result.ok, result.report_text()
    assert result.report.blocks == ["Attention"]
    (note,) = [d for d in result.import_problems if d.code == "forward-read-statically"]
    assert note.location.line == 11 and "module attn (Attention)" in note.message
    namespace: dict = {}
    exec(compile(code.read_text(), str(code), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    migrated = namespace[class_name(result.model.name)]()
    rng = np.random.default_rng(2)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 5, 4)).astype("float32")
        if batch == 2:
            migrated(x)
            migrated.load_weights(str(weights))
        with torch.no_grad():
            expected = original(torch.from_numpy(x)).numpy()
        got = keras.ops.convert_to_numpy(migrated(x))
        assert np.abs(got - expected).max() <= 1e-5


def test_a_layer_without_a_pivot_kind_is_an_error_naming_its_module_path(tmp_path):
    source = tmp_path / "bilinear.py"
    source.write_text(NO_KIND)
    with pytest.raises(NNPivotError) as caught:
        api.load(source, model_name="build", input_shapes=[[4]], run_constructor=True)
    messages = [str(d) for d in caught.value.diagnostics if d.is_error]
    assert "module 1.0 (Bilinear): nn.Bilinear has no pivot kind" in messages[0]


def test_a_keras_builder_needs_its_name_and_a_custom_layer_is_named(tmp_path):
    source = tmp_path / "builder.py"
    source.write_text('''import keras
from keras import layers


class Scale(layers.Layer):
    def call(self, x):
        return x * 2.0


def build(width=4):
    inputs = keras.Input(shape=(width,))
    x = layers.Dense(width, name="dense_in")(inputs)
    return keras.Model(inputs, layers.Dense(2)(Scale(name="scale")(x)))
''')
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "keras", run_constructor=True)
    assert caught.value.diagnostics[0].code == "model-name-needed"
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "keras", "build", run_constructor=True)
    first = caught.value.diagnostics[0]   # the cause comes first, before what it leaves unread
    assert first.code == "constructor-untranslated" and "layer scale (Scale)" in first.message


def test_a_failing_constructor_and_a_missing_builder_are_located(tmp_path):
    source = tmp_path / "broken.py"
    source.write_text("import torch\nfrom torch import nn\n\n\ndef build(width=4):\n"
                      "    layers = [nn.Linear(width, width)]\n    return nn.Sequential(*layers, nn.Linear(width))\n")
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "pytorch", "build", run_constructor=True)
    (failed,) = caught.value.diagnostics
    assert failed.code == "constructor-failed" and failed.location.line == 7 and "TypeError" in failed.message
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "pytorch", "resnet50", run_constructor=True)
    assert caught.value.diagnostics[0].code == "model-not-found"


def test_the_flag_is_documented_and_taken_by_convert_migrate_and_verify(tmp_path):
    for command in ("convert", "migrate", "verify"):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            assert main([command, "--help"]) == 0
        text = " ".join(printed.getvalue().split())
        assert "--run-constructor" in text and "never the script's top level or __main__ block" in text
    source = ROOT / "pytorch" / "ctor_vgg_builder.py"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["convert", str(source), "-o", str(tmp_path / "vgg.nn"), "--model", "vgg_tiny",
                     "--run-constructor"]) == 0
    assert "conv2d(" in (tmp_path / "vgg.nn").read_text()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["migrate", str(source), "--to", "pytorch", "-o", str(tmp_path / "vgg.py"), "--model",
                     "vgg_tiny", "--model-args", "num_classes=4", "--run-constructor"]) == 0
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = main(["verify", str(source), str(tmp_path / "vgg.py"), "--model-name", "vgg_tiny", "--model-args",
                       "num_classes=4", "--run-constructor", "--inputs", "4"])
    assert status == 0, printed.getvalue()
