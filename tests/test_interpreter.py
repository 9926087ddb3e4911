"""The abstract interpreter of Python source the static importers share (importers/interpreter.py).

Each construct is run on a small snippet by the plain interpreter (no framework values), and where a
framework front-end matters (operators on tensors, comprehensions building layers) through both importers.
Each evaluation limit ends in a located ``evaluation-limit`` diagnostic, fast, also from the CLI.
"""
from __future__ import annotations

import ast
import textwrap
import time

import pytest

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.importers.interpreter import Class, EvaluationLimit, Function, Interpreter, Limits, Object
from nnpivot.importers.keras import import_keras
from nnpivot.importers.pysource import Refused
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.kinds import kind_of


def run(source: str, path="snippet.py") -> dict:
    """The module-level names of ``source`` after the interpreter ran it."""
    interpreter = Interpreter(path)
    interpreter.exec_body(ast.parse(textwrap.dedent(source)).body, interpreter.globals)
    return interpreter.globals


def value(source: str, name="result"):
    return run(source)[name]


# --- statements --------------------------------------------------------------------------------------------

def test_assignments_of_every_form():
    names = run("""
        a = b = 2
        c: int = a + 1
        d, (e, f) = 1, (2, 3)
        first, *middle, last = range(5)
        g = [0, 0]
        g[1] = 7
        h = {"k": 1}
        h["k"] += 4
        n = 3
        n *= 2
        n -= 1
        n //= 2
        n **= 3
        items = [1]
        alias = items
        items += [2]
        x = (y := 6) + 1
        del a
    """)
    assert (names["b"], names["c"], names["d"], names["e"], names["f"]) == (2, 3, 1, 2, 3)
    assert (names["first"], names["middle"], names["last"]) == (0, [1, 2, 3], 4)
    assert names["g"] == [0, 7] and names["h"] == {"k": 5} and names["n"] == 8
    assert names["alias"] == [1, 2]   # += on a list changes it in place, as Python does
    assert (names["x"], names["y"]) == (7, 6) and "a" not in names


def test_control_flow():
    names = run("""
        total = 0
        for i in range(10):
            if i % 2:
                continue
            if i > 6:
                break
            total += i
        else:
            total = -1
        count = 0
        while count < 5:
            count += 1
        else:
            count *= 10
        found = None
        for word in ["a", "bb", "ccc"]:
            if len(word) == 2:
                found = word
                break
        else:
            found = "none"
        label = "big" if total > 5 else "small"
        both = total and count
        either = 0 or "fallback"
        resource = {"size": 1}
        with resource as handle:
            inside = handle["size"]
        try:
            tried = 1
        except ValueError:
            tried = 2
        else:
            tried += 10
        finally:
            done = True
    """)
    assert names["total"] == 0 + 2 + 4 + 6
    assert names["count"] == 50 and names["found"] == "bb" and names["label"] == "big"
    assert names["both"] == 50 and names["either"] == "fallback"
    assert names["inside"] == 1 and names["tried"] == 11 and names["done"] is True


def test_functions_defaults_varargs_keywords_closures_lambdas():
    names = run("""
        def scale(x, factor=2, *rest, offset=0, **options):
            return x * factor + offset + len(rest) + len(options)
        def counter(start):
            def step(by=1):
                return start + by
            return step
        def outer():
            values = []
            def add(v):
                values.append(v)
            add(1)
            add(2)
            return values
        def recurse(n):
            return 1 if n <= 1 else n * recurse(n - 1)
        square = lambda v: v * v
        a = scale(3)
        b = scale(3, 3, 9, 9, offset=1, extra=True)
        c = counter(10)(5)
        d = outer()
        e = recurse(5)
        f = list(map(square, [1, 2, 3]))
        g = sorted(["ccc", "a", "bb"], key=lambda s: len(s))
        h = (lambda *xs, **kw: (xs, kw))(1, 2, k=3)
    """)
    assert (names["a"], names["b"], names["c"]) == (6, 3 * 3 + 1 + 2 + 1, 15)
    assert names["d"] == [1, 2] and names["e"] == 120 and names["f"] == [1, 4, 9]
    assert names["g"] == ["a", "bb", "ccc"] and names["h"] == ((1, 2), {"k": 3})
    assert isinstance(names["square"], Function) and isinstance(names["scale"], Function)


def test_classes_methods_inheritance_super():
    names = run("""
        class Base:
            kind = "base"
            def __init__(self, width):
                self.width = width
            def size(self):
                return self.width * 2
        class Wide(Base):
            kind = "wide"
            def __init__(self, width, extra=1):
                super().__init__(width + extra)
            def size(self):
                return super().size() + 1
        class Plain(Base):
            pass
        w = Wide(3)
        p = Plain(4)
        sizes = (w.size(), p.size())
        kinds = (w.kind, p.kind, Wide.kind)
        checks = (isinstance(w, Base), isinstance(p, Wide), isinstance(3, (str, int)), isinstance("a", list))
        reflected = (getattr(w, "width"), getattr(w, "missing", "default"), hasattr(w, "width"), hasattr(w, "no"))
        setattr(p, "width", 10)
        later = p.size()
    """)
    assert isinstance(names["Wide"], Class) and isinstance(names["w"], Object)
    assert names["sizes"] == (4 * 2 + 1, 8) and names["kinds"] == ("wide", "base", "wide")
    assert names["checks"] == (True, False, True, False)
    assert names["reflected"] == (4, "default", True, False) and names["later"] == 20


def test_comprehensions_of_all_four_kinds():
    names = run("""
        pairs = [(i, j) for i in range(3) for j in range(i) if (i + j) % 2]
        evens = {v % 4 for v in range(10) if v % 2 == 0}
        table = {name: len(name) for name in ("a", "bb") if name}
        total = sum(x * x for x in range(4))
        nested = [[c for c in row] for row in ["ab", "cd"]]
    """)
    assert names["pairs"] == [(1, 0), (2, 1)] and names["evens"] == {0, 2}
    assert names["table"] == {"a": 1, "bb": 2} and names["total"] == 14
    assert names["nested"] == [["a", "b"], ["c", "d"]]


def test_fstrings_operators_subscripts_and_builtins():
    names = run("""
        width = 7
        text = f"w{width:03d}-{'x'!r}-{width / 2:.1f}"
        ops = (7 // 2, 7 % 3, 2 ** 5, 1 << 4, 256 >> 2, 6 & 3, 6 | 1, 6 ^ 3, -width, +width, ~0, not width)
        compare = (1 < 2 <= 2, 3 in [1, 3], "a" not in "bcd", None is None, 1 != 1)
        seq = list(range(10))
        cuts = (seq[2:8:3], seq[-1], seq[::-1][0], "hello"[1:3], {"k": [5]}["k"][0])
        built = (len(seq), min(4, 2), max([3, 9]), sum([1, 2]), abs(-3), int("12"), float(2), round(2.6),
                 tuple(zip("ab", [1, 2])), list(enumerate("xy", 1)), dict([("a", 1)]), sorted({3, 1}),
                 list(reversed([1, 2])), any([0, 1]), all([]), divmod(7, 2), pow(2, 3), str(5), bool(0),
                 list(filter(None, [0, 1, 2])), "-".join(["a", "b"]), "a,b".split(","), [1, 2].index(2))
        printed = print("ignored")
    """)
    assert names["text"] == "w007-'x'-3.5"
    assert names["ops"] == (3, 1, 32, 16, 64, 2, 7, 5, -7, 7, -1, False)
    assert names["compare"] == (True, True, True, True, False)
    assert names["cuts"] == ([2, 5], 9, 9, "el", 5)
    assert names["built"] == (10, 2, 9, 3, 3, 12, 2.0, 3, (("a", 1), ("b", 2)), [(1, "x"), (2, "y")], {"a": 1},
                              [1, 3], [2, 1], True, True, (3, 1), 8, "5", False, [1, 2], "a-b", ["a", "b"], 1)
    assert names["printed"] is None


def test_matmul_operator_on_plain_values_is_a_refusal_not_a_crash():
    with pytest.raises(Refused) as caught:
        run("x = [1] @ [2]\n")
    assert caught.value.diagnostic.code == "unsupported-construct"
    assert (caught.value.diagnostic.location.line, caught.value.diagnostic.location.col) == (1, 5)


def test_the_source_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(Refused) as caught:
        run(f"import os\nos.system('touch {marker}')\n")
    assert caught.value.diagnostic.code == "dynamic-value" and not marker.exists()
    with pytest.raises(Refused):
        run(f"open({str(marker)!r}, 'w').write('x')\n")
    assert not marker.exists()


def test_undefined_names_are_located():
    with pytest.raises(Refused) as caught:
        run("a = 1\nb = a + missing\n")
    diagnostic = caught.value.diagnostic
    assert diagnostic.code == "dynamic-value" and "missing" in diagnostic.message
    assert (diagnostic.location.line, diagnostic.location.col) == (2, 9)


# --- evaluation limits ------------------------------------------------------------------------------------

LIMITED = [
    ("for i in range(10**9):\n    pass\n", (1, 10)),
    ("x = 10**10**8\n", (1, 5)),
    ("x = sum(range(10**12))\n", (1, 5)),
    ("x = 1 << 10**10\n", (1, 5)),
    ("x = [0] * 10**9\n", (1, 5)),
    ("x = 'ab' * 10**9\n", (1, 5)),
    ("x = list(range(10**8))\n", (1, 5)),
    ("x = 2\nfor i in range(40):\n    x = x * x\n", (3, 9)),
    ("x = 'a'\nfor i in range(40):\n    x = x + x\n", (3, 9)),
    ("x = 0\nwhile True:\n    x += 1\n", None),
    ("def f(n):\n    return f(n + 1)\nf(0)\n", (2, 12)),
    ("x = [i for i in range(10**7)]\n", (1, 17)),
    ("x = pow(3, 10**9)\n", (1, 5)),
    ("x = " + "-" * 900 + "1\n", None),
    ("x = " + " + ".join(["1"] * 900) + "\n", (1, 5)),
]


@pytest.mark.parametrize("source,where", LIMITED, ids=[s.splitlines()[-1].strip()[:30] for s, _ in LIMITED])
def test_each_limit_is_a_located_diagnostic_and_stops_fast(source, where):
    start = time.perf_counter()
    with pytest.raises(EvaluationLimit) as caught:
        run(source, "hostile.py")
    elapsed = time.perf_counter() - start
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "evaluation-limit" and diagnostic.is_error
    assert diagnostic.location.file == "hostile.py"
    if where is not None:
        assert (diagnostic.location.line, diagnostic.location.col) == where
    assert elapsed < 3, f"the limit took {elapsed:.1f} s"


def test_limits_leave_room_for_real_code():
    limits = Limits()
    names = run("""
        big = 10 ** 1000
        table = [0] * 100_000
        text = "ab" * 1000
        total = sum(range(100_000))
    """)
    assert names["big"] == 10 ** 1000 and len(names["table"]) == 100_000 and names["total"] == 4_999_950_000
    assert limits.steps >= 100_000 and limits.depth >= 50


HOSTILE_PYTORCH = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        for i in range(10**9):
            pass

    def forward(self, x):
        return self.fc(x)
"""

HOSTILE_KERAS = """
import keras
from keras import layers

units = 1 << 10**10
model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(units)])
"""

DEEP_KERAS = """
import keras
from keras import layers

units = """ + "-" * 900 + """4
model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(units)])
"""


def test_math_functions_are_bounded_too(tmp_path):
    path = tmp_path / "net.py"
    path.write_text("import math\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.fc = nn.Linear(math.factorial(10**6), 2)\n\n"
                    "    def forward(self, x):\n        return self.fc(x)\n")
    start = time.perf_counter()
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path, input_shapes=[[4]])
    assert time.perf_counter() - start < 3
    assert [(d.code, d.location.line, d.location.col) for d in caught.value.diagnostics] == [
        ("evaluation-limit", 8, 29)]


def test_both_importers_stop_at_a_limit(tmp_path):
    torch_file, keras_file = tmp_path / "torch_net.py", tmp_path / "keras_net.py"
    torch_file.write_text(HOSTILE_PYTORCH)
    keras_file.write_text(HOSTILE_KERAS)
    deep_file = tmp_path / "deep_keras_net.py"
    deep_file.write_text(DEEP_KERAS)
    for path, importer, where in ((torch_file, lambda p: import_pytorch(p, input_shapes=[[4]]), (9, 18)),
                                  (keras_file, import_keras, (5, 9)), (deep_file, import_keras, (5, 209))):
        start = time.perf_counter()
        with pytest.raises(NNPivotError) as caught:
            importer(path)
        assert time.perf_counter() - start < 3
        [diagnostic] = [d for d in caught.value.diagnostics if d.code == "evaluation-limit"]
        assert (diagnostic.location.file, diagnostic.location.line, diagnostic.location.col) == (str(path), *where)


def test_cli_exits_non_zero_with_the_located_diagnostic(tmp_path, capsys):
    source = tmp_path / "net.py"
    source.write_text(HOSTILE_PYTORCH)
    status = main(["migrate", str(source), "--to", "keras", "-o", str(tmp_path / "out.py"), "--input-shape", "4"])
    err = capsys.readouterr().err
    assert status != 0 and f"{source}:9:18: error[evaluation-limit]" in err
    assert not (tmp_path / "out.py").exists()


# --- both front-ends: constructs on framework values ----------------------------------------------------------

KERAS_CONSTRUCTS = """
import keras
from keras import layers

widths = {name: size for name, size in [("first", 16), ("second", 8)]}
unique = sorted({w // 2 for w in (8, 8, 4)})
make = lambda units, name: layers.Dense(units, name=name)


def project(x, *sizes, **options):
    for i, size in enumerate(sizes):
        x = make(size, f"dense_{i}")(x)
    return x


inputs = keras.Input(shape=(6, 4))
hidden = project(inputs, widths["first"], unique[-1])
keys = layers.Permute((2, 1))(hidden)
scores = hidden @ keys
model = keras.Model(inputs, scores)
"""

PYTORCH_CONSTRUCTS = """
import torch
import torch.nn as nn

WIDTHS = {name: size for name, size in [("first", 16), ("second", 8)]}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        unique = sorted({w // 2 for w in (8, 8, 4)})
        make = lambda i, o: nn.Linear(i, o)
        self.layers = nn.ModuleList([make(i, o) for i, o in zip((4, WIDTHS["first"]), (WIDTHS["first"], unique[-1]))])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        scores = x @ x.transpose(1, 2)
        return scores
"""


def test_keras_front_end_has_matmul_set_and_dict_comprehensions_lambdas_and_varargs(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(KERAS_CONSTRUCTS)
    model, report = import_keras(path)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    nodes = {n.name: n for n in model.nodes}
    assert [nodes["dense_0"].units, nodes["dense_1"].units] == [16, 4]
    assert kind_of(nodes["scores"]).keyword == "matmul" and [o.name for o in model.outputs] == ["scores"]


def test_pytorch_front_end_has_the_same_constructs(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(PYTORCH_CONSTRUCTS)
    model, report = import_pytorch(path, input_shapes=[[6, 4]])
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    nodes = {n.name: n for n in model.nodes}
    assert [nodes["layers_0"].units, nodes["layers_1"].units] == [16, 4]
    assert kind_of(nodes["scores"]).keyword == "matmul"
