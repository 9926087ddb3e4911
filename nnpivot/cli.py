"""The ``nnpivot`` command line.

Subcommands are rows of ``COMMANDS``: a name, a help line, a function adding
its arguments and the function running it (``"module:function"``, imported only
when that subcommand runs, so ``nnpivot check`` never loads torch). Adding a
subcommand (``migrate``, ``verify``, ``weights``) means adding a row.

Exit status: 0 success, 1 when an input has errors, 2 on usage errors
(argparse's own, an unknown format or target). Problems are printed gcc-style
on stderr; results and summaries on stdout. No user mistake ends in a traceback
(``--traceback`` shows one for internal errors, which are bugs).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nnpivot import __version__
from nnpivot.diagnostics import Diagnostic, NNPivotError, has_errors

OK, FAILED, USAGE = 0, 1, 2

LAYERS_START, LAYERS_END = "<!-- layers:start -->", "<!-- layers:end -->"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: str  # "module:function" taking the parsed arguments, returning the exit status


def _check_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="model files (.nn, .xmi)")
    parser.add_argument("--from", dest="source", metavar="FORMAT", help="read the files as this format")


def _convert_arguments(parser):
    parser.add_argument("source", metavar="SRC", help="model file to read (.nn, .xmi)")
    parser.add_argument("-o", "--output", required=True, metavar="DST", help="file to write; its extension "
                                                                           "chooses the format unless --to")
    parser.add_argument("--to", dest="target", metavar="TARGET", help="output format: nn, xmi, pytorch, keras")
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")


def _layers_arguments(parser):
    parser.add_argument("--markdown", action="store_true", help="print the README's table of layers")
    parser.add_argument("--update-readme", metavar="README", nargs="?", const="README.md",
                        help="rewrite the table between the layers markers of README (default README.md)")


def _verify_arguments(parser):
    parser.description = ("Run two model files (generated or hand-written PyTorch or Keras .py files) with the same "
                          "weights on the same random inputs and compare their outputs. Both files are EXECUTED: "
                          "only verify code you trust. Exit 0 when the outputs agree within --atol, 1 otherwise "
                          "(naming the first pivot node whose outputs diverge).")
    parser.add_argument("a", metavar="A", help="first model file (.py, PyTorch or Keras by its imports)")
    parser.add_argument("b", metavar="B", help="second model file (.py)")
    parser.add_argument("--model", metavar="M", help="the pivot model (.nn, .xmi); default: imported from A")
    parser.add_argument("--weights", metavar="W", help="weights for both (.pt, .weights.h5, .npz, .safetensors);"
                                                      " default: A's random initialization")
    parser.add_argument("--inputs", type=int, default=20, metavar="N", help="random inputs to run (default 20)")
    parser.add_argument("--atol", type=float, default=1e-5, help="largest absolute difference allowed (default 1e-5)")
    parser.add_argument("--rtol", type=float, default=0.0, help="also allow this share of |B| per element "
                                                                 "(default 0: --atol bounds the absolute difference)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights (default 0)")


def _weights_arguments(parser):
    actions = parser.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    convert = actions.add_parser("convert", help="convert a checkpoint to another format through the pivot",
                                 description="Read a checkpoint into the pivot weight store of a model and write it "
                                             "in another format (.pt, .weights.h5, .npz, .safetensors).")
    convert.add_argument("--model", required=True, metavar="M", help="the pivot model (.nn, .xmi)")
    convert.add_argument("--from", dest="source", required=True, metavar="CKPT", help="weights to read")
    convert.add_argument("--to", dest="destination", required=True, metavar="OUT", help="weights to write")
    convert.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def _migrate_arguments(parser):
    from nnpivot.migrate import add_arguments  # light: the migration imports no framework to parse arguments
    add_arguments(parser)


COMMANDS: tuple[Command, ...] = (
    Command("check", "validate model files and print their problems", _check_arguments, "nnpivot.cli:run_check"),
    Command("convert", "convert a model between formats (.nn, .xmi, pytorch, keras)", _convert_arguments,
            "nnpivot.cli:run_convert"),
    Command("layers", "list the supported layer kinds", _layers_arguments, "nnpivot.cli:run_layers"),
    Command("migrate", "migrate PyTorch or Keras source code to the other framework (or .nn, XMI), with weights",
            _migrate_arguments, "nnpivot.migrate:run_migrate"),
    Command("verify", "run two model files on the same weights and inputs and compare them (executes both)",
            _verify_arguments, "nnpivot.verify:run_verify"),
    Command("weights", "convert trained weights between formats (.pt, .weights.h5, .npz)", _weights_arguments,
            "nnpivot.weights_cli:run_weights"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnpivot", description="Migrate neural networks between PyTorch and "
                                                                 "Keras through an Ecore pivot model.")
    parser.add_argument("--version", action="version", version=f"nnpivot {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def report(diagnostics: list[Diagnostic]) -> None:
    """Diagnostics on stderr, gcc-style; those without a location are prefixed with the program name."""
    for diagnostic in diagnostics:
        prefix = "" if diagnostic.location else "nnpivot: "
        print(f"{prefix}{diagnostic}", file=sys.stderr)


def _count(diagnostics: list[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = sum(d.severity == "warning" for d in diagnostics)
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return ", ".join(parts)


# --- check -----------------------------------------------------------------------------

def run_check(args) -> int:
    from nnpivot import api
    from nnpivot.pipeline import UsageError

    status = OK
    for name in args.files:
        try:
            diagnostics = api.check(name, args.source)
        except UsageError as exc:
            report(exc.diagnostics)
            status = max(status, USAGE)
            continue
        report(diagnostics)
        if has_errors(diagnostics):
            print(f"{name}: {_count(diagnostics)}")
            status = max(status, FAILED)
        else:
            warnings = _count(diagnostics)
            print(f"{name}: ok" + (f" ({warnings})" if warnings else ""))
    return status


# --- convert ---------------------------------------------------------------------------

def run_convert(args) -> int:
    from nnpivot import api
    from nnpivot.pipeline import format_for

    source_format = format_for(args.source, purpose="load")  # usage errors (exit 2) before any work
    target_format = format_for(args.output, args.target, purpose="save")
    result = api.convert(args.source, args.output, args.target, args.force)
    report(result.diagnostics)
    if not result.ok:
        return FAILED
    print(f"{args.output}: written ({source_format.name} -> {target_format.name})")
    return OK


# --- layers ----------------------------------------------------------------------------

def _arity(kind) -> str:
    low, high = kind.arity
    return str(low) if low == high else f"{low}+" if high is None else f"{low}-{high}"


def _arguments(kind) -> list[tuple[str, bool, str | None]]:
    """(DSL name, required, default literal) of a kind's arguments: positional first, then required ones."""
    from nnpivot.kinds import snake

    positional = {name: i for i, name in enumerate(kind.positional)}
    ranked = sorted(kind.attributes(), key=lambda a: (positional.get(a.name, len(positional)),
                                                      a.name not in kind.required))
    return [(snake(a.name), a.name in kind.required, a.defaultValueLiteral) for a in ranked]


def _argument_text(name: str, default: str | None) -> str:
    return name if default is None else f"{name}={default}"


def layers_markdown() -> str:
    """The README's table of supported kinds, generated from the registry."""
    from nnpivot.kinds import KINDS

    rows = [f"{len(KINDS)} kinds. Arguments: positional ones first, **required** ones in bold, defaults after `=`.",
            "",
            "| Keyword | EClass | Category | Inputs | Arguments | Summary |",
            "|---|---|---|---|---|---|"]
    for kind in KINDS.values():
        arguments = ", ".join(f"**{name}**" if required else _argument_text(name, default)
                              for name, required, default in _arguments(kind)) or "-"
        rows.append(f"| `{kind.keyword}` | {kind.eclass_name} | {kind.category} | {_arity(kind)} | {arguments} "
                    f"| {kind.summary} |")
    return "\n".join(rows) + "\n"


def layers_text() -> str:
    from nnpivot.kinds import KINDS

    width = max(len(k) for k in KINDS)
    eclass_width = max(len(k.eclass_name) for k in KINDS.values())
    lines = [f"{len(KINDS)} kinds"]
    for kind in KINDS.values():
        lines.append(f"{kind.keyword:<{width}}  {kind.eclass_name:<{eclass_width}}  {kind.category:<10}  "
                     f"inputs {_arity(kind):<3}  {kind.summary}")
        arguments = _arguments(kind)
        required = [name for name, is_required, _ in arguments if is_required]
        optional = [_argument_text(name, default) for name, is_required, default in arguments if not is_required]
        for label, names in (("required", required), ("optional", optional)):
            if names:
                lines.append(f"{'':<{width}}  {label}: {', '.join(names)}")
    return "\n".join(lines) + "\n"


def replace_layers_section(readme_text: str, table: str) -> str:
    """``readme_text`` with the generated table between the layers markers (added at the end if absent)."""
    section = f"{LAYERS_START}\n{table}{LAYERS_END}"
    start, end = readme_text.find(LAYERS_START), readme_text.find(LAYERS_END)
    if start < 0 or end < start:
        return readme_text.rstrip("\n") + ("\n\n" if readme_text.strip() else "") + section + "\n"
    return readme_text[:start] + section + readme_text[end + len(LAYERS_END):]


def run_layers(args) -> int:
    if args.update_readme:
        from nnpivot.fileio import write_atomic

        path = Path(args.update_readme)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        updated = replace_layers_section(current, layers_markdown())
        if updated != current:
            write_atomic(path, updated, force=True)
        print(f"{path}: layer table {'updated' if updated != current else 'already up to date'}")
        return OK
    sys.stdout.write(layers_markdown() if args.markdown else layers_text())
    return OK


# --- entry point -----------------------------------------------------------------------

def _resolve(spec: str) -> Callable:
    module_name, _, function_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


# TensorFlow, when verify or migrate loads it: no C++ start-up chatter, and no oneDNN
# kernels, whose reordered float sums change results from run to run.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def main(argv=None) -> int:
    for key, value in QUIET_TENSORFLOW.items():
        os.environ.setdefault(key, value)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2) end here
        return int(exc.code or 0)
    from nnpivot.pipeline import UsageError

    try:
        return _resolve(args.run)(args)
    except UsageError as exc:
        report(exc.diagnostics)
        return USAGE
    except NNPivotError as exc:
        report(exc.diagnostics)
        return FAILED if has_errors(exc.diagnostics) else OK
    except KeyboardInterrupt:
        print("nnpivot: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user mistake: say so briefly
        if args.traceback:
            raise
        print(f"nnpivot: internal error in '{args.command}': {type(exc).__name__}: {exc} "
              f"(run with --traceback and report it)", file=sys.stderr)
        return 70
