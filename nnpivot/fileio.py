"""Reading input files with diagnostics, and writing output files safely: atomically, and
never over an existing file unasked."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nnpivot.diagnostics import Location, NNPivotError, error


def check_readable(path) -> Path:
    """``path`` as a Path; ``file-not-found``, ``not-a-file`` or ``unreadable-file`` when it cannot be read."""
    path = Path(path)
    where = Location(str(path))
    if not path.exists():
        raise NNPivotError([error("file-not-found", f"no such file: {path}", where)])
    if path.is_dir():
        raise NNPivotError([error("not-a-file", f"{path} is a directory, not a model file", where)])
    if not os.access(path, os.R_OK):
        raise NNPivotError([error("unreadable-file", f"cannot read {path}: permission denied", where)])
    return path


def read_text(path) -> str:
    """The UTF-8 text of an input file, or the diagnostics of ``check_readable``."""
    path = check_readable(path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NNPivotError([error("unreadable-file", f"cannot read {path}: {exc}", Location(str(path)))]) from None


def refuse_existing(path, force: bool = False) -> None:
    """Raise ``output-exists`` when ``path`` exists and ``force`` is not given."""
    if not force and os.path.lexists(path):
        raise NNPivotError([error("output-exists", f"{path} already exists; use --force to overwrite it",
                                  Location(str(path)))])


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _link_without_overwrite(temporary: str, path: Path) -> None:
    """Publish ``temporary`` as ``path`` unless something exists there, checked atomically by link()."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        refuse_existing(path)
    except OSError:  # a file system without hard links: check, then replace
        refuse_existing(path)
        os.replace(temporary, path)


def write_atomic(path, content, force: bool = False) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Readers never see a half-written file and a failure leaves nothing behind:
    neither a partial output nor the temporary file. Text is written as UTF-8
    with ``\\n`` line ends. Raises NNPivotError (``output-exists``) when the file
    exists and ``force`` is false, (``output-unwritable``) when the folder
    cannot be written. ``content`` is text, bytes-like, or a function that writes
    to a binary stream (for large outputs, without holding them in memory).
    """
    path = Path(path)
    refuse_existing(path, force)
    if callable(content):
        write = content
    else:
        data = content.encode("utf-8") if isinstance(content, str) else memoryview(content)  # bytes-like: no copy

        def write(stream):
            stream.write(data)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise NNPivotError([error("output-unwritable", f"cannot write {path}: {exc.strerror}",
                                  Location(str(path)))]) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~_umask())
        if force:
            os.replace(temporary, path)
        else:
            _link_without_overwrite(temporary, path)
    except OSError as exc:
        raise NNPivotError([error("output-unwritable", f"cannot write {path}: {exc.strerror or exc}",
                                  Location(str(path)))]) from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return path


__all__ = ["check_readable", "read_text", "refuse_existing", "write_atomic"]
