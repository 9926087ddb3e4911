"""Diagnostics: what every transformation reports instead of raising tracebacks.

A diagnostic has a severity, a stable kebab-case code, a message naming the
element, and a location when the element came from text or source code. They
render the gcc way: ``file:line:col: error[code]: message``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ERROR, WARNING, NOTE = "error", "warning", "note"


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}" if self.col else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity}[{self.code}]: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


class NNPivotError(Exception):
    """Raised by a transformation that cannot go on; carries its diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def error(code: str, message: str, location: Location | None = None) -> Diagnostic:
    return Diagnostic(ERROR, code, message, location)


def warning(code: str, message: str, location: Location | None = None) -> Diagnostic:
    return Diagnostic(WARNING, code, message, location)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


# Where a model element (or one of its attributes) came from: set by importers, read by validators.
_LOCATION_ATTR = "_nnpivot_location"
_FEATURE_LOCATIONS_ATTR = "_nnpivot_feature_locations"


def set_location(element, location: Location | None, feature: str | None = None) -> None:
    """Record where ``element`` (or, with ``feature``, that attribute of it) was written."""
    if location is None:
        return
    if feature is None:
        object.__setattr__(element, _LOCATION_ATTR, location)
        return
    places = getattr(element, _FEATURE_LOCATIONS_ATTR, None)
    if places is None:
        places = {}
        object.__setattr__(element, _FEATURE_LOCATIONS_ATTR, places)
    places[feature] = location


def location_of(element, feature: str | None = None) -> Location | None:
    """The source location of an attribute, else of the element, else of its nearest located container."""
    if feature is not None:
        place = getattr(element, _FEATURE_LOCATIONS_ATTR, {}).get(feature)
        if place is not None:
            return place
    while element is not None:
        location = getattr(element, _LOCATION_ATTR, None)
        if location is not None:
            return location
        element = getattr(element, "eContainer", lambda: None)()
    return None
