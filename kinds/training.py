"""The training vocabulary: optimizers, losses and metrics, and how each framework writes them.

One table for everyone: the DSL's validator checks names against it, the importers
read it backwards (a framework spelling -> the pivot name), the generators forwards.
No torch or TensorFlow import: spellings are strings, defaults are numbers the
tests compare with the installed frameworks.

Pivot conventions:

- Parameter names are Keras-like (``learning_rate``, ``beta_1``, ``epsilon``, ``rho``);
  a parameter the model does not set means the target framework's default.
- The values mean what they mean in the update rule of the optimizer's ``rule``
  (metamodel UpdateRule): PyTorch's by default, Keras's where a Keras source's
  settings update otherwise (``rule_matters``). ``weight_decay`` is an L2 term
  added to the gradient in PyTorch's rule (except ``adamw``: decoupled), subtracted
  from the weights apart from the gradient in Keras's; ``epsilon`` of the Adam
  family is added to the bias-corrected sqrt(v) in PyTorch's rule, to sqrt(v)
  before the bias correction in Keras's. Where the target framework's rule is not
  the model's, generated code uses a small subclass of the target's optimizer that
  updates with the model's rule (``OptimizerEntry.rule_class``), exactly.
- The cross-entropies read the model's output by its last activation: a model that
  ends in softmax (sigmoid for the binary loss) outputs probabilities, any other
  model outputs logits; ``nll`` reads log-probabilities (a model ending in
  log_softmax). A spelling that reads the output otherwise (``from_logits=True`` on
  a softmax model, ``nn.CrossEntropyLoss`` on probabilities) is not exact.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnpivot.kinds.layout import keras_boundary
from nnpivot.kinds.pysyntax import literal
from nnpivot.kinds.spec import snake

# What a model's last node says about its output (see ``ending_of_keyword``).
LOGITS = "logits"
PROBABILITIES = "probabilities"            # ends in softmax
BINARY_PROBABILITIES = "binary_probabilities"  # ends in sigmoid
LOG_PROBABILITIES = "log_probabilities"    # ends in log_softmax
_ENDINGS = {"softmax": PROBABILITIES, "sigmoid": BINARY_PROBABILITIES, "log_softmax": LOG_PROBABILITIES}


def ending_of_keyword(keyword: str | None) -> str:
    """How the losses read a model whose (only) output is a node of kind ``keyword`` (its DSL keyword)."""
    return _ENDINGS.get(keyword or "", LOGITS)


# --- optimizers ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptimizerParameter:
    """One optimizer hyper-parameter: its pivot name and how each framework spells it."""

    name: str                       # pivot (Keras-like) name
    torch: str                      # torch.optim keyword
    keras: str                      # keras.optimizers keyword
    torch_default: float | bool | None  # None: the framework has no default of its own (a required value)
    keras_default: float | bool | None
    boolean: bool = False           # stored as 0/1 in the pivot, written True/False
    torch_index: int | None = None  # the position inside a torch tuple keyword (betas=(beta_1, beta_2))
    requires: str = ""              # a parameter that must be positive when this flag is set (torch refuses otherwise)

    def torch_value(self, value: float):
        return bool(value) if self.boolean else value

    keras_value = torch_value


@dataclass(frozen=True)
class OptimizerEntry:
    name: str                       # pivot name
    torch_class: str                # torch.optim class, as generated code writes it
    keras_class: str                # keras.optimizers class, as generated code writes it
    keras_strings: tuple[str, ...]  # identifiers keras.optimizers.get accepts
    torch_learning_rate: float      # each framework's default learning rate
    keras_learning_rate: float
    parameters: tuple[OptimizerParameter, ...]
    # the optimizer classes generated code defines to update with the other framework's rule (see rule_matters)
    torch_rule_class: str = ""      # a torch.optim subclass updating with Keras's rule ("KerasAdam")
    keras_rule_class: str = ""      # a keras.optimizers subclass updating with PyTorch's rule ("TorchAdam")

    def rule_class(self, target: str) -> str:
        """The class that updates with the other framework's rule in ``target`` ("torch"/"keras"); "" if none."""
        return self.torch_rule_class if target == "torch" else self.keras_rule_class

    @property
    def torch_name(self) -> str:
        return self.torch_class.rsplit(".", 1)[-1]

    @property
    def keras_name(self) -> str:
        return self.keras_class.rsplit(".", 1)[-1]

    def parameter(self, name: str) -> OptimizerParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def parameter_of_torch(self, keyword: str, index: int | None = None) -> OptimizerParameter | None:
        return next((p for p in self.parameters if p.torch == keyword and p.torch_index == index), None)

    def torch_tuple(self, keyword: str) -> list[OptimizerParameter]:
        """The parameters a torch tuple keyword holds, in order (betas -> beta_1, beta_2); [] for other keywords."""
        return sorted((p for p in self.parameters if p.torch == keyword and p.torch_index is not None),
                      key=lambda p: p.torch_index)

    def parameter_of_keras(self, keyword: str) -> OptimizerParameter | None:
        return next((p for p in self.parameters if p.keras == keyword), None)


RULE_PYTORCH, RULE_KERAS = "pytorch", "keras"   # the metamodel's UpdateRule literals


def _decay(torch_default: float = 0.0, keras_default: float | None = None) -> OptimizerParameter:
    """Weight decay: L2 (added to the gradient) in PyTorch's rule, decoupled (subtracted from the weights) in
    Keras's; AdamW decouples it in both."""
    return OptimizerParameter("weight_decay", "weight_decay", "weight_decay", torch_default, keras_default)


def _betas(beta_2_torch: float = 0.999) -> tuple[OptimizerParameter, OptimizerParameter]:
    return (OptimizerParameter("beta_1", "betas", "beta_1", 0.9, 0.9, torch_index=0),
            OptimizerParameter("beta_2", "betas", "beta_2", beta_2_torch, 0.999, torch_index=1))


# Not quite one quantity: Keras's Adam and AdamW add epsilon before the bias correction of sqrt(v), its RMSprop
# and Adagrad inside the square root, its Adamax to the infinity norm (PyTorch's inside the maximum); PyTorch
# adds it to the (bias-corrected) sqrt(v). Adadelta adds it inside the square root in both, NAdam to the
# bias-corrected sqrt(v) in both. The optimizers with rule classes carry it over exactly (the optimizer's rule
# says whose epsilon it is).


def _epsilon(torch_default: float, keras_default: float = 1e-7) -> OptimizerParameter:
    """The epsilon of the optimizer's rule. No constant converts one framework's into the other's (Adam's
    differs by sqrt(1 - beta_2 ** t) at step t): generated code trains with a rule class where the target's
    rule differs."""
    return OptimizerParameter("epsilon", "eps", "epsilon", torch_default, keras_default)


def _flag(name: str) -> OptimizerParameter:
    return OptimizerParameter(name, name, name, False, False, boolean=True)


OPTIMIZERS: dict[str, OptimizerEntry] = {entry.name: entry for entry in (
    OptimizerEntry("sgd", "torch.optim.SGD", "keras.optimizers.SGD", ("sgd",), 1e-3, 0.01, (
        OptimizerParameter("momentum", "momentum", "momentum", 0.0, 0.0),
        OptimizerParameter("nesterov", "nesterov", "nesterov", False, False, boolean=True, requires="momentum"),
        # exact through the rule classes (without momentum, decoupled and L2 decay give the same update)
        _decay()), "KerasSGD", "TorchSGD"),
    OptimizerEntry("adam", "torch.optim.Adam", "keras.optimizers.Adam", ("adam",), 1e-3, 1e-3, (
        *_betas(), _epsilon(1e-8), _decay(), _flag("amsgrad")), "KerasAdam", "TorchAdam"),
    OptimizerEntry("adamw", "torch.optim.AdamW", "keras.optimizers.AdamW", ("adamw",), 1e-3, 1e-3, (
        *_betas(), _epsilon(1e-8), _decay(0.01, 0.004), _flag("amsgrad")),
        "KerasAdamW", "TorchAdamW"),
    OptimizerEntry("rmsprop", "torch.optim.RMSprop", "keras.optimizers.RMSprop", ("rmsprop",), 1e-2, 1e-3, (
        OptimizerParameter("rho", "alpha", "rho", 0.99, 0.9),
        OptimizerParameter("momentum", "momentum", "momentum", 0.0, 0.0),
        _epsilon(1e-8), _decay(), _flag("centered")), "KerasRMSprop", "TorchRMSprop"),
    OptimizerEntry("adagrad", "torch.optim.Adagrad", "keras.optimizers.Adagrad", ("adagrad",), 1e-2, 1e-3, (
        _epsilon(1e-10), _decay(),
        OptimizerParameter("initial_accumulator_value", "initial_accumulator_value", "initial_accumulator_value",
                           0.0, 0.1)), "KerasAdagrad", "TorchAdagrad"),
    OptimizerEntry("adadelta", "torch.optim.Adadelta", "keras.optimizers.Adadelta", ("adadelta",), 1.0, 1e-3, (
        OptimizerParameter("rho", "rho", "rho", 0.9, 0.95), _epsilon(1e-6), _decay()),
        "KerasAdadelta", "TorchAdadelta"),
    OptimizerEntry("adamax", "torch.optim.Adamax", "keras.optimizers.Adamax", ("adamax",), 2e-3, 1e-3, (
        *_betas(), _epsilon(1e-8), _decay()), "KerasAdamax", "TorchAdamax"),
    # NAdam's rule always matters: PyTorch's momentum schedule decays with momentum_decay 0.004, Keras's with 1
    OptimizerEntry("nadam", "torch.optim.NAdam", "keras.optimizers.Nadam", ("nadam",), 2e-3, 1e-3, (
        *_betas(), _epsilon(1e-8), _decay()), "KerasNAdam", "TorchNAdam"),
)}

def rule_matters(entry: OptimizerEntry, parameters: dict[str, float], gathers: bool = False,
                 changes_rate: bool = False) -> bool:
    """Whether PyTorch's and Keras's update rules differ for these settings (pivot names -> values), so the
    model records whose rule they are written for: epsilon (unless 0 or unset: an unset one is each target's
    own default, in its own rule; Adadelta's means the same in both), weight decay (L2 or decoupled; AdamW's
    is decoupled in both) except SGD's without momentum (there they are the same update), SGD's momentum under
    a schedule that ``changes_rate`` (Keras's buffer holds the learning rate of each past step, PyTorch's
    multiplies its buffer by this step's: the same update only at a constant rate), any setting of a model that
    ``gathers`` (has an Embedding) under an optimizer that squares the gradient (``squares_gradient``), and
    NAdam's always (its momentum schedules differ)."""
    if entry.name == "sgd":
        return bool(parameters.get("momentum") and (parameters.get("weight_decay") or changes_rate))
    if entry.name == "nadam":
        return True  # the momentum schedules differ
    epsilon = bool(parameters.get("epsilon")) and entry.name != "adadelta"  # inside the square root in both
    return epsilon or (entry.name != "adamw" and bool(parameters.get("weight_decay"))) or gathers


def squares_gradient(entry: OptimizerEntry) -> bool:
    """Whether the optimizer's update squares the gradient (all but SGD; Adamax takes its absolute value): Keras's
    gradient of an Embedding is one slice per occurrence of a row and its update squares each apart, PyTorch's
    the row's sum, so the updates of a row looked up twice in a batch differ."""
    return entry.name != "sgd"


# The keyword of a torch rule class (generators/templates/pytorch/optimizer.py.j2) that takes the model whose
# nn.Embedding layers train as Keras's do
RULE_MODEL_KEYWORD = "model"


def embeddings(model) -> list:
    """The Embedding nodes of ``model`` (a pivot Model, its blocks included), whose rows its input looks up."""
    graphs = (model, *getattr(model, "blocks", ())) if model is not None else ()
    return [node for graph in graphs for node in graph.nodes if node.eClass.name == "Embedding"]


def gathers(model) -> bool:
    return bool(embeddings(model))


def rule_of(optimizer) -> str:
    """The pivot optimizer's rule where it matters, else "" (both frameworks' optimizers update alike)."""
    entry = OPTIMIZERS.get(optimizer.kind or "")
    config = optimizer.eContainer()
    model = config.eContainer() if config is not None else None
    changes_rate = config is not None and config.schedule is not None  # every pivot schedule changes the rate
    if entry is None or not rule_matters(entry, {p.key: p.value for p in optimizer.parameters}, gathers(model),
                                         changes_rate):
        return ""
    return optimizer.rule.name


# The rule class of a spelling, for the importers: {"KerasAdam": (entry, RULE_KERAS), "TorchAdam": ...}
def source_defaults(entry: OptimizerEntry, framework: str) -> list[tuple[OptimizerParameter, float | bool]]:
    """The parameters whose default differs between the frameworks, with the ``framework``'s ("torch"/"keras").

    An importer writes these into the pivot when the source leaves them unset, so the other
    target trains with the source's settings (Adam's epsilon: 1e-8 in PyTorch, 1e-7 in Keras).
    A default of None (Keras: no weight decay) means the same as PyTorch's 0 and is left alone.
    """
    found = []
    for parameter in entry.parameters:
        if None in (parameter.torch_default, parameter.keras_default) or \
                parameter.torch_default == parameter.keras_default:
            continue
        found.append((parameter, parameter.torch_default if framework == "torch" else parameter.keras_default))
    return found


# What generated training code uses when the model's training section names no optimizer or no loss.
DEFAULT_OPTIMIZER, DEFAULT_LEARNING_RATE, DEFAULT_LOSS = "adam", 0.001, "cross_entropy"

# The pivot optimizer of a torch.optim class name ("Adam") and of a Keras class name or identifier
# ("Adam", "adam"), for the importers.
OPTIMIZERS_BY_TORCH_NAME: dict[str, OptimizerEntry] = {e.torch_name: e for e in OPTIMIZERS.values()}
OPTIMIZERS_BY_KERAS_NAME: dict[str, OptimizerEntry] = {
    **{e.keras_name: e for e in OPTIMIZERS.values()},
    **{s: e for e in OPTIMIZERS.values() for s in e.keras_strings}}
# The rule classes generated code defines (a torch.optim subclass with Keras's rule, a Keras optimizer subclass
# with PyTorch's), by class name: the importers read one back as its optimizer with that rule. Each subclasses
# the framework's own class of the optimizer (torch_class / keras_class); see generators/templates/*/optimizers.
TORCH_RULE_CLASSES: dict[str, OptimizerEntry] = {
    e.torch_rule_class: e for e in OPTIMIZERS.values() if e.torch_rule_class}
KERAS_RULE_CLASSES: dict[str, OptimizerEntry] = {
    e.keras_rule_class: e for e in OPTIMIZERS.values() if e.keras_rule_class}


def rule_class(entry: OptimizerEntry, rule: str, target: str) -> str:
    """The rule class ``target`` ("torch"/"keras") trains with for a model whose optimizer has ``rule`` (its
    ``rule_of``); "" when the target's own optimizer class updates with that rule (or the rule does not matter)."""
    native = RULE_PYTORCH if target == "torch" else RULE_KERAS
    return "" if rule in ("", native) else entry.rule_class(target)

# --- recurrent layers with PyTorch's two biases ------------------------------------------------------

# Recurrent kinds whose PyTorch form has two biases (bias_ih, bias_hh) where Keras's has one, their sum (a GRU's
# two are Keras's two: reset_after keeps them apart)
TWO_BIAS_KINDS = ("SimpleRNN", "LSTM", "LSTMCell")
# The Keras optimizer subclass generated code trains such a model with, named after its base: "TwoBiasAdam" steps
# as keras.optimizers.Adam, "TwoBiasTorchAdam" as the rule class TorchAdam, and each takes twice its step for
# those layers' one bias
TWO_BIAS_PREFIX = "TwoBias"
TWO_BIAS_KEYWORD = "two_bias_layers"   # its keyword: the Keras layer paths (inside the model) of those layers


def has_two_biases(node) -> bool:
    """Whether ``node`` trains PyTorch's two recurrent biases (a PyTorch source's, a .nn model's LSTM)."""
    return node.eClass.name in TWO_BIAS_KINDS and bool(node.bias) and not getattr(node, "oneBias", False)


def two_bias_class(base: str) -> str:
    """The name of the two-bias class of a Keras optimizer class or rule class (``base``: "Adam", "TorchAdam")."""
    return f"{TWO_BIAS_PREFIX}{base}"


# The Keras optimizers whose momentum (SGD) or beta_1 (Adam, AdamW) generated code cycles exactly as PyTorch's
# OneCycleLR does, through a subclass taking it from the schedule at each step (generators/templates/keras/
# one_cycle.py.j2), named after its base: "OneCycleSGD" updates as keras.optimizers.SGD's own class or rule
# class would, "OneCycleTorchAdam" as TorchAdam
CYCLED_MOMENTUM = ("sgd", "adam", "adamw")
ONE_CYCLE_PREFIX = "OneCycle"
ONE_CYCLE_SCHEDULE = "TorchOneCycle"   # the keras LearningRateSchedule giving OneCycleLR's rate and momentum


def one_cycle_class(base: str) -> str:
    """The name of the momentum-cycling class of a Keras optimizer class or rule class ("SGD", "TorchAdam")."""
    return f"{ONE_CYCLE_PREFIX}{base}"


def one_cycle_optimizer(schedule, entry: OptimizerEntry, parameters: dict[str, float]) -> bool:
    """Whether generated Keras code trains ``entry`` under ``schedule`` with its one-cycle class: OneCycleLR cycles
    its momentum, or (SGD) it keeps a constant momentum while the rate changes every step (Keras's SGD keeps the
    learning rate inside its momentum buffer, PyTorch's multiplies the buffer by this step's rate)."""
    if schedule is None or schedule.eClass.name != "OneCycle" or entry.name not in CYCLED_MOMENTUM:
        return False
    return bool(schedule.cycleMomentum) or (entry.name == "sgd" and bool(parameters.get("momentum")))


# one-cycle class name -> the name of its base ("OneCycleTorchAdam" -> "TorchAdam"), for the importer
KERAS_ONE_CYCLE_BASES: dict[str, str] = {
    one_cycle_class(base): base for e in OPTIMIZERS.values() if e.name in CYCLED_MOMENTUM
    for base in (e.keras_name, e.keras_rule_class) if base}
# two-bias class name -> the name of its base ("TwoBiasTorchAdam" -> "TorchAdam"), for the importer
KERAS_TWO_BIAS_BASES: dict[str, str] = {
    two_bias_class(base): base for base in (
        *(b for e in OPTIMIZERS.values() for b in (e.keras_name, e.keras_rule_class) if b), *KERAS_ONE_CYCLE_BASES)}


def two_bias_problem(entry: OptimizerEntry, parameters: dict[str, float], clip_norm: float = 0.0) -> str:
    """Why Keras's one bias cannot follow PyTorch's two exactly with these settings ("" when it can).

    Both PyTorch biases receive the same gradient; where each one's optimizer state depends only on its own
    gradients, both take the same step and their sum moves twice that step, which the Keras optimizer takes for
    the one bias (its step is linear in the learning rate). Weight decay added to the gradient (L2) depends on
    each bias's own value, so the two steps differ; decoupled decay (AdamW) shrinks each bias, so the sum, in
    proportion, as Keras's shrinks its one bias. Clipping by the norm of all gradients counts the gradient twice
    in PyTorch, once in Keras."""
    if parameters.get("weight_decay") and entry.name != "adamw":
        return (f"{entry.name}'s weight decay is added to each bias's gradient and depends on its own value, so "
                "the two biases take different steps")
    if clip_norm:
        return "clipping by the norm of all gradients counts the two biases' gradient twice, Keras's one bias once"
    return ""


# Keywords a Keras optimizer accepts that are not hyper-parameters of the update rule.
KERAS_OPTIMIZER_IGNORED = frozenset({"name"})
# Older spellings of Keras optimizer keywords -> today's keyword
KERAS_OPTIMIZER_ALIASES = {"lr": "learning_rate", "beta1": "beta_1", "beta2": "beta_2"}


# --- learning-rate schedules, loss settings, clipping ------------------------------------------------

# The metamodel's LearningRateSchedule classes; the DSL writes each as its snake_case name with its
# features as snake_case keywords: ``schedule step_decay(step_size=2, gamma=0.5, interval=epoch)``.
SCHEDULE_CLASSES = ("StepDecay", "ExponentialDecay", "CosineDecay", "PiecewiseConstantDecay", "ReduceOnPlateau",
                    "OneCycle")
# DSL keywords of a ``loss name(...)`` call -> TrainingConfig features (the label format is the loss's own:
# cross_entropy takes class indices, categorical_cross_entropy one-hot rows, binary_cross_entropy 0/1)
LOSS_SETTINGS = {"reduction": "lossReduction", "label_smoothing": "labelSmoothing"}


@dataclass(frozen=True)
class Clipping:
    """One way of clipping gradients between backward() and the optimizer step: its TrainingConfig feature (a
    limit, 0 for none), its DSL setting, the statements generated PyTorch code writes (``{limit}``; ``model``
    is the trained module; ``{clip_norm}`` the function clipping a norm, ``clip_norm_function``) and the Keras
    optimizer keyword."""

    feature: str
    setting: str
    torch: tuple[str, ...]
    keras: str

    def torch_lines(self, limit: float, rule: str = "pytorch") -> list[str]:
        return [line.format(limit=literal(limit), clip_norm=clip_norm_function(rule)) for line in self.torch]


# In the order PyTorch code applies them. PyTorch's clip_grad_norm_ scales by min(1, limit / (norm + 1e-6)),
# Keras's global_clipnorm and clipnorm by limit / max(norm, limit): the optimizer's rule (UpdateRule) says whose
# a norm clipping is. Generated PyTorch code clips with Keras's scaling through KERAS_CLIP_NORM; generated Keras
# code still clips with Keras's (a PyTorch source's clipped gradients differ by about 1e-6 / norm relatively).
# Keras takes one of the three keywords only.
CLIPPINGS = (
    # the L2 norm of all gradients together
    Clipping("clipNorm", "clip_norm", ("{clip_norm}(model.parameters(), {limit})",), "global_clipnorm"),
    # each variable's gradient by its own L2 norm
    Clipping("clipNormPerVariable", "clip_norm_per_variable",
             ("for parameter in model.parameters():", "    {clip_norm}(parameter, {limit})"), "clipnorm"),
    # each gradient element to [-limit, limit]
    Clipping("clipValue", "clip_value", ("torch.nn.utils.clip_grad_value_(model.parameters(), {limit})",),
             "clipvalue"),
)
NORM_CLIPPINGS = ("clipNorm", "clipNormPerVariable")
TORCH_CLIP_NORM = "torch.nn.utils.clip_grad_norm_"
# The function generated PyTorch code defines to clip a norm as Keras does (the check runs this same code)
KERAS_CLIP_NORM = "keras_clip_grad_norm_"
KERAS_CLIP_NORM_CODE = f'''def {KERAS_CLIP_NORM}(parameters, max_norm):
    """Scales the gradients of ``parameters`` by max_norm / max(norm, max_norm), norm the L2 norm of them all,
    as Keras\'s global_clipnorm and clipnorm do (torch.nn.utils.clip_grad_norm_ divides by norm + 1e-6)."""
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else parameters
    gradients = [parameter.grad for parameter in parameters if parameter.grad is not None]
    if gradients:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gradients]))
        scale = max_norm / torch.clamp(norm, min=max_norm)
        for gradient in gradients:
            gradient.mul_(scale)
'''


def clip_norm_function(rule: str) -> str:
    """The function generated PyTorch code clips a norm with, for an optimizer of ``rule`` (its UpdateRule)."""
    return KERAS_CLIP_NORM if rule == RULE_KERAS else TORCH_CLIP_NORM


def clipping_rule(config) -> str:
    """Whose scaling the configuration's norm clipping has: its optimizer's rule (PyTorch's without one)."""
    return config.optimizer.rule.name if config.optimizer is not None else RULE_PYTORCH


CLIPPINGS_BY_FEATURE = {c.feature: c for c in CLIPPINGS}
CLIPPINGS_BY_KERAS = {c.keras: c for c in CLIPPINGS}
# DSL training settings that are one number -> TrainingConfig features
CLIPPING_SETTINGS = {c.setting: c.feature for c in CLIPPINGS}


def clippings_of(config) -> tuple[tuple[Clipping, float], ...]:
    """The clippings a TrainingConfig sets, with their limits, in the order PyTorch applies them."""
    return tuple((c, float(getattr(config, c.feature))) for c in CLIPPINGS if getattr(config, c.feature))


def keras_clipping(clippings) -> tuple[tuple[Clipping, float] | None, list[Clipping]]:
    """The one clipping a Keras optimizer takes of ``clippings`` (the first, as PyTorch applies them), and the
    ones it leaves out."""
    clippings = list(clippings)
    return (clippings[0] if clippings else None), [c for c, _ in clippings[1:]]
# Schedules that advance only once per epoch whatever the source writes
PER_EPOCH_ONLY = frozenset({"ReduceOnPlateau"})
PER_STEP_ONLY = frozenset({"OneCycle"})


# Losses that take label smoothing in each framework (Keras's sparse cross-entropy has none)
TORCH_LABEL_SMOOTHING = frozenset({"cross_entropy", "categorical_cross_entropy"})
KERAS_LABEL_SMOOTHING = frozenset({"categorical_cross_entropy", "binary_cross_entropy"})
# PyTorch's BCE has no label smoothing: generated code smooths the 0/1 targets as Keras does, y * (1 - e) + e / 2
TORCH_TARGET_SMOOTHING = frozenset({"binary_cross_entropy"})


def schedule_rate(schedule, step: str, initial: str) -> str | None:
    """The learning rate after ``step`` intervals as a Python expression of ``step`` and the initial rate
    ``initial`` (both code); None for the schedules that are not a function of the step alone."""
    name = schedule.eClass.name
    if name == "StepDecay":
        return f"{initial} * {literal(schedule.gamma)} ** ({step} // {literal(schedule.stepSize)})"
    if name == "ExponentialDecay":
        exponent = f"{step} {'//' if schedule.staircase else '/'} {literal(schedule.decaySteps)}"
        return f"{initial} * {literal(schedule.decayRate)} ** ({exponent})"
    if name == "CosineDecay":
        minimum, steps = literal(schedule.minimum), literal(schedule.decaySteps)
        return f"{minimum} + ({initial} - {minimum}) * (1 + math.cos(math.pi * min({step}, {steps}) / {steps})) / 2"
    if name == "PiecewiseConstantDecay":
        values, boundaries = literal(tuple(schedule.values)), literal(tuple(schedule.boundaries))
        return f"{values}[sum({step} >= boundary for boundary in {boundaries})]"
    return None


def _multistep_gamma(schedule, initial: float | None) -> float | None:
    """The gamma of MultiStepLR when the piecewise values are ``initial`` multiplied by it at each boundary, as
    MultiStepLR computes them (the shortest spelling that gives the very same floats), else None."""
    values = list(schedule.values)
    if initial is None or len(values) < 2 or values[0] != initial:
        return None
    for digits in (6, 9, 12, 17):
        gamma = float(f"{values[1] / values[0]:.{digits}g}")
        rates = [initial]
        for _ in values[1:]:
            rates.append(rates[-1] * gamma)
        if rates == values:
            return gamma
    return None


def torch_scheduler(schedule, initial: float | None = None) -> tuple[str, list[str]]:
    """The torch.optim.lr_scheduler class of the pivot schedule and its arguments, built on ``optimizer`` with
    the initial rate ``learning_rate`` (generated code's names; ``initial`` is its default value)."""
    name, scheduler = schedule.eClass.name, "torch.optim.lr_scheduler."
    if name == "StepDecay":
        return f"{scheduler}StepLR", [f"step_size={literal(schedule.stepSize)}", f"gamma={literal(schedule.gamma)}"]
    if name == "ExponentialDecay" and schedule.decaySteps == 1:
        return f"{scheduler}ExponentialLR", [f"gamma={literal(schedule.decayRate)}"]
    if name == "ExponentialDecay" and schedule.staircase:
        return f"{scheduler}StepLR", [f"step_size={literal(schedule.decaySteps)}", f"gamma={literal(schedule.decayRate)}"]
    if name == "PiecewiseConstantDecay" and (gamma := _multistep_gamma(schedule, initial)) is not None:
        return f"{scheduler}MultiStepLR", [f"milestones={literal(list(schedule.boundaries))}", f"gamma={literal(gamma)}"]
    if name == "ReduceOnPlateau":
        mode = "rel" if schedule.thresholdMode.name == "relative" else "abs"
        return f"{scheduler}ReduceLROnPlateau", [
            f"factor={literal(schedule.factor)}", f"patience={literal(schedule.patience)}",
            f"threshold={literal(schedule.threshold)}", f"threshold_mode={literal(mode)}",
            f"cooldown={literal(schedule.cooldown)}", f"min_lr={literal(schedule.minimum)}"]
    if name == "OneCycle":
        return f"{scheduler}OneCycleLR", one_cycle_arguments(schedule)
    return f"{scheduler}LambdaLR", [f"lambda step: {lambda_factor(schedule, 'step', 'learning_rate')}"]


# The schedules torch_scheduler may write as a LambdaLR of their closed form (the PyTorch importer reads them back)
LAMBDA_SCHEDULES = ("ExponentialDecay", "CosineDecay", "PiecewiseConstantDecay")


def lambda_factor(schedule, step: str, initial: str) -> str:
    """The body of the LambdaLR lambda of ``step`` generated code writes for ``schedule``: its closed form as a factor
    of the initial rate ``initial`` (LambdaLR multiplies the optimizer's rate by it)."""
    return f"({schedule_rate(schedule, step, initial)}) / {initial}"


def one_cycle_arguments(schedule) -> list[str]:
    """The keyword arguments of a OneCycle schedule, in PyTorch's OneCycleLR's names: OneCycleLR's and the Keras
    schedule TorchOneCycle's (ONE_CYCLE_SCHEDULE) alike."""
    _, arguments = TORCH_SCHEDULERS["OneCycleLR"]
    written = []
    for keyword, feature, _ in arguments:
        if feature is None:
            continue
        value = getattr(schedule, feature)
        value = value.name if hasattr(value, "eEnum") else value   # an enum literal (annealing) by its name
        written.append(f"{keyword}={literal(value)}")
    return written


def keras_schedule(schedule, initial: str) -> str | None:
    """The keras.optimizers.schedules object of a per-step pivot schedule (None: Keras has none); a OneCycle
    schedule is generated code's own ONE_CYCLE_SCHEDULE class."""
    name, schedules = schedule.eClass.name, "keras.optimizers.schedules."
    if name == "OneCycle":
        return f"{ONE_CYCLE_SCHEDULE}({', '.join(one_cycle_arguments(schedule))})"
    if name == "StepDecay":
        return (f"{schedules}ExponentialDecay({initial}, decay_steps={literal(schedule.stepSize)}, "
                f"decay_rate={literal(schedule.gamma)}, staircase=True)")
    if name == "ExponentialDecay":
        return (f"{schedules}ExponentialDecay({initial}, decay_steps={literal(schedule.decaySteps)}, "
                f"decay_rate={literal(schedule.decayRate)}, staircase={literal(bool(schedule.staircase))})")
    if name == "CosineDecay":
        return (f"{schedules}CosineDecay({initial}, decay_steps={literal(schedule.decaySteps)}, "
                f"alpha={literal(schedule.minimum)} / {initial})")
    if name == "PiecewiseConstantDecay":
        # Keras switches after a boundary (step > b), the pivot at it (step >= b)
        boundaries = [b - 1 for b in schedule.boundaries]
        return f"{schedules}PiecewiseConstantDecay({literal(boundaries)}, {literal(list(schedule.values))})"
    return None


# torch.optim.lr_scheduler classes the PyTorch importer reads: the pivot class and, in positional order after
# the optimizer, (torch keyword, pivot feature or None, torch default). A keyword without a feature is read by
# the importer itself (MultiStepLR's gamma, OneCycleLR's epochs) or must keep its default (a warning otherwise).
TORCH_SCHEDULERS = {
    "StepLR": ("StepDecay", (("step_size", "stepSize", None), ("gamma", "gamma", 0.1))),
    "ExponentialLR": ("ExponentialDecay", (("gamma", "decayRate", None),)),
    "CosineAnnealingLR": ("CosineDecay", (("T_max", "decaySteps", None), ("eta_min", "minimum", 0.0))),
    "MultiStepLR": ("PiecewiseConstantDecay", (("milestones", None, None), ("gamma", None, 0.1))),
    "ReduceLROnPlateau": ("ReduceOnPlateau", (
        ("mode", None, "min"), ("factor", "factor", 0.1), ("patience", "patience", 10),
        ("threshold", "threshold", 1e-4), ("threshold_mode", "thresholdMode", "rel"), ("cooldown", "cooldown", 0),
        ("min_lr", "minimum", 0.0), ("eps", None, 1e-8))),
    "OneCycleLR": ("OneCycle", (
        ("max_lr", "maxLearningRate", None), ("total_steps", "totalSteps", None), ("epochs", None, None),
        ("steps_per_epoch", None, None), ("pct_start", "pctStart", 0.3), ("anneal_strategy", "annealing", "cos"),
        ("cycle_momentum", "cycleMomentum", True), ("base_momentum", "baseMomentum", 0.85),
        ("max_momentum", "maxMomentum", 0.95), ("div_factor", "divFactor", 25.0),
        ("final_div_factor", "finalDivFactor", 1e4), ("three_phase", "threePhase", False))),
}
THRESHOLD_MODES = {"rel": "relative", "abs": "absolute"}
# keras.optimizers.schedules classes the Keras importer reads (as the optimizer's learning rate, per step)
KERAS_SCHEDULES = {
    "ExponentialDecay": ("ExponentialDecay", (("initial_learning_rate", None, None), ("decay_steps", "decaySteps", None),
                                              ("decay_rate", "decayRate", None), ("staircase", "staircase", False))),
    "CosineDecay": ("CosineDecay", (("initial_learning_rate", None, None), ("decay_steps", "decaySteps", None),
                                    ("alpha", None, 0.0), ("name", None, None), ("warmup_target", None, None),
                                    ("warmup_steps", None, 0))),
    "PiecewiseConstantDecay": ("PiecewiseConstantDecay", (("boundaries", None, None), ("values", "values", None))),
    # generated code's OneCycleLR: the same keywords
    ONE_CYCLE_SCHEDULE: ("OneCycle", tuple(a for a in TORCH_SCHEDULERS["OneCycleLR"][1] if a[1] is not None)),
}


# --- losses ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Writing:
    """How one target writes a pivot loss for a model with a given ending.

    ``code`` is the loss object's constructor call; ``input`` how the model's outputs
    (``{}``) are passed to it. ``problem`` (and no code) when the target has no exact
    counterpart: the generator reports it where the loss was set.
    """

    code: str | None
    input: str = "{}"
    problem: str = ""


@dataclass(frozen=True)
class Spelling:
    """A framework's way of writing a loss, and how it reads the model's output."""

    name: str       # "nn.CrossEntropyLoss", "F.cross_entropy", "SparseCategoricalCrossentropy", "mse"
    reads: str      # LOGITS / PROBABILITIES / LOG_PROBABILITIES / "values" (regression losses)
    logits_keyword: bool = False  # Keras: from_logits=True switches ``reads`` to logits


VALUES = "values"


def class_axis(rank: int) -> int:
    """The axis of a model output (pivot layout, ``rank`` axes with the batch) holding a class loss's classes:
    the one the output's Keras form has last (kinds.layout keras_boundary), where Keras's losses read them: a
    vector's or an (N, T, C) sequence's last axis, a feature map's channels."""
    return keras_boundary(rank)[-1]


# Keras squeezes or expands labels to the outputs' rank; PyTorch's losses need the shapes they document.
_SAME_SHAPE = "targets.reshape(outputs.shape).to(outputs.dtype)"  # (N,) labels of an (N, 1) output
_CLASS_INDICES = "targets.reshape(outputs.shape[:-1]).long()"    # (N, 1) class indices -> (N,)
_SOFT_TARGETS = "targets.to(outputs.dtype)"


@dataclass(frozen=True)
class LossEntry:
    name: str
    meaning: str
    # how the pivot loss reads the model's output: VALUES, LOG_PROBABILITIES, or the ending that makes the
    # output probabilities (any other ending: logits)
    output: str
    torch_spellings: tuple[Spelling, ...]   # nn classes and F functions the PyTorch importer recognises
    keras_spellings: tuple[Spelling, ...]   # Keras classes and identifiers the Keras importer recognises
    torch_writings: dict[str, Writing]      # ending -> how generated PyTorch code writes it
    keras_writings: dict[str, Writing]      # ending -> how generated Keras code writes it
    # how generated PyTorch code shapes the labels a Keras script feeds (N,) or (N, 1) alike, as Keras does
    torch_targets: str = _SAME_SHAPE

    def torch(self, ending: str) -> Writing:
        return self.torch_writings.get(ending) or self.torch_writings[LOGITS]

    def keras(self, ending: str) -> Writing:
        return self.keras_writings.get(ending) or self.keras_writings[LOGITS]

    def torch_operands(self, ending: str, rank: int) -> tuple[str, str]:
        """How generated PyTorch code gives the loss a model output of ``rank`` axes (batch included) and its
        labels: a format of the output (``{}``) and code of ``targets`` and ``outputs``. A class loss reads
        the classes on the output's ``class_axis``, PyTorch's on dim 1: a sequence's (N, T, C) output goes in
        as (N, C, T), its one-hot labels too; a feature map's classes are already on dim 1, its class indices
        are the map without that axis."""
        given, targets = self.torch(ending).input, self.torch_targets
        if self.output in (VALUES, BINARY_PROBABILITIES) or rank <= 2:
            return given, targets
        axis = class_axis(rank)
        if axis == rank - 1:
            return f"{given}.movedim(-1, 1)", targets + (".movedim(-1, 1)" if targets == _SOFT_TARGETS else "")
        if targets == _CLASS_INDICES:
            targets = f"targets.reshape(outputs.shape[:{axis}] + outputs.shape[{axis + 1}:]).long()"
        return given, targets

    def reads(self, ending: str) -> str:
        """How this pivot loss reads the output of a model with ``ending``."""
        if self.output in (VALUES, LOG_PROBABILITIES):
            return self.output
        return PROBABILITIES if ending == self.output else LOGITS


def _everywhere(writing: Writing) -> dict[str, Writing]:
    return {LOGITS: writing}


_TORCH_CROSS_ENTROPY = {LOGITS: Writing("nn.CrossEntropyLoss()"),
                        # Keras's fit takes a softmax output's logits (its graph keeps them); log(p) is those
                        # logits up to a constant wherever float32 holds p, and the clamp at about float32's
                        # smallest normal number keeps an underflowed p (a logit gap over ~87) finite instead
                        # of log(0) = -inf
                        PROBABILITIES: Writing("nn.CrossEntropyLoss()", "torch.log({}.clamp_min(1e-38))")}
_KERAS_NLL_PROBLEM = ("nll reads log-probabilities and Keras has no negative log-likelihood loss: end the model in "
                      "log_softmax (its Keras form is sparse categorical cross-entropy from logits) or use "
                      "cross_entropy")

LOSSES: dict[str, LossEntry] = {entry.name: entry for entry in (
    LossEntry(
        "cross_entropy", "categorical cross-entropy against class indices", PROBABILITIES,
        (Spelling("nn.CrossEntropyLoss", LOGITS), Spelling("F.cross_entropy", LOGITS)),
        (Spelling("SparseCategoricalCrossentropy", PROBABILITIES, True),
         Spelling("sparse_categorical_crossentropy", PROBABILITIES, True)),
        _TORCH_CROSS_ENTROPY,
        {LOGITS: Writing("keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
         PROBABILITIES: Writing("keras.losses.SparseCategoricalCrossentropy()")}, _CLASS_INDICES),
    LossEntry(
        # PyTorch writes it as CrossEntropyLoss with probability targets, which reads back as cross_entropy
        "categorical_cross_entropy", "categorical cross-entropy against one-hot or soft targets", PROBABILITIES,
        (),
        (Spelling("CategoricalCrossentropy", PROBABILITIES, True),
         Spelling("categorical_crossentropy", PROBABILITIES, True)),
        _TORCH_CROSS_ENTROPY,
        {LOGITS: Writing("keras.losses.CategoricalCrossentropy(from_logits=True)"),
         PROBABILITIES: Writing("keras.losses.CategoricalCrossentropy()")}, _SOFT_TARGETS),
    LossEntry(
        "binary_cross_entropy", "binary cross-entropy against 0/1 targets", BINARY_PROBABILITIES,
        (Spelling("nn.BCELoss", PROBABILITIES), Spelling("F.binary_cross_entropy", PROBABILITIES),
         Spelling("nn.BCEWithLogitsLoss", LOGITS), Spelling("F.binary_cross_entropy_with_logits", LOGITS)),
        (Spelling("BinaryCrossentropy", PROBABILITIES, True), Spelling("binary_crossentropy", PROBABILITIES, True)),
        {LOGITS: Writing("nn.BCEWithLogitsLoss()"), BINARY_PROBABILITIES: Writing("nn.BCELoss()")},
        {LOGITS: Writing("keras.losses.BinaryCrossentropy(from_logits=True)"),
         BINARY_PROBABILITIES: Writing("keras.losses.BinaryCrossentropy()")}),
    LossEntry(
        "nll", "negative log-likelihood of class indices under log-probabilities", LOG_PROBABILITIES,
        (Spelling("nn.NLLLoss", LOG_PROBABILITIES), Spelling("F.nll_loss", LOG_PROBABILITIES)),
        (),  # Keras has no NLL loss: on log-probabilities it is sparse cross-entropy from logits (logsumexp = 0)
        _everywhere(Writing("nn.NLLLoss()")),
        {LOGITS: Writing(None, problem=_KERAS_NLL_PROBLEM),
         LOG_PROBABILITIES: Writing("keras.losses.SparseCategoricalCrossentropy(from_logits=True)")}, _CLASS_INDICES),
    LossEntry(
        "mse", "mean squared error", VALUES,
        (Spelling("nn.MSELoss", VALUES), Spelling("F.mse_loss", VALUES)),
        (Spelling("MeanSquaredError", VALUES), Spelling("mean_squared_error", VALUES), Spelling("mse", VALUES)),
        _everywhere(Writing("nn.MSELoss()")), _everywhere(Writing("keras.losses.MeanSquaredError()"))),
    LossEntry(
        "mae", "mean absolute error", VALUES,
        (Spelling("nn.L1Loss", VALUES), Spelling("F.l1_loss", VALUES)),
        (Spelling("MeanAbsoluteError", VALUES), Spelling("mean_absolute_error", VALUES), Spelling("mae", VALUES)),
        _everywhere(Writing("nn.L1Loss()")), _everywhere(Writing("keras.losses.MeanAbsoluteError()"))),
    LossEntry(
        "huber", "Huber loss with delta 1", VALUES,
        (Spelling("nn.HuberLoss", VALUES), Spelling("F.huber_loss", VALUES)),
        (Spelling("Huber", VALUES), Spelling("huber", VALUES)),
        _everywhere(Writing("nn.HuberLoss()")), _everywhere(Writing("keras.losses.Huber()"))),
)}

# Loss arguments the pivot does not hold, with the value that changes nothing: an importer carries on
# silently when the source writes that value and warns (the argument is left out) otherwise.
TORCH_LOSS_NEUTRAL = {"reduction": "mean", "label_smoothing": 0.0, "delta": 1.0, "ignore_index": -100,
                      "weight": None, "pos_weight": None}
KERAS_LOSS_NEUTRAL = {"reduction": "sum_over_batch_size", "label_smoothing": 0.0, "delta": 1.0, "axis": -1,
                      "ignore_class": None}
KERAS_LOSS_IGNORED = frozenset({"name", "dtype", "from_logits"})  # from_logits: read by the importer itself

LOSSES_BY_TORCH_SPELLING: dict[str, tuple[LossEntry, Spelling]] = {
    s.name: (e, s) for e in LOSSES.values() for s in e.torch_spellings}
# Keras spellings are matched without case or underscores: "SparseCategoricalCrossentropy" and
# "sparse_categorical_crossentropy" are one key.
LOSSES_BY_KERAS_SPELLING: dict[str, tuple[LossEntry, Spelling]] = {
    s.name.lower().replace("_", ""): (e, s) for e in LOSSES.values() for s in e.keras_spellings}


def keras_loss(spelling: str) -> tuple[LossEntry, Spelling] | None:
    return LOSSES_BY_KERAS_SPELLING.get(spelling.lower().replace("_", ""))


def mismatch(entry: LossEntry, spelling: Spelling, ending: str, from_logits: bool = False) -> str:
    """Why ``spelling`` is not exactly the pivot ``entry`` on a model with ``ending`` ("" when it is)."""
    reads = LOGITS if spelling.logits_keyword and from_logits else spelling.reads
    pivot = entry.reads(ending)
    if reads == pivot or VALUES in (reads, pivot):
        return ""
    # cross-entropy of log-probabilities taken as logits is their negative log-likelihood, exactly
    if ending == LOG_PROBABILITIES and {reads, pivot} <= {LOGITS, LOG_PROBABILITIES}:
        return ""
    output = {PROBABILITIES: "probabilities", BINARY_PROBABILITIES: "probabilities",
              LOG_PROBABILITIES: "log-probabilities"}.get(ending, "logits")
    takes = {PROBABILITIES: "probabilities", LOG_PROBABILITIES: "log-probabilities"}.get(reads, "logits")
    return (f"{spelling.name} takes {takes} but the model outputs {output}: the pivot loss '{entry.name}' "
            "reads the output as what it is")


# --- metrics ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricEntry:
    name: str
    keras: str                        # what generated Keras code passes in metrics=[...]
    keras_spellings: tuple[str, ...]  # Keras classes and identifiers read back as this metric
    torch: str | None                 # what one batch adds to the running sum in generated PyTorch code


# PyTorch accuracy depends on the targets: class indices, one-hot rows, or 0/1 values.
TORCH_ACCURACY = {
    "sparse": "(outputs.argmax(dim=1) == targets).sum().item()",
    "categorical": "(outputs.argmax(1) == targets.argmax(1)).sum().item()",
    "binary": "((outputs > 0.5).float() == targets).sum().item()",
    # a sigmoid-free binary model outputs logits: their sign is the class
    "binary_logits": "((outputs > 0).float() == targets).sum().item()",
}

METRICS: dict[str, MetricEntry] = {entry.name: entry for entry in (
    MetricEntry("accuracy", "accuracy",
                ("accuracy", "acc", "SparseCategoricalAccuracy", "sparse_categorical_accuracy",
                 "CategoricalAccuracy", "categorical_accuracy", "BinaryAccuracy", "binary_accuracy"),
                TORCH_ACCURACY["sparse"]),
    MetricEntry("mse", "mse", ("mse", "mean_squared_error", "MeanSquaredError"),
                "((outputs - targets) ** 2).mean().item() * len(targets)"),
    MetricEntry("mae", "mae", ("mae", "mean_absolute_error", "MeanAbsoluteError"),
                "(outputs - targets).abs().mean().item() * len(targets)"),
    MetricEntry("precision", "precision", ("precision", "Precision"), None),
    MetricEntry("recall", "recall", ("recall", "Recall"), None),
    MetricEntry("auc", "auc", ("auc", "AUC"), None),
)}

METRICS_BY_KERAS_SPELLING: dict[str, MetricEntry] = {
    s.lower().replace("_", ""): e for e in METRICS.values() for s in e.keras_spellings}


def keras_metric(spelling: str) -> MetricEntry | None:
    return METRICS_BY_KERAS_SPELLING.get(spelling.lower().replace("_", ""))


def torch_accuracy(loss: str, ending: str, binary_output: bool, rank: int = 2) -> str:
    """The accuracy increment that fits the loss's targets and the model's output (of ``rank`` axes with the
    batch). Of an output with more than one value per sample and class (an (N, T, C) sequence), the share of
    right values per sample, as Keras's accuracy averages over them: classes read on the output's class_axis,
    one-hot targets on dim 1 (torch_operands puts them there)."""
    if rank > 2 and loss != "binary_cross_entropy" and not binary_output:
        axis = class_axis(rank)
        given = f"outputs.argmax(dim={-1 if axis == rank - 1 else axis})"
        wanted = "targets.argmax(dim=1)" if loss == "categorical_cross_entropy" else "targets"
        return f"({given} == {wanted}).float().flatten(1).mean(1).sum().item()"
    if loss == "binary_cross_entropy" or binary_output:
        return TORCH_ACCURACY["binary" if ending == BINARY_PROBABILITIES or loss != "binary_cross_entropy"
                              else "binary_logits"]
    return TORCH_ACCURACY["categorical" if loss == "categorical_cross_entropy" else "sparse"]


# --- reading a training configuration ------------------------------------------------------------

@dataclass(frozen=True)
class TrainingSettings:
    """A pivot TrainingConfig resolved against the vocabulary: what a training step needs (``nnpivot verify
    --train``). ``parameters`` holds the optimizer parameters the configuration sets (pivot names)."""

    optimizer: OptimizerEntry
    learning_rate: float
    parameters: dict[str, float]
    loss: LossEntry
    batch_size: int
    rule: str = ""                  # whose update rule, where it matters (rule_of): the runners pick the class
    schedule: object = None         # the pivot LearningRateSchedule when it changes the rate per step, else None
    clipping_rule: str = RULE_PYTORCH   # whose norm clipping (clipping_rule)
    # pivot paths of the recurrent layers whose one Keras bias takes twice its step (PyTorch's two biases)
    two_bias_layers: tuple[str, ...] = ()
    clippings: tuple[tuple[Clipping, float], ...] = ()   # clippings_of the configuration

    @property
    def clip_norm(self) -> float:
        """The limit of the norm of all gradients together (0: not clipped so)."""
        return next((limit for c, limit in self.clippings if c.feature == "clipNorm"), 0.0)

    def torch_clipping(self) -> list[str]:
        """The statements PyTorch code clips the gradients of ``model`` with, as generated code writes them."""
        return [line for clipping, limit in self.clippings for line in clipping.torch_lines(limit, self.clipping_rule)]

    def keras_clipping(self) -> dict:
        """The keras.optimizers clipping keyword (Keras takes one: the first of ``clippings``)."""
        kept = keras_clipping(self.clippings)[0]
        return {kept[0].keras: kept[1]} if kept else {}

    def torch_keywords(self) -> dict:
        """The torch.optim keywords of the set parameters (a tuple keyword such as betas completed with the
        PyTorch defaults), without ``lr``."""
        keywords: dict = {}
        for name, value in self.parameters.items():
            parameter = self.optimizer.parameter(name)
            if parameter is None:
                continue
            if parameter.torch_index is None:
                keywords[parameter.torch] = parameter.torch_value(value)
            elif parameter.torch not in keywords:
                keywords[parameter.torch] = tuple(
                    p.torch_value(self.parameters.get(p.name, p.torch_default))
                    for p in self.optimizer.torch_tuple(parameter.torch))
        return keywords

    def keras_keywords(self) -> dict:
        """The keras.optimizers keywords of the set parameters, without ``learning_rate``."""
        return {p.keras: p.keras_value(value) for name, value in self.parameters.items()
                if (p := self.optimizer.parameter(name)) is not None}

    def unknown_parameters(self) -> list[str]:
        return [name for name in self.parameters if self.optimizer.parameter(name) is None]

    def describe(self) -> str:
        values = [f"learning_rate={self.learning_rate:g}", *(f"{k}={v:g}" for k, v in self.parameters.items())]
        if self.rule:
            values.append(f"rule={self.rule}")
        clipped = "".join(f", {c.setting} {limit:g}" for c, limit in self.clippings)
        described = f"{self.optimizer.name}({', '.join(values)}), loss {self.loss.name}{clipped}"
        return described + (f", schedule {describe_schedule(self.schedule)}" if self.schedule is not None else "")


def describe_schedule(schedule) -> str:
    """``one_cycle(max_learning_rate=0.1, total_steps=20, ...)``: the schedule and all its features."""
    values = []
    for feature in schedule.eClass.eAllStructuralFeatures():
        if feature.name == "interval" and schedule.eClass.name in PER_STEP_ONLY:
            continue
        value = getattr(schedule, feature.name)
        value = value.name if hasattr(value, "eEnum") else list(value) if feature.many else value
        values.append(f"{snake(feature.name)}={value}")
    return f"{snake(schedule.eClass.name)}({', '.join(values)})"


def per_step_schedule(schedule):
    """``schedule`` when it changes the learning rate at optimizer steps (the rest change it per epoch or on a
    plateau), else None."""
    if schedule is None or schedule.eClass.name in PER_EPOCH_ONLY:
        return None
    return schedule if schedule.eClass.name in PER_STEP_ONLY or schedule.interval.name == "step" else None


# How a loss wants its labels, for data made up to train with it (``label_format``).
CLASS_INDICES, ONE_HOT, BINARY, TARGET_VALUES = "class indices", "one-hot rows", "0/1 values", "values"


def label_format(entry: LossEntry) -> str:
    """What a loss compares the model's output with: CLASS_INDICES (labels without the class axis), ONE_HOT,
    BINARY (the output's shape) or TARGET_VALUES (the output's shape)."""
    if entry.output == VALUES:
        return TARGET_VALUES
    if entry.output == BINARY_PROBABILITIES:
        return BINARY
    return ONE_HOT if entry.torch_targets == _SOFT_TARGETS else CLASS_INDICES

# What ``nnpivot verify --train`` trains with when neither file sets a training configuration: there is no
# setting to carry over, so the check takes an update rule PyTorch and Keras share exactly (SGD with momentum;
# Keras's Adam adds epsilon before the bias correction, PyTorch's after it), and measures the models alone.
CHECK_OPTIMIZER, CHECK_LEARNING_RATE, CHECK_PARAMETERS = "sgd", 0.01, {"momentum": 0.9}


def training_settings(config) -> TrainingSettings | None:
    """The settings of a pivot TrainingConfig (None when the optimizer or loss is not in the vocabulary);
    without a configuration, the check's (CHECK_OPTIMIZER) with the default loss."""
    if config is None:
        return TrainingSettings(OPTIMIZERS[CHECK_OPTIMIZER], CHECK_LEARNING_RATE, dict(CHECK_PARAMETERS),
                                LOSSES[DEFAULT_LOSS], 32)
    optimizer = config.optimizer
    entry = OPTIMIZERS.get(optimizer.kind if optimizer is not None else DEFAULT_OPTIMIZER)
    loss = LOSSES.get(config.loss or DEFAULT_LOSS)
    if entry is None or loss is None:
        return None
    learning_rate = optimizer.learningRate if optimizer is not None else DEFAULT_LEARNING_RATE
    parameters = {p.key: p.value for p in optimizer.parameters} if optimizer is not None else {}
    rule = rule_of(optimizer) if optimizer is not None else ""
    schedule = per_step_schedule(config.schedule)
    if schedule is not None and schedule.eClass.name == "OneCycle":
        # OneCycleLR sets every step's rate, the optimizer's own is never used: the first step's stands for it
        learning_rate = schedule.maxLearningRate / schedule.divFactor
    return TrainingSettings(entry, learning_rate, parameters, loss, config.batchSize, rule, schedule,
                            clipping_rule=clipping_rule(config), clippings=clippings_of(config))


# --- documentation ---------------------------------------------------------------------------------

README_START, README_END = "<!-- training:start -->", "<!-- training:end -->"


def _ending_label(ending: str, count: int) -> str:
    return "any output" if count == 1 else ending.replace("binary_", "").replace("_", "-")


def _writing_text(writing: Writing) -> str:
    if writing.code is None:
        return "refused (error)"
    return f"`{writing.code}`" + (f" of `{writing.input.format('outputs')}`" if writing.input != "{}" else "")


def markdown_table() -> str:
    """The README's tables of the vocabulary (kept fresh by a test)."""
    lines = ["| optimizer | PyTorch | Keras | parameters (PyTorch / Keras keyword, default) |", "|---|---|---|---|"]
    for entry in OPTIMIZERS.values():
        rates = f"lr {entry.torch_learning_rate:g} / learning_rate {entry.keras_learning_rate:g}"
        parameters = [f"`learning_rate` ({rates})"]
        for p in entry.parameters:
            torch_name = f"{p.torch}[{p.torch_index}]" if p.torch_index is not None else p.torch
            parameters.append(f"`{p.name}` ({torch_name} {p.torch_default} / {p.keras} {p.keras_default})")
        lines.append(f"| `{entry.name}` | `{entry.torch_class}` | `{entry.keras_class}` | {'; '.join(parameters)} |")
    lines += ["", "| loss | meaning | PyTorch (read) | Keras (read) | written, by what the model outputs |",
              "|---|---|---|---|---|"]
    for entry in LOSSES.values():
        torch_names = ", ".join(f"`{s.name}`" for s in entry.torch_spellings) or "(as cross_entropy)"
        keras_names = ", ".join(f"`{s.name}`" for s in entry.keras_spellings) or "(none)"
        written = []
        for ending, writings in (("PyTorch", entry.torch_writings), ("Keras", entry.keras_writings)):
            forms = [f"{_ending_label(e, len(writings))}: " + _writing_text(w) for e, w in writings.items()]
            written.append(f"{ending} {'; '.join(forms)}")
        lines.append(f"| `{entry.name}` | {entry.meaning} | {torch_names} | {keras_names} | {'<br>'.join(written)} |")
    lines += ["", "| schedule (`.nn`) | PyTorch read | PyTorch written | Keras (read and written) |",
              "|---|---|---|---|"]
    torch_written = {"StepDecay": "`StepLR`", "ExponentialDecay": "`ExponentialLR` (decay_steps 1), `StepLR` "
                     "(staircase), else `LambdaLR`", "CosineDecay": "`LambdaLR` (stays at the minimum after T_max)",
                     "PiecewiseConstantDecay": "`LambdaLR`", "ReduceOnPlateau": "`ReduceLROnPlateau`",
                     "OneCycle": "`OneCycleLR`"}
    keras_forms = {"StepDecay": "`ExponentialDecay(staircase=True)` per step, `LearningRateScheduler` per epoch",
                   "ExponentialDecay": "`ExponentialDecay` per step, `LearningRateScheduler` per epoch",
                   "CosineDecay": "`CosineDecay` per step, `LearningRateScheduler` per epoch",
                   "PiecewiseConstantDecay": "`PiecewiseConstantDecay` (boundaries - 1) per step, "
                                             "`LearningRateScheduler` per epoch",
                   "ReduceOnPlateau": "`callbacks.ReduceLROnPlateau` (patience + 1; min_delta is absolute)",
                   "OneCycle": f"`{ONE_CYCLE_SCHEDULE}` (generated LearningRateSchedule); SGD, Adam and AdamW as "
                               f"`{ONE_CYCLE_PREFIX}SGD`... cycling the momentum / beta_1 (other optimizers: "
                               "warning)"}
    for name in SCHEDULE_CLASSES:
        torch_names = ", ".join(f"`{t}`" for t, (pivot, _) in TORCH_SCHEDULERS.items() if pivot == name)
        torch_names += ", the generated `LambdaLR`" if name in LAMBDA_SCHEDULES else ""
        lines.append(f"| `{snake(name)}` | {torch_names} | {torch_written[name]} | {keras_forms[name]} |")
    lines += ["", "| metric | Keras (read) | PyTorch training function |", "|---|---|---|"]
    for entry in METRICS.values():
        torch_form = "running sum" if entry.torch else "left out (warning)"
        lines.append(f"| `{entry.name}` | {', '.join(f'`{s}`' for s in entry.keras_spellings)} | {torch_form} |")
    return "\n".join(lines) + "\n"
