"""Whole scripts: which model the script trains, read from its syntax alone (shared by both importers).

A script defines helpers, loss modules, augmentation pipelines and one or more networks, then trains one:
it compiles or fits it (Keras), hands its parameters to an optimizer, calls ``.train()`` on it or
``loss.backward()`` after calling it (PyTorch). :func:`trained_sites` finds those uses, in every function
and at module level, and follows the model variable back to its last binding before the first use (through
``model = model.to(device)`` and plain renames) to the call that built it: the class or builder function the
importer should pick, with the arguments the script passes it.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

TRAINING_METHODS = {"compile": "compiled", "fit": "fitted", "train_on_batch": "trained", "train": "trained"}
# Methods that give back the same model (``model = model.to(device)``).
SAME_MODEL_METHODS = frozenset({"to", "cuda", "cpu", "float", "double", "half", "train", "eval",
                                "requires_grad_", "share_memory"})
# Functions that wrap the model they are given (``model = torch.compile(model)``).
WRAPPERS = frozenset({"compile", "DataParallel", "DistributedDataParallel"})


@dataclass(frozen=True)
class TrainedSite:
    """A model variable the script trains and the statement that built it."""
    variable: str
    how: str                         # "compiled", "fitted", "given to an optimizer", "trained"
    use: ast.AST                     # the training use
    binding: ast.stmt | None         # the last assignment before the use (None: not bound in this scope)
    call: ast.Call | None            # the call that built the model, ``TabularNet(...)`` or ``build_model(...)``
    scope: ast.AST                   # the function (or module) the variable lives in

    @property
    def callee(self) -> str | None:
        """The name the building call calls (a class or builder function of the file), if plain."""
        if self.call is not None and isinstance(self.call.func, ast.Name):
            return self.call.func.id
        return None


def _scopes(tree: ast.Module):
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _own_nodes(scope):
    """The nodes of a scope, without those of the functions and classes nested in it."""
    stack = list(scope.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _uses(scope) -> list[tuple[str, str, ast.AST]]:
    """``(variable, how, node)`` of each training use in the scope."""
    found = []
    called, backward = {}, False
    for node in _own_nodes(scope):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in TRAINING_METHODS \
                and (func.attr != "train" or not node.args):   # model.train(), not train(loader)
            found.append((func.value.id, TRAINING_METHODS[func.attr], node))
        if isinstance(func, ast.Attribute) and func.attr == "backward":
            backward = True
        for arg in node.args:
            if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and isinstance(
                    arg.func.value, ast.Name) and arg.func.attr in ("parameters", "named_parameters"):
                found.append((arg.func.value.id, "given to an optimizer", node))
        if isinstance(func, ast.Name) and len(node.args) == 1:   # out = model(x); criterion(out, y) takes two
            called.setdefault(func.id, node)
    if backward:   # out = model(x) ... loss.backward(): the called variable bound to a model is trained
        found += [(name, "trained", node) for name, node in called.items()]
    return found


def _bindings(scope, name: str) -> list[ast.stmt]:
    """Assignments of ``name`` in the scope (module level or a function body), in source order."""
    found = []
    for node in _own_nodes(scope):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_bound_value(t, node.value, name) is not None for t in targets):
                found.append(node)
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _bound_value(target: ast.AST, value: ast.AST, name: str) -> ast.AST | None:
    """What an assignment binds ``name`` to: the whole value, or its element (``g, d = G(), D()``)."""
    if isinstance(target, ast.Name):
        return value if target.id == name else None
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) and \
            len(target.elts) == len(value.elts):
        return next((found for t, v in zip(target.elts, value.elts)
                     if (found := _bound_value(t, v, name)) is not None), None)
    return None


def _building_call(scope, name: str, before: int, depth: int = 0) -> tuple[ast.stmt | None, ast.Call | None]:
    """The last binding of ``name`` before line ``before`` and the call that built its value."""
    earlier = [b for b in _bindings(scope, name) if b.lineno < before]
    if not earlier or depth > 8:
        return None, None
    binding = earlier[-1]
    targets = binding.targets if isinstance(binding, ast.Assign) else [binding.target]
    value = next(v for t in targets if (v := _bound_value(t, binding.value, name)) is not None)
    if isinstance(value, ast.Name):   # model = net
        return _building_call(scope, value.id, binding.lineno, depth + 1)
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
            value.func.attr in SAME_MODEL_METHODS and isinstance(value.func.value, ast.Call):
        value = value.func.value   # model = Net(cfg).to(device): built by Net(cfg)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
            value.func.attr in SAME_MODEL_METHODS and isinstance(value.func.value, ast.Name):
        # model = model.to(device): the model is the one bound before
        return _building_call(scope, value.func.value.id, binding.lineno + (value.func.value.id != name), depth + 1)
    if isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.Name) and \
            (value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")) in WRAPPERS:
        # model = torch.compile(model), nn.DataParallel(model): the model it wraps
        return _building_call(scope, value.args[0].id, binding.lineno + (value.args[0].id != name), depth + 1)
    return binding, value if isinstance(value, ast.Call) else None


def _passed_in(tree: ast.Module, function, name: str, depth: int = 0):
    """``train(model, ...)``: where the function whose parameter ``name`` is trained is called, the scope,
    the variable passed and the line of the call."""
    params = [a.arg for a in function.args.posonlyargs + function.args.args]
    if name not in params or depth > 3:
        return None
    index = params.index(name)
    for scope in _scopes(tree):
        for node in _own_nodes(scope):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function.name:
                passed = node.args[index] if index < len(node.args) else next(
                    (k.value for k in node.keywords if k.arg == name), None)
                if isinstance(passed, ast.Name):
                    return scope, passed.id, node.lineno + 1
    return None


def trained_sites(tree: ast.Module) -> list[TrainedSite]:
    """Every model variable the script trains, with what built it, in source order."""
    sites, seen = [], set()
    for scope in _scopes(tree):
        for variable, how, use in sorted(_uses(scope), key=lambda u: (u[2].lineno, u[2].col_offset)):
            if (id(scope), variable) in seen:
                continue
            binding, call = _building_call(scope, variable, use.lineno + 1)
            passed = _passed_in(tree, scope, variable) if binding is None and scope is not tree else None
            if passed is not None:   # def train(model, ...) called as train(net, ...): net is trained
                scope, variable, line = passed
                binding, call = _building_call(scope, variable, line)
            elif binding is None and scope is not tree:   # a global the function trains
                binding, call = _building_call(tree, variable, 10 ** 9)
            if binding is None:
                continue
            seen.add((id(scope), variable))
            sites.append(TrainedSite(variable, how, use, binding, call, scope))
    explicit = [s for s in sites if not isinstance(s.use.func, ast.Name)]
    return explicit or sites   # a model called before loss.backward() counts when nothing more explicit does


def saved_variables(scope) -> set[str]:
    """The variables the scope saves as a model (``model.save_weights(...)``, ``model.save(...)``)."""
    return {node.func.value.id for node in _own_nodes(scope) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            and node.func.attr in ("save_weights", "save")}


def saved_state_dicts(scope) -> set[str]:
    """The variables whose ``state_dict()`` the scope saves (``torch.save(net.state_dict(), path)``, also inside
    a checkpoint dict): the networks a script keeps, where it trains others beside them (a GAN's discriminator)."""
    found = set()
    for node in _own_nodes(scope):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "save" and \
                node.args:
            found |= {inner.func.value.id for inner in ast.walk(node.args[0]) if isinstance(inner, ast.Call)
                      and isinstance(inner.func, ast.Attribute) and inner.func.attr == "state_dict"
                      and isinstance(inner.func.value, ast.Name)}
    return found


def statements_before(body: list[ast.stmt], target: ast.stmt) -> tuple[list[ast.stmt], bool]:
    """The statements a script runs before ``target`` in ``body`` (entering the blocks that hold it):
    ``(statements, found)``. Blocks before it that do not hold it are left whole."""
    done = []
    for stmt in body:
        if stmt is target:
            return done, True
        if any(node is target for node in ast.walk(stmt)):
            for block in ("body", "orelse", "finalbody"):
                inner, found = statements_before(getattr(stmt, block, []) or [], target)
                if found:
                    return done + inner, True
            return done, False
        done.append(stmt)
    return done, False


__all__ = ["TrainedSite", "saved_state_dicts", "saved_variables", "statements_before", "trained_sites"]
