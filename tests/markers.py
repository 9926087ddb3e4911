"""Framework markers: a test that needs PyTorch carries ``torch``, one that needs TensorFlow/Keras ``tensorflow``.

``pytest -m "not torch and not tensorflow"`` then runs the static tests alone, and
tests/test_markers.py checks that this selection passes with neither framework importable.
"""
import pytest

FRAMEWORK_MARKS = {"pytorch": pytest.mark.torch, "keras": pytest.mark.tensorflow}
