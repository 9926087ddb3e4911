"""The ``check``, ``convert`` and ``migrate`` subcommands: the command line's side of the conversion chain.

:mod:`nnpivot.cli` parses the arguments and dispatches here (loading this
module only for these subcommands); the work is :mod:`nnpivot.api`,
:mod:`nnpivot.pipeline` and :mod:`nnpivot.migrate`.
"""
from __future__ import annotations

import sys

from nnpivot import api
from nnpivot.console import FAILED, OK, USAGE, count, report
from nnpivot.diagnostics import Location, error, has_errors
from nnpivot.fileio import refuse_existing, same_file, write_atomic
from nnpivot.formats import UsageError
from nnpivot.migrate import migrate, parse_input_shapes, parse_model_args, parse_settings
from nnpivot.pipeline import Conversion


def _source_options(args) -> dict:
    return {"model_name": args.model, "model_args": parse_model_args(args.model_args) or None,
            "input_shapes": parse_input_shapes(args.input_shape), "settings": parse_settings(args.settings),
            "run_constructor": args.run_constructor or None}


# --- check -----------------------------------------------------------------------------

def run_check(args) -> int:
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
            print(f"{name}: {count(diagnostics)}")
            status = max(status, FAILED)
        else:
            warnings = count(diagnostics)
            print(f"{name}: ok" + (f" ({warnings})" if warnings else ""))
    return status


# --- convert ---------------------------------------------------------------------------

def run_convert(args) -> int:
    conversion = Conversion(args.source, args.output, args.target, args.source_format,
                            options=_source_options(args), force=args.force)
    result = conversion.run()  # usage errors (exit 2) and an existing output before any work
    report(result.diagnostics)
    if not result.ok:
        return FAILED
    print(f"{args.output}: written ({result.state['source_format'].name} -> {result.state['output_format'].name})")
    return OK


# --- migrate ---------------------------------------------------------------------------

def _check_report_file(args) -> None:
    """``--report FILE`` obeys --force and never names a file the run reads or writes (checked before work)."""
    if args.report in (None, "-"):
        return
    for other in (args.source, args.output, args.weights, args.weights_out):
        if other is not None and same_file(args.report, other):
            raise UsageError([error("output-is-input", f"--report {args.report} is also {other}, which this run "
                                    "reads or writes; write the report elsewhere", Location(str(args.report)))])
    refuse_existing(args.report, args.force)


def run_migrate(args) -> int:
    _check_report_file(args)
    result = migrate(args.source, args.target, args.output, source_framework=args.source_framework,
                     model_name=args.model, model_args=parse_model_args(args.model_args),
                     input_shapes=parse_input_shapes(args.input_shape), settings=parse_settings(args.settings),
                     weights=args.weights, run_constructor=args.run_constructor,
                     weights_out=args.weights_out, force=args.force)
    report(result.diagnostics)
    if result.report is not None and result.report.model:
        print(f"{args.source}: migrated {result.migrated} ({result.source_framework})")
    if args.report is not None and result.report is not None:
        if args.report == "-" or result.failed is not None:  # a failed run leaves no file: the report is printed
            sys.stdout.write(result.report_text())
        else:
            write_atomic(args.report, result.report_text(), force=args.force)
            print(f"{args.report}: migration report written")
    if result.failed is not None:
        print(f"nnpivot: migration failed at step '{result.failed}'; nothing written", file=sys.stderr)
        return FAILED
    print(f"{result.output}: written ({result.source_framework} -> {result.target})")
    if result.weights_out is not None:
        print(f"{result.weights_out}: {result.weights_written} weight arrays written")
    if result.partial:
        problems = sum(d.is_error for d in result.import_problems)
        print(f"nnpivot: {problems} construct{'s' if problems != 1 else ''} not translated: the output does NOT "
              "compute what the source computes", file=sys.stderr)
        return FAILED
    return OK


__all__ = ["run_check", "run_convert", "run_migrate"]
