"""Reading input files with diagnostics, and writing output files safely: atomically, and
never over an existing file unasked.

Inputs and outputs are regular files: a FIFO, a device or a folder is refused
before it is opened (a FIFO would block, a device never ends, and replacing
either with a file destroys it). An output is written to a temporary file in
its folder and published by ``link`` (never over an existing file) or, with
``force``, by ``rename`` keeping the replaced file's permissions. A run writing
several files stages them all and publishes them at the end, so a failure
leaves none of them behind (:class:`Staged`).
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from nnpivot.diagnostics import Location, NNPivotError, error

# Most file systems refuse longer names (NAME_MAX); checked up front for a diagnostic instead of an OSError.
NAME_MAX = 255


def _fail(code: str, message: str, path) -> NNPivotError:
    return NNPivotError([error(code, message, Location(str(path)))])


def _stat(path: Path, code: str):
    """``os.stat`` of ``path`` (None when nothing is there); other OSErrors (a name too long, a folder that
    cannot be searched) as ``code`` diagnostics."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise _fail(code, f"cannot use {path}: {exc.strerror or exc}", path) from None
    except ValueError as exc:  # an embedded NUL
        raise _fail(code, f"cannot use {path}: {exc}", path) from None


def _not_regular(path: Path, status, role: str) -> NNPivotError:
    what = ("a directory" if stat.S_ISDIR(status.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(status.st_mode)
            else "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode) else "a socket"
            if stat.S_ISSOCK(status.st_mode) else "not a regular file")
    return _fail("not-a-file", f"{path} is {what}, not a {role}", path)


def check_readable(path, role: str = "model file") -> Path:
    """``path`` as a Path; ``file-not-found``, ``not-a-file`` (a folder, FIFO or device: checked before any
    open, so a FIFO never blocks) or ``unreadable-file`` when it cannot be read."""
    path = Path(path)
    status = _stat(path, "unreadable-file")
    if status is None:
        raise _fail("file-not-found", f"no such file: {path}", path)
    if not stat.S_ISREG(status.st_mode):
        raise _not_regular(path, status, role)
    if not os.access(path, os.R_OK):
        raise _fail("unreadable-file", f"cannot read {path}: permission denied", path)
    return path


def read_text(path) -> str:
    """The UTF-8 text of an input file, or the diagnostics of ``check_readable``."""
    path = check_readable(path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail("unreadable-file", f"cannot read {path}: {exc}", path) from None


def refuse_existing(path, force: bool = False) -> None:
    """Raise when ``path`` cannot be written: ``output-exists`` when it exists and ``force`` is not given,
    ``not-a-file`` when it is a folder, FIFO or device (even with ``force``), ``output-unwritable`` when its
    name is too long. (A missing folder shows when the file is written.)"""
    path = Path(path)
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise _fail("output-unwritable", f"cannot write {path}: the file name is longer than {NAME_MAX} bytes", path)
    if os.path.lexists(path):
        if not force:
            raise _fail("output-exists", f"{path} already exists; use --force to overwrite it", path)
        status = _stat(path, "output-unwritable")
        if status is not None and not stat.S_ISREG(status.st_mode):
            raise _not_regular(path, status, "file to overwrite")


def same_file(a, b) -> bool:
    """``a`` and ``b`` name the same file (compared by inode when both exist)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _suffix(path: Path) -> str:
    """The suffix a temporary file keeps so writers that choose by name still do (``.weights.h5``)."""
    name = path.name.lower()
    return ".weights.h5" if name.endswith(".weights.h5") else path.suffix[:16]


class Staged:
    """Outputs written to temporary files first and published together by :meth:`publish`.

    ``path_for(output)`` gives the temporary file a writer fills; ``publish``
    puts every one in place (``output-exists`` when one appeared meanwhile and
    ``force`` is not given: then the ones published are removed again);
    ``discard`` (also on leaving a ``with``) removes the temporary files.
    """

    def __init__(self, force: bool = False):
        self.force = force
        self.outputs: list[tuple[Path, Path]] = []  # (temporary, final)
        self.replaced: set[Path] = set()  # published over an existing file (kept when a later one fails)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False

    def path_for(self, path) -> Path:
        path = Path(path)
        refuse_existing(path, self.force)
        folder = path.parent if str(path.parent) else Path(".")
        try:  # the temporary name ends like the output's: writers choose the format by it (.weights.h5)
            handle, temporary = tempfile.mkstemp(prefix=".nnpivot-", suffix=_suffix(path), dir=folder)
        except OSError as exc:
            raise _fail("output-unwritable", f"cannot write {path}: {exc.strerror or exc}", path) from None
        os.close(handle)
        temporary_path = Path(temporary)
        self.outputs.append((temporary_path, path))
        return temporary_path

    def write(self, path, content) -> Path:
        """Stage ``content`` (text, bytes-like, or a function writing to a binary stream) for ``path``."""
        temporary = self.path_for(path)
        if callable(content):
            write = content
        else:
            data = content.encode("utf-8") if isinstance(content, str) else memoryview(content)  # no copy

            def write(stream):
                stream.write(data)
        try:
            with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_TRUNC), "wb") as stream:
                write(stream)
        except OSError as exc:
            raise _fail("output-unwritable", f"cannot write {path}: {exc.strerror or exc}", path) from None
        return temporary

    def publish(self) -> list[Path]:
        """Put every staged output in place; all or (but for a race with another writer) none."""
        published: list[Path] = []
        try:
            for temporary, path in self.outputs:
                self._publish_one(temporary, path)
                published.append(path)
        except BaseException:
            for path in published:
                if path not in self.replaced:
                    path.unlink(missing_ok=True)
            raise
        finally:
            self.discard()
        return published

    def _publish_one(self, temporary: Path, path: Path) -> None:
        try:
            existing = _stat(path, "output-unwritable") if os.path.lexists(path) else None
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                raise _not_regular(path, existing, "file to overwrite")
            # A replaced file keeps its permissions (0600 stays 0600); a new one gets the umask's.
            os.chmod(temporary, stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask())
            if self.force and os.path.lexists(path):
                os.replace(temporary, path)
                self.replaced.add(path)
                return
            try:
                os.link(temporary, path)  # fails when something appeared there: never overwritten unasked
            except FileExistsError:
                raise _fail("output-exists", f"{path} already exists; use --force to overwrite it", path) from None
            except OSError:  # a file system without hard links: check, then rename
                refuse_existing(path, self.force)
                os.replace(temporary, path)
        except OSError as exc:
            raise _fail("output-unwritable", f"cannot write {path}: {exc.strerror or exc}", path) from None

    def discard(self) -> None:
        for temporary, _path in self.outputs:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        self.outputs = []


def write_atomic(path, content, force: bool = False) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder, published at once.

    Readers never see a half-written file and a failure leaves nothing behind:
    neither a partial output nor the temporary file. Text is written as UTF-8
    with ``\\n`` line ends. Raises NNPivotError (``output-exists``) when the file
    exists and ``force`` is false, (``not-a-file``) when it is not a regular
    file, (``output-unwritable``) when the folder cannot be written. ``content``
    is text, bytes-like, or a function that writes to a binary stream (for large
    outputs, without holding them in memory).
    """
    path = Path(path)
    with Staged(force) as staged:
        staged.write(path, content)
        staged.publish()
    return path


__all__ = ["NAME_MAX", "Staged", "check_readable", "read_text", "refuse_existing", "same_file", "write_atomic"]
