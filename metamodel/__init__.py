"""The pivot metamodel: ``nn.ecore`` loaded with pyecore.

The Ecore file is the one source of the concepts; the Python classes are the
dynamic EClasses pyecore builds from it (no generated code, so there is one
identity per EClass in a process).
"""
from functools import cache
from pathlib import Path

from pyecore.ecore import EClass, EEnum, EPackage

from nnpivot.bulk import collector_paused

from .ecore_file import read_package

ECORE_PATH = Path(__file__).with_name("nn.ecore")

with collector_paused():  # its thousands of objects all stay: a collection while reading frees nothing
    nn: EPackage = read_package(ECORE_PATH)  # (not pyecore's XMI resource: see ecore_file)
NS_URI: str = nn.nsURI


@cache
def eclass(name: str) -> EClass:
    """The EClass called ``name``; KeyError when the metamodel has none.

    Cached: pyecore's ``getEClassifier`` searches the package on every call, and
    importers create one node per statement.
    """
    classifier = nn.getEClassifier(name)
    if not isinstance(classifier, EClass):
        raise KeyError(name)
    return classifier


def eenum(name: str) -> EEnum:
    return nn.getEClassifier(name)


def concrete_node_classes() -> list[EClass]:
    node = eclass("Node")
    return [c for c in nn.eClassifiers
            if isinstance(c, EClass) and not c.abstract and node in c.eAllSuperTypes()]


@cache
def kind_names(cls: EClass) -> frozenset[str]:
    """The names of ``cls`` and of all its supertypes (the metamodel is fixed once loaded, so cached)."""
    return frozenset({cls.name, *(s.name for s in cls.eAllSuperTypes())})


def is_kind(obj, name: str) -> bool:
    """True when ``obj`` is an instance of the EClass ``name`` or a subclass."""
    if obj is None or not hasattr(obj, "eClass"):
        return False
    cls = obj.eClass
    if isinstance(cls, EClass):
        return name in kind_names(cls)
    return cls.name == name or any(s.name == name for s in cls.eAllSuperTypes())


def weights_owner(node):
    """The node holding the parameters ``node`` computes with: its ``weightsOf`` or itself."""
    return node.weightsOf if node.weightsOf is not None else node


Model = eclass("Model")
Block = eclass("Block")
Node = eclass("Node")
Input = eclass("Input")
Select = eclass("Select")
BlockCall = eclass("BlockCall")
TrainingConfig = eclass("TrainingConfig")
Optimizer = eclass("Optimizer")
Parameter = eclass("Parameter")
PackedInput = eclass("PackedInput")
BlockParameter = eclass("BlockParameter")
Argument = eclass("Argument")
AttributeBinding = eclass("AttributeBinding")
ParameterRef = eclass("ParameterRef")
ListExpression = eclass("ListExpression")

__all__ = [
    "ECORE_PATH",
    "NS_URI",
    "Argument",
    "AttributeBinding",
    "Block",
    "BlockCall",
    "BlockParameter",
    "Input",
    "ListExpression",
    "Model",
    "Node",
    "Optimizer",
    "PackedInput",
    "Parameter",
    "ParameterRef",
    "Select",
    "TrainingConfig",
    "concrete_node_classes",
    "eclass",
    "eenum",
    "is_kind",
    "nn",
    "weights_owner",
]
