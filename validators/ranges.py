"""Legal values of hyper-parameters, keyed by what an attribute means, not by kind.

An attribute called ``stride`` must be positive whichever layer it belongs to,
so one table covers every kind of the registry, present and future. Axis-valued
attributes are not here: their range depends on the rank of the input, which
the shape pass knows (it reports them as ``out-of-range`` too).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A test on one value of an attribute (``node`` gives access to its siblings)."""
    holds: Callable[[object, object], bool]
    expects: str  # completes "<attribute> must be ..."


POSITIVE = Rule(lambda v, node: v > 0, "positive")
NON_NEGATIVE = Rule(lambda v, node: v >= 0, "zero (inferred) or positive")
PROBABILITY = Rule(lambda v, node: 0 <= v < 1, "in [0, 1)")
FRACTION = Rule(lambda v, node: 0 <= v <= 1, "in [0, 1]")
SIZE_OR_FREE = Rule(lambda v, node: v > 0 or v == -1, "positive, or -1 for a size computed from the others")
ROW_INDEX = Rule(lambda v, node: -node.numEmbeddings <= v < node.numEmbeddings,
                 "an index of one of the num_embeddings rows")

RULES: dict[str, Rule] = {
    # sizes and counts
    **dict.fromkeys(("filters", "units", "kernelSize", "stride", "dilation", "groups", "numHeads", "numLayers",
                     "hiddenSize", "embedDim", "numEmbeddings", "embeddingDim", "numGroups", "numParameters",
                     "upscaleFactor", "outputSize", "normalizedShape", "sizes", "size", "steps"), POSITIVE),
    # declared input sizes: 0 means "inferred from the input shape"
    **dict.fromkeys(("inChannels", "inFeatures", "numFeatures", "numChannels", "inputSize", "kdim", "vdim", "keyDim",
                     "valueDim", "outputDim"),
                    NON_NEGATIVE),
    **dict.fromkeys(("pads", "outputPadding"), Rule(lambda v, node: v >= 0, "zero or positive")),
    # scales and numerical constants
    **dict.fromkeys(("eps", "scaleFactor", "beta", "p", "maxNorm"), POSITIVE),
    # probabilities
    **dict.fromkeys(("rate", "dropout"), PROBABILITY),
    "momentum": FRACTION,
    "shape": SIZE_OR_FREE,  # Reshape's target shape
    "paddingIdx": ROW_INDEX,
}

# Input nodes are not registry kinds; their declared shape follows the same rule as a reshape target.
INPUT_SHAPE = SIZE_OR_FREE
