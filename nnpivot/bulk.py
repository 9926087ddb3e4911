"""Work on large models without the cyclic garbage collector's quadratic share.

Reading, validating or generating a 30,000-node model allocates hundreds of
thousands of objects that all stay alive (pyecore objects, textual fragments,
tables). Python's collector runs its full collections over every live object,
and while a model is being built they come again and again over a growing
heap: at 30,000 nodes that made a third of the time. The collector is paused
for such a step and resumes after it (nested steps leave it to the outermost).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the duration of the block; reference counting frees as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["collector_paused"]
