"""The ``nnpivot`` command line.

Subcommands are rows of ``COMMANDS``: a name, a help line, a function adding
its arguments and the function running it (``"module:function"``, imported only
when that subcommand runs). The arguments of every subcommand are defined here
from the format registry, so building the parser imports no transformation
and no metamodel (``--version`` and ``--help`` load neither);
``layers`` runs from :mod:`nnpivot.layers_cli` (it needs the registry only), ``check``,
``convert`` and ``migrate`` from :mod:`nnpivot.commands` (their chain imports
its importer and generator when it runs), ``verify`` and ``weights``, which
need numpy and the frameworks, from their own modules.
Adding a subcommand means adding a row.

Exit status: 0 success, 1 when an input has errors, 2 on usage errors
(argparse's own, an unknown format or target). Problems are printed gcc-style
on stderr; results and summaries on stdout. No user mistake ends in a traceback
(``--traceback`` shows one for internal errors, which are bugs).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from nnpivot import __version__
from nnpivot.bulk import collector_paused
from nnpivot.console import FAILED, OK, USAGE, report
from nnpivot.diagnostics import NNPivotError, has_errors
from nnpivot.formats import FORMATS, FRAMEWORKS, TARGETS, UsageError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: str  # "module:function" taking the parsed arguments, returning the exit status


def _check_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="model files (.nn, .xmi)")
    parser.add_argument("--from", dest="source", metavar="FORMAT", help="read the files as this format")


def _source_code_arguments(parser):
    """What a source-code importer needs that the code may not say."""
    parser.add_argument("--model", metavar="NAME", help="class, builder function or variable to read "
                                                        "(when the file defines several)")
    _source_values(parser, "the source's")


def _source_values(parser, whose: str):
    """The values a source file may leave open: constructor arguments, input shapes, values from data."""
    parser.add_argument("--model-args", metavar="ARGS", help=f"{whose} constructor arguments: JSON object or "
                                                             "k=v,k2=v2")
    parser.add_argument("--input-shape", action="append", metavar="NAME=DIMS",
                        help=f"an input's shape without the batch axis, like x=3,32,32 or x=3,?,? (? for a size left "
                             f"to run time; repeatable), in {whose} layout")
    parser.add_argument("--set", action="append", dest="settings", metavar="NAME=VALUE",
                        help=f"a value {whose} script computes from data, like num_classes=10 or "
                             "input_shape=64,64,3 (repeatable; the free-value diagnostics name them)")
    parser.add_argument("--run-constructor", action="store_true",
                        help="EXECUTE the source's module definitions (imports, classes, functions, plain constants) "
                             "and the model's constructor or builder, then read the built model (module tree, "
                             "hyper-parameters, traced forward; Keras: the functional graph); never the script's "
                             "top level or __main__ block. For models built by builder functions, config objects "
                             "and loops; only for code you trust")


def _convert_arguments(parser):
    parser.description = ("Convert a model between formats through the pivot: import -> validate -> generate -> "
                          "write, stopping at the first step with errors. Source code (.py, PyTorch or Keras by its "
                          "imports) is read statically, never run.")
    parser.add_argument("source", metavar="SRC", help="file to read (.nn, .xmi, or PyTorch/Keras source .py)")
    parser.add_argument("-o", "--output", required=True, metavar="DST", help="file to write; its extension "
                                                                           "chooses the format unless --to")
    parser.add_argument("--to", dest="target", metavar="TARGET", help=f"output format: {', '.join(TARGETS)}")
    parser.add_argument("--from", dest="source_format", metavar="FORMAT",
                        help=f"input format: {', '.join(f.name for f in FORMATS if f.loader)} (default: by extension)")
    _source_code_arguments(parser)
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")


def _layers_arguments(parser):
    parser.add_argument("--markdown", action="store_true", help="print the README's table of layers")
    parser.add_argument("--update-readme", metavar="README", nargs="?", const="README.md",
                        help="rewrite the table between the layers markers of README (default README.md)")


def _verify_arguments(parser):
    parser.description = ("Run two model files (generated or hand-written PyTorch or Keras .py files) with the same "
                          "weights on the same random inputs and compare their outputs. Both files are EXECUTED (of a "
                          "source file A only its definitions: imports, classes, functions, module-level assignments; "
                          "never its script or __main__ block): only verify code you trust. Exit 0 when the outputs "
                          "agree within --atol, 1 otherwise (naming the first pivot node whose outputs diverge).")
    parser.add_argument("a", metavar="A", help="first model file (.py, PyTorch or Keras by its imports)")
    parser.add_argument("b", metavar="B", help="second model file (.py)")
    parser.add_argument("--model", metavar="M", help="the pivot model (.nn, .xmi); default: imported from A")
    parser.add_argument("--model-name", metavar="NAME", help="the class, builder function or variable of A to "
                                                             "compare (when A defines several)")
    _source_values(parser, "A's")
    parser.add_argument("--weights", metavar="W", help="weights for both (.pt, .weights.h5, .npz, .safetensors);"
                                                      " default: A's random initialization")
    parser.add_argument("--inputs", type=int, default=20, metavar="N", help="random inputs to run (default 20)")
    parser.add_argument("--atol", type=float, default=1e-5, help="largest absolute difference allowed (default 1e-5)")
    parser.add_argument("--rtol", type=float, default=0.0, help="also allow this share of |B| per element "
                                                                 "(default 0: --atol bounds the absolute difference)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights (default 0)")
    parser.add_argument("--train", type=int, metavar="STEPS",
                        help="instead of comparing outputs, train both from the same weights for STEPS optimizer steps "
                             "on the same seeded batches, each with its own training configuration (dropout off, "
                             "batch normalization on its running statistics), and compare the loss of every step "
                             "and the weights at the end; names the first step and parameter that diverge")
    parser.add_argument("--train-batch", type=int, default=4, metavar="N",
                        help="samples per training step with --train (default 4)")
    parser.add_argument("--train-precision", choices=("float64", "float32"), default="float64",
                        help="the floating dtype both models train in with --train (default float64: in float32 the "
                             "frameworks' different summation orders in convolutions and matrix products leave "
                             "differences of about 1e-7 that grow along the training of a deep network until the "
                             "losses part with no translation error; in float64 a faithful pair agrees to about "
                             "1e-15, so the check measures the translation. float32 trains as the files do)")


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
    parser.description = ("Migrate the network of a PyTorch or Keras source file to the other framework (or to .nn "
                          "or XMI) through the pivot model, optionally with its trained weights: the conversion "
                          "chain of `nnpivot convert` plus the weight steps. The source is read statically; only "
                          "reading a Keras .weights.h5 of the original model runs the source.")
    parser.add_argument("source", metavar="SRC", help="PyTorch or Keras source file (.py)")
    parser.add_argument("--to", dest="target", required=True, choices=TARGETS, help="target format")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    parser.add_argument("--from", dest="source_framework", choices=FRAMEWORKS,
                        help="source framework (default: from the file's imports)")
    _source_code_arguments(parser)
    parser.add_argument("--weights", metavar="CKPT", help="weights of the original model (.pt state_dict, "
                                                          ".weights.h5, or a pivot .npz/.safetensors)")
    parser.add_argument("--weights-out", metavar="OUT", help="weights for the generated code (.pt, .weights.h5, "
                                                             ".npz, .safetensors)")
    parser.add_argument("--report", nargs="?", const="-", metavar="FILE",
                        help="write the migration report to FILE (default: print it)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


COMMANDS: tuple[Command, ...] = (
    Command("check", "validate model files and print their problems", _check_arguments, "nnpivot.commands:run_check"),
    Command("convert", "convert a model between formats (.nn, .xmi, .dot, PyTorch or Keras code)", _convert_arguments,
            "nnpivot.commands:run_convert"),
    Command("layers", "list the supported layer kinds", _layers_arguments, "nnpivot.layers_cli:run_layers"),
    Command("migrate", "migrate PyTorch or Keras source code to the other framework (or .nn, XMI), with weights",
            _migrate_arguments, "nnpivot.commands:run_migrate"),
    Command("verify", "run two model files on the same weights and inputs and compare them (executes both)",
            _verify_arguments, "nnpivot.verify:run_verify"),
    Command("weights", "convert trained weights between formats (.pt, .weights.h5, .npz)", _weights_arguments,
            "nnpivot.weights_cli:run_weights"),
)


def build_parser(command_name: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command_name``, only that subcommand's arguments are defined (all that
    parsing a command line of it needs: the others' serve their own runs and --help)."""
    parser = argparse.ArgumentParser(prog="nnpivot", description="Migrate neural networks between PyTorch and "
                                                                 "Keras through an Ecore pivot model.")
    parser.add_argument("--version", action="version", version=f"nnpivot {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        if command_name in (None, command.name):
            command.arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


# --- entry point -----------------------------------------------------------------------

def _command_named(argv) -> str | None:
    """The subcommand ``argv`` runs: its first word that is not an option (the global options take no value)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if any(command.name == first for command in COMMANDS) else None


def _resolve(spec: str, keep: bool = False) -> Callable:
    """The function ``spec`` names, its module imported with the collector paused (a module's objects live as
    long as the module: collecting while importing frees nothing). ``keep``: the process ends with this command,
    so everything made so far (modules, the metamodel, the registry) is frozen, left out of later collections,
    the one at exit included (a tenth of ``nnpivot layers``), and of the one the collector's return would start."""
    module_name, _, function_name = spec.partition(":")
    with collector_paused():
        function = getattr(importlib.import_module(module_name), function_name)
        if keep:
            gc.freeze()
    return function


# TensorFlow, when verify or migrate loads it: no C++ start-up chatter, and no oneDNN
# kernels, whose reordered float sums change results from run to run.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def main(argv=None) -> int:
    """Run the command line ``argv`` (default: this process's own arguments); returns the exit status."""
    for key, value in QUIET_TENSORFLOW.items():
        os.environ.setdefault(key, value)
    parser = build_parser(_command_named(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2) end here
        return int(exc.code or 0)
    try:
        # argv None: this process's own command line (console script, python -m), which ends with the command
        return _resolve(args.run, keep=argv is None)(args)
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
