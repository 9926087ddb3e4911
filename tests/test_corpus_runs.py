"""Every hand-written source sample runs in its own framework.

`samples/corpus/` and `samples/paper/` hold PyTorch and Keras files written the
way people write them; the importers must migrate them without executing them.
This test is the one place that does execute them: each manifest entry is
imported as a module (so no `__main__` training script runs), its model is
built, fed a batch of two random inputs and must give finite outputs. It also
keeps the manifests honest: every file is listed, every construct a file claims
is visible in its source, the required constructs are all covered, and the
files import nothing but their framework, numpy and the standard library.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from markers import FRAMEWORK_MARKS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent / "samples"
MANIFESTS = {"corpus": ROOT / "corpus" / "manifest.json", "paper": ROOT / "paper" / "manifest.json"}
MIN_FILES = {("corpus", "pytorch"): 64, ("corpus", "keras"): 34, ("paper", "pytorch"): 10, ("paper", "keras"): 10}
BATCH = 2
ALLOWED_TOP_LEVEL_IMPORTS = {"torch", "keras", "tensorflow", "numpy"}
# Keras 3 prefers Input() over input_shape= and single inputs over one-element
# lists, but people still write both.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
    pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning"),
]
ENTRY_KEYS = {"path", "framework", "model", "model_kind", "kwargs", "inputs", "description", "constructs"}
SCRIPT_KEYS = {"set"}   # whole scripts: the values they compute from data (--set), migrated with nothing else
CONSTRUCTOR_KEYS = {"run_constructor"}   # files migrated in constructor mode (--run-constructor)
# A realistic file the importer still refuses: the code of the first error it reports (tests/test_corpus_sizes.py
# checks the refusal, strictly, so a fix shows up); the other corpus tests leave the file out.
REFUSED_KEY = "refused"
MODEL_NEEDED_KEY = "model_needed"   # whole scripts with a real choice of model: the code of the first error

# Construct tags a manifest may use, with a pattern the file's source must
# match when it claims the tag (None: checked from the manifest entry itself).
CONSTRUCTS: dict[str, str | None] = {
    # PyTorch
    "module-subclass": r"class \w+\([\w.]*Module\)",
    "sequential": r"Sequential\(",
    "nested-sequential": r"Sequential\((.|\n)*Sequential\(",
    "module-level-sequential": r"(?m)^\w+ = (nn\.|torch\.nn\.)?Sequential\(",
    "module-list": r"ModuleList\(",
    "module-dict": r"ModuleDict\(",
    "helper-block": None,
    "init-loop": r"for \w+ in (.|\n)*def forward",
    "builder-loop": r"def \w+\((.|\n)*\n\s+for \w+ in ",
    "init-conditional": r"def __init__(.|\n)*\n\s+if [^\n]*:\n(.|\n)*def forward",
    "sequential-builder-function": r"(?m)^def \w+\((.|\n)*return nn\.Sequential\(",
    "shape-unpack": r"= \w+\.size\(\)|= \w+\.shape\b",
    "chunk-split": r"\.chunk\(|\.split\(|torch\.chunk\(|torch\.split\(",
    "slicing": r"\[:, [^\]]*\d*:-?\d+\]",
    "matmul": r"torch\.matmul\(| @ ",
    "forward-loop": r"def forward(.|\n)*for [\w, ()]+ in ",
    "functional-relu": r"\b(F|torch)\.relu\(|\.relu\(\)",
    "torch-cat": r"torch\.cat\(",
    "torch-stack": r"torch\.stack\(",
    "flatten-call": r"torch\.flatten\(|\.flatten\(",
    "view": r"\.view\(",
    "reshape": r"\.reshape\(",
    "permute": r"\.permute\(|Permute\(",
    "transpose": r"\.transpose\(",
    "transpose-before-conv1d": r"\.transpose\(1, 2\)|\.permute\(0, 2, 1\)|Transpose\(1, 2\)",
    "mean": r"\.mean\(|torch\.mean\(",
    "sum": r"\.sum\(|torch\.sum\(",
    "max-reduce": r"\.max\(|torch\.max\(|\.amax\(|torch\.amax\(",
    "squeeze": r"(?<!un)squeeze\(",
    "unsqueeze": r"unsqueeze\(",
    "normalize": r"F\.normalize\(",
    "pad": r"F\.pad\(",
    "interpolate": r"F\.interpolate\(",
    "last-step-index": r"\[:, -1(, :)?\]",
    "hidden-index": r"\[-1\]",
    "residual-add": r"\+=|\w\) \+ \w|\w \+ \w|\w \+ self\.|layers\.add\(|Add\(\)",
    "tuple-unpack": r"(?m)^\s*[\w_]+\s*,\s*[\w_(), ]+=\s*(self\.)?\w+\(",
    "multi-input": None,
    "multi-output": r"return \w[^\n]*, |return \{|return \(|outputs=\[\w+, \w+",
    "keyword-args-reordered": r"\b(out_features|hidden_size|out_channels|num_channels|bias)=[^()]*\b(in_features|input_size|in_channels|num_groups)=",
    "helper-methods": r"def (?!forward\b|__init__\b|call\b)\w+\(self",
    "ctor-defaults": None,
    "stacked-rnn": r"num_layers=(?!1\b)\w+|return_sequences=True(.|\n)*(LSTM|GRU|SimpleRNN)\(",
    "bidirectional": r"bidirectional=True|Bidirectional\(",
    "padding-idx": r"padding_idx=",
    "inplace": r"inplace=True|ReLU\(True\)",
    "bias-false": r"bias=False|use_bias=False",
    "batch-norm": r"BatchNorm",
    "layer-norm": r"LayerNorm",
    "adaptive-pool": r"[Aa]daptive",
    "gelu": r"GELU|gelu",
    "dropout2d": r"Dropout2d|SpatialDropout2D",
    "pixel-shuffle": r"PixelShuffle|pixel_shuffle",
    "log-softmax": r"log_softmax|LogSoftmax",
    "softmax": r"[Ss]oftmax",
    "training-script": r"if __name__ == .__main__.:",
    "import-torch-nn-as-nn": r"import torch\.nn as nn",
    "from-torch-import-nn": r"from torch import nn",
    "from-torch-nn-import": r"from torch\.nn import",
    "torch-nn-qualified": r"torch\.nn\.\w+\(",
    "conv1d": r"Conv1[dD]",
    "conv2d": r"Conv2[dD]",
    "conv3d": r"Conv3[dD]",
    "conv-transpose": r"ConvTranspose|Conv\dDTranspose",
    "mlp": r"Linear|Dense",
    "simple-rnn": r"nn\.RNN\(|\bRNN\(|SimpleRNN",
    "lstm": r"LSTM",
    "gru": r"GRU",
    "embedding": r"Embedding",
    "attention": r"MultiHeadAttention|MultiheadAttention",
    "pooling": r"Pool|_pool\dd\(",
    "global-pool": r"Global\w*Pool|AdaptiveAvgPool\dd\(1\)|AdaptiveAvgPool\dd\(\(1, 1\)\)",
    "upsample": r"Upsample|UpSampling|interpolate",
    "group-norm": r"GroupNorm|GroupNormalization",
    "padding-modules": r"(Reflection|Replication|Circular|Zero|Constant)Pad\dd\(",
    "tensor-method-arithmetic": r"\.(add|sub|mul|div)\(\w|torch\.neg\(",
    "device-plumbing": r"torch\.device\((.|\n)*\.to\(|\.cuda\(\)|\.cpu\(\)",
    "static-checks": r"isinstance\((.|\n)*torch\.jit\.is_(scripting|tracing)\(",
    "batch-fold": r"\.(view|reshape)\(\w+ \* \w+,",
    "tile-expand": r"\.(repeat|expand|tile)\(|torch\.tile\(",
    "position-ids": r"(torch|ops)\.arange\(",
    "torch-transformer": r"nn\.TransformerEncoder(Layer)?\(",
    "lstm-cell-loop": r"LSTMCell\((.|\n)*for \w+ in range",
    "initial-state": r"initial_state=",
    "activation-layers": r"\b(ReLU|Tanh|Sigmoid|GELU|SiLU|ELU|LeakyReLU|Hardswish|Hardsigmoid|Mish|PReLU|ReLU6|SELU|Softplus|Activation)\(",
    # Keras
    "keras-sequential-list": r"Sequential\(\s*\[",
    "keras-sequential-add": r"\.add\(",
    "keras-functional": r"Input\((.|\n)*Model\(",
    "keras-shared-layer": None,
    "keras-model-subclass": r"class \w+\([\w.]*Model\)",
    "keras-layer-subclass": r"class \w+\([\w.]*Layer\)",
    "import-keras-layers": r"keras\.layers\.\w+\(|import keras\b",
    "from-keras-import-layers": r"from keras import (\w+, )*layers",
    "tf-keras": r"tf\.keras\.",
    "from-tensorflow-keras": r"from tensorflow(\.keras)? import",
    "activation-arg": r"activation=",
    "input-shape-arg": r"input_shape=",
    "input-layer": r"Input\(",
    "channels-last": None,
    "compile-fit": r"\.compile\((.|\n)*\.fit\(",
    "preprocessing-layers": r"layers\.Random\w+\(|layers\.Gaussian\w+\(",
    "rescaling": r"Rescaling\(",
    "repeat-vector": r"RepeatVector\(",
    "build-function": r"def \w+\((.|\n)*return (keras\.|tf\.keras\.|models\.)?(Model|Sequential)\(|def \w+\((.|\n)*return model",
    # Whole scripts (issue 10)
    "whole-script": r"(?s)def \w+\(.*(\.fit\(|\.backward\(\))",
    "argparse": r"argparse\.ArgumentParser\(",
    "dataclass-config": r"@dataclass",
    "config-dict": r"(?m)^[A-Z_]+ = \{",
    "free-value": None,
    # Constructor mode (issue 10 item 3): the entry says run_constructor
    "run-constructor": None,
}

# What the corpus as a whole must exercise (issue 4).
REQUIRED = {
    "pytorch": {
        "module-subclass", "sequential", "nested-sequential", "module-level-sequential", "module-list",
        "module-dict", "helper-block", "forward-loop", "functional-relu", "torch-cat", "torch-stack",
        "flatten-call", "view", "reshape", "permute", "transpose", "transpose-before-conv1d", "mean",
        "sum", "max-reduce", "squeeze", "unsqueeze", "normalize", "pad", "interpolate", "last-step-index",
        "hidden-index", "residual-add", "tuple-unpack", "multi-input", "multi-output",
        "keyword-args-reordered", "helper-methods", "ctor-defaults", "stacked-rnn", "padding-idx",
        "inplace", "bias-false", "batch-norm", "layer-norm", "adaptive-pool", "gelu", "dropout2d",
        "pixel-shuffle", "log-softmax", "training-script", "import-torch-nn-as-nn",
        "from-torch-import-nn", "from-torch-nn-import", "conv1d", "conv2d", "conv3d", "mlp",
        "simple-rnn", "lstm", "gru", "embedding",
    },
    "keras": {
        "keras-sequential-list", "keras-sequential-add", "keras-functional", "keras-shared-layer",
        "keras-model-subclass", "multi-input", "multi-output", "import-keras-layers",
        "from-keras-import-layers", "tf-keras", "from-tensorflow-keras", "activation-arg",
        "input-shape-arg", "input-layer", "channels-last", "compile-fit", "conv1d", "conv2d", "conv3d",
        "mlp", "simple-rnn", "lstm", "gru", "embedding", "batch-norm", "training-script",
    },
}


def load_entries():
    entries = []
    for collection, manifest in MANIFESTS.items():
        for entry in json.loads(manifest.read_text())["entries"]:
            entries.append((collection, manifest.parent, entry))
    return entries


ENTRIES = load_entries()


def entry_id(item):
    collection, _, entry = item
    return f"{collection}/{entry['path']}"


def source_of(base: Path, entry: dict) -> str:
    return (base / entry["path"]).read_text()


# ---------------------------------------------------------------- manifests


@pytest.mark.parametrize("collection", sorted(MANIFESTS))
def test_manifest_lists_exactly_the_files(collection):
    base = MANIFESTS[collection].parent
    listed = [e["path"] for c, _, e in ENTRIES if c == collection]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    on_disk = sorted(str(p.relative_to(base)) for p in base.rglob("*.py"))
    assert sorted(listed) == on_disk


def test_file_counts():
    counts = {}
    for collection, _, entry in ENTRIES:
        key = (collection, entry["framework"])
        counts[key] = counts.get(key, 0) + 1
    for key, minimum in MIN_FILES.items():
        assert counts.get(key, 0) >= minimum, f"{key}: {counts.get(key, 0)} files, need {minimum}"
    assert counts[("paper", "pytorch")] + counts[("paper", "keras")] == 20


def test_paper_has_five_networks_in_two_styles_per_framework():
    networks = {}
    for collection, _, entry in ENTRIES:
        if collection == "paper":
            network = Path(entry["path"]).stem.rsplit("_", 1)[0]
            networks.setdefault(network, set()).add(entry["path"])
    assert sorted(networks) == ["alexnet", "cnn_rnn", "text_classifier", "tutorial_cnn", "vgg16"]
    assert all(len(paths) == 4 for paths in networks.values())


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_entry_is_well_formed(item):
    _, base, entry = item
    assert set(entry) - SCRIPT_KEYS - CONSTRUCTOR_KEYS - {"shape_needed", REFUSED_KEY, MODEL_NEEDED_KEY} == ENTRY_KEYS
    assert entry.get("run_constructor", True) is True, "run_constructor is given only when true"
    assert ("run_constructor" in entry) == ("run-constructor" in entry["constructs"])
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", entry.get(REFUSED_KEY, "code")), "a refusal is a diagnostic code"
    assert entry.get("shape_needed", "why") and "\n" not in entry.get("shape_needed", "")
    assert ("set" in entry) == ("whole-script" in entry["constructs"])
    assert MODEL_NEEDED_KEY not in entry or ("set" in entry and re.fullmatch(r"[a-z]+(-[a-z]+)*",
                                                                           entry[MODEL_NEEDED_KEY]))
    assert entry["framework"] in ("pytorch", "keras")
    assert Path(entry["path"]).parts[0] == entry["framework"]
    assert entry["model_kind"] in ("class", "variable", "function")
    assert entry["description"] and "\n" not in entry["description"]
    assert entry["inputs"], "every model has at least one input"
    for spec in entry["inputs"]:
        assert set(spec) <= {"name", "shape", "dtype", "vocab", "free_axes", "code_shape"}
        assert all(isinstance(d, int) and d > 0 for d in spec["shape"]), "shapes exclude the batch axis"
        code_shape = spec.get("code_shape", spec["shape"])   # the view the code reads (a flatten's input)
        assert all(isinstance(d, int) and d > 0 for d in code_shape)
        assert math.prod(code_shape) == math.prod(spec["shape"]), "the code reads the data through another view"
        free = spec.get("free_axes", [])
        assert free == sorted(set(free)) and all(0 <= a < len(code_shape) for a in free)
        assert spec["dtype"] in ("float32", "int64")
        assert ("vocab" in spec) == (spec["dtype"] == "int64"), "integer inputs give their vocabulary"
    source = source_of(base, entry)
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert entry["model"] in (defined if entry["model_kind"] != "variable" else assigned)


def defaults_of_model(tree: ast.Module, entry: dict) -> list:
    """Default values of the model class's __init__ or of the builder function."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == entry["model"]:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item.args.defaults + [d for d in item.args.kw_defaults if d is not None]
        if isinstance(node, ast.FunctionDef) and node.name == entry["model"]:
            return node.args.defaults
    return []


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_claimed_constructs_are_in_the_source(item):
    _, base, entry = item
    source = source_of(base, entry)
    for tag in entry["constructs"]:
        assert tag in CONSTRUCTS, f"unknown construct tag {tag!r}"
        pattern = CONSTRUCTS[tag]
        if pattern is not None:
            assert re.search(pattern, source), f"{entry['path']} claims {tag!r} but does not show it"
    if "helper-block" in entry["constructs"]:
        # a helper class beside the model class, or any class beside a module-level model
        module_classes = re.findall(r"class \w+\([\w.]*Module\)", source)
        assert len(module_classes) >= (1 if entry["model_kind"] == "variable" else 2)
    if "keras-shared-layer" in entry["constructs"]:
        layer_names = re.findall(r"(?m)^\s*((?:self\.)?\w+) = (?:layers|keras\.layers|tf\.keras\.layers)\.\w+\(", source)
        assert any(len(re.findall(re.escape(name) + r"\(", source)) >= 2 for name in layer_names)
    if "ctor-defaults" in entry["constructs"]:
        assert defaults_of_model(ast.parse(source), entry), "the model's constructor or builder has no defaults"
    if "multi-input" in entry["constructs"]:
        assert len(entry["inputs"]) >= 2
    if "free-value" in entry["constructs"]:
        assert entry.get("set"), "a script with values from data names them in 'set'"
        for name in entry["set"]:
            assert re.search(rf"\b{name}\b", source), f"{name} is not a name of the script"
    if "channels-last" in entry["constructs"]:
        assert entry["framework"] == "keras" and len(entry["inputs"][0]["shape"]) >= 2


@pytest.mark.parametrize("framework", sorted(REQUIRED))
def test_corpus_covers_the_required_constructs(framework):
    seen = set()
    for collection, _, entry in ENTRIES:
        if collection == "corpus" and entry["framework"] == framework:
            seen.update(entry["constructs"])
    assert not REQUIRED[framework] - seen, f"not covered: {sorted(REQUIRED[framework] - seen)}"


def input_names_in_source(tree: ast.Module, entry: dict) -> list[str] | None:
    """The input names the code gives: forward/call parameters of a model class,
    variables assigned from Input(...) for functional code; None for Sequential models."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == entry["model"]:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("forward", "call"):
                    names = [a.arg for a in item.args.args[1:] if a.arg != "training"]
                    return names if item.name == "forward" else names[:1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "Input" and isinstance(node.targets[0], ast.Name):
                names.append(node.targets[0].id)
    return names if len(names) == len(entry["inputs"]) else None


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_input_names_follow_the_code(item):
    _, base, entry = item
    expected = input_names_in_source(ast.parse(source_of(base, entry)), entry)
    if expected is not None:
        assert [spec["name"] for spec in entry["inputs"]][: len(expected)] == expected


@pytest.mark.parametrize("item", ENTRIES, ids=entry_id)
def test_imports_only_framework_numpy_and_stdlib(item):
    _, base, entry = item
    tree = ast.parse(source_of(base, entry))
    allowed = ALLOWED_TOP_LEVEL_IMPORTS | set(sys.stdlib_module_names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            names = [node.module]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in allowed, f"{entry['path']}:{node.lineno} imports {name}"


# ---------------------------------------------------------------- running


def import_file(path: Path, unique_name: str):
    spec = importlib.util.spec_from_file_location(unique_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_model(module, entry):
    target = getattr(module, entry["model"])
    if entry["model_kind"] == "variable":
        assert not entry["kwargs"], "a module-level model takes no arguments"
        return target
    return target(**entry["kwargs"])


def random_inputs(entry, rng):
    arrays = []
    for spec in entry["inputs"]:
        shape = (BATCH, *spec["shape"])
        if spec["dtype"] == "int64":
            arrays.append(rng.integers(0, spec["vocab"], size=shape, dtype=np.int64))
        else:
            arrays.append(rng.standard_normal(shape).astype(np.float32))
    return arrays


def flat_outputs(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from flat_outputs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from flat_outputs(item)
    else:
        yield value


def seed_pytorch():
    import torch

    torch.manual_seed(0)


def run_pytorch(model, arrays):
    import torch

    model.eval()
    with torch.no_grad():
        result = model(*[torch.from_numpy(a) for a in arrays])
    return [t.numpy() for t in flat_outputs(result)]


def count_pytorch(model):
    return sum(p.numel() for p in model.parameters())


def seed_keras():
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def run_keras(model, arrays):
    import keras

    result = model(arrays[0] if len(arrays) == 1 else list(arrays), training=False)
    return [keras.ops.convert_to_numpy(t) for t in flat_outputs(result)]


def count_keras(model):
    return model.count_params()


SEEDERS = {"pytorch": seed_pytorch, "keras": seed_keras}
RUNNERS = {"pytorch": run_pytorch, "keras": run_keras}
PARAMETER_COUNTERS = {"pytorch": count_pytorch, "keras": count_keras}

# Parameter counts of the paper networks, the same for both styles of a framework.
# AlexNet and VGG16 are torchvision's published counts, the tutorial CNN the
# TensorFlow tutorial's "Total params: 122,570". The text classifier:
# Embedding 10000*326 + BiLSTM 2*4*(40*(326+40)+40) + LSTM 4*(40*(80+40)+40)
# + Dense 40*40+40 + Dense 40*2+2 = 3,398,522; PyTorch LSTMs carry a second
# bias per gate (b_ih and b_hh), 3*4*40 = 480 more. The CNN-RNN: Embedding
# 5000*50 + Conv1D 4*50*200+200 + Conv1D 5*50*200+200 + GRU 3*(100*(200+100)+2*100)
# + Dense 100*400+400 + Dense 401 = 471,801 in both (Keras GRUs reset after, two biases).
PAPER_PARAMETERS = {
    ("alexnet", "pytorch"): 61_100_840, ("alexnet", "keras"): 61_100_840,
    ("vgg16", "pytorch"): 138_357_544, ("vgg16", "keras"): 138_357_544,
    ("tutorial_cnn", "pytorch"): 122_570, ("tutorial_cnn", "keras"): 122_570,
    ("text_classifier", "pytorch"): 3_399_002, ("text_classifier", "keras"): 3_398_522,
    ("cnn_rnn", "pytorch"): 471_801, ("cnn_rnn", "keras"): 471_801,
}


# Each file needs its framework: a PyTorch file the torch marker, a Keras file the tensorflow marker.
@pytest.mark.parametrize("item", [pytest.param(item, marks=FRAMEWORK_MARKS[item[2]["framework"]]) for item in ENTRIES],
                         ids=entry_id)
def test_model_runs_on_a_random_batch(item):
    collection, base, entry = item
    framework = entry["framework"]
    rng = np.random.default_rng(0)
    module_name = "nnpivot_sample_" + re.sub(r"\W", "_", f"{collection}/{entry['path']}")
    SEEDERS[framework]()
    try:
        module = import_file(base / entry["path"], module_name)
        model = build_model(module, entry)
        outputs = RUNNERS[framework](model, random_inputs(entry, rng))
    finally:
        sys.modules.pop(module_name, None)
    assert outputs, "the model returned nothing"
    for output in outputs:
        assert output.shape[0] == BATCH, f"output of shape {output.shape} lost the batch axis"
        assert np.all(np.isfinite(output))
    if collection == "paper":
        network = Path(entry["path"]).stem.rsplit("_", 1)[0]
        assert PARAMETER_COUNTERS[framework](model) == PAPER_PARAMETERS[(network, framework)]
