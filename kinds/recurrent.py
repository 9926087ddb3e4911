"""Recurrent layers: simple RNN, LSTM, GRU (stacked and/or bidirectional)."""
from __future__ import annotations

from nnpivot.metamodel import is_kind
from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import Arg as KerasArg
from .keras_mapping import KerasMapping, Weights, gate_blocks, states_used, tuple_or_int
from .pysyntax import literal
from .spec import SEQ, ex, keras, kind, pytorch
from .torch_mapping import HELPERS, Arg, TorchMapping


def _recurrent_shape(node, shapes):
    """The layer's outputs; initial states, when given, are (num_layers * directions, N, H) each, as the
    final states the layer returns (an encoder's states start a decoder as they are)."""
    states = shapes[1:]
    if states and len(states) != (2 if node.eClass.name == "LSTM" else 1):
        raise S.ShapeError(f"takes the sequence, then {'h0 and c0' if node.eClass.name == 'LSTM' else 'h0'} or "
                           f"no initial state, got {len(states)} initial state(s)")
    outputs = S.recurrent(node, shapes[:1])
    expected = outputs[1]
    for state in states:
        if len(state) != 3 or any(a is not None and b is not None and a != b for a, b in zip(state, expected)):
            raise S.ShapeError(f"initial states must be (num_layers * directions, N, hidden) = {S.fmt(expected)}, "
                               f"got {S.fmt(state)}")
    return outputs


for keyword, name in (("simple_rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")):
    kind(keyword, name, _recurrent_shape, f"{name} recurrent layer, stacked and/or bidirectional, from zero or "
         "given initial states.",
         [ex(f"{keyword}(x, 8)", SEQ), ex(f"{keyword}(x, 6, return_sequences=false)", SEQ),
          ex(f"{keyword}(x, 5, num_layers=2, bidirectional=true)", SEQ)]
         + ([ex("simple_rnn(x, 4, nonlinearity=relu, bias=false)", SEQ)] if name == "SimpleRNN" else []),
         positional=("hiddenSize",), required=("hiddenSize",), arity=(1, 3 if name == "LSTM" else 2),
         output_count=3 if name == "LSTM" else 2)  # sequence, hidden states (, cell states)




def _lstm_cell_shape(node, shapes):
    x = shapes[0]
    if len(x) != 2 or len(shapes) == 2:
        raise S.ShapeError(f"takes x (N, features), then h and c or no state, got {len(shapes)} inputs, x {S.fmt(x)}")
    state = (x[0], node.hiddenSize)
    if any(len(s) != 2 or s[1] not in (None, node.hiddenSize) for s in shapes[1:]):
        raise S.ShapeError(f"states must be (N, {node.hiddenSize}), got {', '.join(S.fmt(s) for s in shapes[1:])}")
    return [state, state]


kind("lstm_cell", "LSTMCell", _lstm_cell_shape, "One LSTM step, (x, h, c) to the next (h, c); zero states when "
     "only x is given (loops over time steps).",
     [ex("lstm_cell(x, 6)", ("x: float32[5]",)),
      ex("lstm_cell(x, h, c, 4, bias=false)", ("x: float32[5]", "h: float32[4]", "c: float32[4]"))],
     positional=("hiddenSize",), required=("hiddenSize",), arity=(1, 3), output_count=2)  # next h, next c


def _gru_cell_shape(node, shapes):
    x = shapes[0]
    if len(x) != 2:
        raise S.ShapeError(f"takes x (N, features), then h or no state, got x {S.fmt(x)}")
    if any(len(s) != 2 or s[1] not in (None, node.hiddenSize) for s in shapes[1:]):
        raise S.ShapeError(f"the state must be (N, {node.hiddenSize}), got {S.fmt(shapes[1])}")
    return [(x[0], node.hiddenSize)]


kind("gru_cell", "GRUCell", _gru_cell_shape, "One GRU step, (x, h) to the next h; a zero state when only x is "
     "given (loops over time steps).",
     [ex("gru_cell(x, 6)", ("x: float32[5]",)),
      ex("gru_cell(x, h, 4, bias=false)", ("x: float32[5]", "h: float32[4]"))],
     positional=("hiddenSize",), required=("hiddenSize",), arity=(1, 2))


# --- PyTorch ---------------------------------------------------------------------------------

# Recurrent layers. PyTorch returns (sequence, h_n) or (sequence, (h_n, c_n)); the pivot's output 0
# is the last step when return_sequences is false: the last layer's final hidden state, both
# directions concatenated (what Keras returns), which is h_n[-1] or cat(h_n[-2], h_n[-1]).
def _recurrent_statements(site):
    node = site.node
    lstm = node.eClass.name == "LSTM"
    names = list(site.outputs)
    states = site.inputs[1:]
    initial = (f", ({states[0]}, {states[1]})" if lstm else f", {states[0]}") if states else ""
    call = f"{site.module}({site.x}{initial})"
    if node.returnSequences:
        states = ", ".join(names[1:])
        if all(n == "_" for n in names[1:]):
            return [f"{names[0]}, _ = {call}"]
        return [f"{names[0]}, ({states}) = {call}" if lstm else f"{names[0]}, {states} = {call}"]
    # h_n unread: the node's own variable holds it until it holds the last step (a name made up here could be
    # another node's variable)
    hidden = names[1] if names[1] != "_" else names[0]
    states = f"({hidden}, {names[2]})" if lstm else hidden
    last = (f"torch.cat(({hidden}[-2], {hidden}[-1]), dim=1)" if node.bidirectional else f"{hidden}[-1]")
    if names[0] == "_":   # only the states are read (an encoder's)
        return [f"_, {states} = {call}"]
    return [f"_, {states} = {call}", f"{names[0]} = {last}"]


def _recurrent_parameters(gates: int):
    def parameters(site):
        node = site.node
        hidden, directions = node.hiddenSize, 2 if node.bidirectional else 1
        shapes = {}
        for layer in range(node.numLayers):
            features = site.shape[2] if layer == 0 else hidden * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes[f"weight_ih_l{layer}{suffix}"] = (gates * hidden, features)
                shapes[f"weight_hh_l{layer}{suffix}"] = (gates * hidden, hidden)
                if node.bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gates * hidden,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gates * hidden,)
        return shapes
    return parameters



_bias = Arg("bias", "bias", True)


def _one_bias(site) -> list[str]:
    """A layer that trains one bias (a Keras source's): Keras's one bias is PyTorch's bias_ih + bias_hh, and two
    trained biases would each receive the whole gradient (the sum moving twice as far per step), so bias_hh stays
    at zero and frozen. The parameters stay, so the state_dict keeps its keys and loads strictly."""
    if not (site.node.oneBias and site.node.bias):
        return []
    return ["# Keras trains one bias per recurrent layer: bias_hh stays zero and frozen so training moves as Keras's",
            *one_bias_freeze(site.module)]


def one_bias_freeze(module: str) -> list[str]:
    """The loop that zeroes and freezes ``module``'s bias_hh; the PyTorch importer reads this form back as oneBias."""
    return [f"for name, parameter in {module}.named_parameters():",
            "    if name.startswith(\"bias_hh\"):",
            "        nn.init.zeros_(parameter)",
            "        parameter.requires_grad_(False)"]

for keyword, cls, gates in (("simple_rnn", "nn.RNN", 1), ("lstm", "nn.LSTM", 4), ("gru", "nn.GRU", 3)):
    extra = (Arg("nonlinearity", "nonlinearity", "tanh"),) if keyword == "simple_rnn" else ()
    pytorch(keyword, TorchMapping(
        cls,
        (Arg("input_size", derive=lambda site: site.shape[2], positional=True),
         Arg("hidden_size", "hiddenSize", positional=True), Arg("num_layers", "numLayers", 1), *extra, _bias,
         Arg("batch_first", "batchFirst", False), Arg("dropout", "dropout", 0.0),
         Arg("bidirectional", "bidirectional", False)),
        statements=_recurrent_statements, parameters=_recurrent_parameters(gates), after_init=_one_bias,
        unsupported=(lambda site: None if site.attr("resetAfter") else "GRU with reset_after=false (PyTorch "
                     "applies the reset gate after the recurrent product)") if keyword == "gru" else None))


def _lstm_cell_statements(site):
    states = f", ({site.inputs[1]}, {site.inputs[2]})" if len(site.inputs) == 3 else ""
    return [f"{site.outputs[0]}, {site.outputs[1]} = {site.module}({site.x}{states})"]


def _cell_parameters(gates: int):
    def parameters(site):
        hidden = site.node.hiddenSize
        shapes = {"weight_ih": (gates * hidden, site.shape[1]), "weight_hh": (gates * hidden, hidden)}
        return shapes | ({"bias_ih": (gates * hidden,), "bias_hh": (gates * hidden,)} if site.node.bias else {})
    return parameters


_CELL_ARGS = (Arg("input_size", derive=lambda site: site.shape[1], positional=True),
              Arg("hidden_size", "hiddenSize", positional=True), _bias)
pytorch("lstm_cell", TorchMapping("nn.LSTMCell", _CELL_ARGS, statements=_lstm_cell_statements,
                                  parameters=_cell_parameters(4)))
pytorch("gru_cell", TorchMapping("nn.GRUCell", _CELL_ARGS, parameters=_cell_parameters(3)))


# --- Keras -----------------------------------------------------------------------------------

# Keras has no stacked recurrent layer: the code holds one layer per stacked layer, so their number is bounded.
MAX_STACKED_LAYERS = 1000


def emit_recurrent(ctx):
    node, x = ctx.node, ctx.x
    directions = 2 if node.bidirectional else 1
    per_direction = 2 if is_kind(node, "LSTM") else 1
    sequence_perm = (1, 0, 2) if node.returnSequences and not node.batchFirst else L.identity(
        3 if node.returnSequences else 2)
    if node.numLayers > MAX_STACKED_LAYERS:
        ctx.fail(f"num_layers={node.numLayers}: the Keras code stacks one layer per recurrent layer, at most "
                 f"{MAX_STACKED_LAYERS}")
        return [sequence_perm] + [L.identity(3)] * per_direction
    want_states = any(states_used(ctx))
    cls = ctx.mapping.layer
    sequence = x.expr
    finals: list[list[str]] = [[] for _ in range(per_direction)]  # h (and c) of every layer and direction
    for index in range(node.numLayers):
        last = index == node.numLayers - 1
        suffix = "" if node.numLayers == 1 else f"_l{index}"
        if index and node.dropout:
            dropper = ctx.layer("layers.Dropout", [literal(node.dropout)], suffix=f"_drop{index}")
            ctx.graph.line(f"{sequence} = {dropper}({sequence})")
        computed = {"return_sequences": node.returnSequences or not last, "return_state": want_states}
        if directions == 2:
            inner = ", ".join(ctx.kwargs(**computed))
            layer = ctx.layer("layers.Bidirectional", [f"{cls}({inner})"], suffix=suffix)
        else:
            layer = ctx.layer(cls, ctx.kwargs(**computed), suffix=suffix)
        # The pivot's initial states are PyTorch's (layers * directions, N, H); Keras takes this layer's
        # [h, c] per direction, forward first.
        initial = [f"{state.expr}[{index * directions + direction}]" for direction in range(directions)
                   for state in ctx.inputs[1:]]
        call = f"{layer}({sequence}, initial_state=[{', '.join(initial)}])" if initial else f"{layer}({sequence})"
        output = ctx.var if last else ctx.graph.fresh(f"{node.name}_l{index}")
        targets = [output]
        if want_states:
            for direction in ("", "_reverse")[:directions]:
                for slot, letter in enumerate("hc"[:per_direction]):
                    state = ctx.graph.fresh(f"{node.name}_{letter}{index}{direction}")
                    finals[slot].append(state)
                    targets.append(state)
        ctx.assign(call, targets)
        sequence = output
    for slot, used in enumerate(states_used(ctx)):
        if used:
            # PyTorch's h_n / c_n: (num_layers * directions, N, H), layer-major then direction.
            ctx.graph.line(f"{ctx.out_vars[slot + 1]} = ops.stack([{', '.join(finals[slot])}], axis=0)")
    return [sequence_perm] + [L.identity(3)] * per_direction


GRU_ORDER = (1, 0, 2)  # PyTorch (r, z, n) <-> Keras (z, r, h): the same swap both ways



def _is_gru(node) -> bool:
    return is_kind(node, "GRU") or is_kind(node, "GRUCell")


def _reset_after(node) -> bool:
    return node.resetAfter if is_kind(node, "GRU") else True   # a GRU cell always applies it after


def _rnn_cell_to_keras(np, node, params, suffix):
    """One layer and direction of a recurrent node; ``suffix`` is its PyTorch suffix (``_l0_reverse``)."""
    hidden = node.hiddenSize
    w_ih, w_hh = params[f"weight_ih{suffix}"], params[f"weight_hh{suffix}"]
    kernel, recurrent = w_ih.T, w_hh.T
    b_ih = params.get(f"bias_ih{suffix}")
    b_hh = params.get(f"bias_hh{suffix}")
    if _is_gru(node):
        kernel = gate_blocks(np, kernel, GRU_ORDER, hidden, 1)
        recurrent = gate_blocks(np, recurrent, GRU_ORDER, hidden, 1)
        if not node.bias:
            return [kernel, recurrent]
        b_ih, b_hh = gate_blocks(np, b_ih, GRU_ORDER, hidden), gate_blocks(np, b_hh, GRU_ORDER, hidden)
        if _reset_after(node):
            return [kernel, recurrent, np.stack([b_ih, b_hh])]
        return [kernel, recurrent, b_ih + b_hh]
    return [kernel, recurrent] + ([b_ih + b_hh] if node.bias else [])


def _rnn_cell_from_keras(np, node, arrays, suffix):
    hidden = node.hiddenSize
    kernel, recurrent = arrays[0], arrays[1]
    is_gru = _is_gru(node)
    if is_gru:
        kernel = gate_blocks(np, kernel, GRU_ORDER, hidden, 1)
        recurrent = gate_blocks(np, recurrent, GRU_ORDER, hidden, 1)
    out = {f"weight_ih{suffix}": kernel.T, f"weight_hh{suffix}": recurrent.T}
    if node.bias:
        bias = arrays[2]
        if is_gru and _reset_after(node):
            b_ih, b_hh = gate_blocks(np, bias[0], GRU_ORDER, hidden), gate_blocks(np, bias[1], GRU_ORDER, hidden)
        else:
            # Keras has one bias: all of it goes to b_ih, b_hh is zero.
            b_ih = gate_blocks(np, bias, GRU_ORDER, hidden) if is_gru else bias
            b_hh = np.zeros_like(b_ih)
        out[f"bias_ih{suffix}"], out[f"bias_hh{suffix}"] = b_ih, b_hh
    return out


# One Keras cell per layer and direction: the converter's info is the PyTorch suffix.
_RNN_WEIGHTS = Weights(_rnn_cell_to_keras, _rnn_cell_from_keras)
RNN_ARGS = (KerasArg("units", "hiddenSize", positional=True),
            KerasArg("activation", "nonlinearity", default="tanh"),
            KerasArg("use_bias", "bias", default=True),
            KerasArg("return_sequences", "returnSequences", default=False),
            KerasArg("return_state", default=False),
            KerasArg("reset_after", "resetAfter", default=True))

# Keras arguments of the recurrent layers the pivot has no attribute for, at the values it computes.
_RNN_DEFAULTS = {"recurrent_activation": "sigmoid", "go_backwards": False, "stateful": False, "time_major": False,
                 "recurrent_dropout": 0.0, "dropout": 0.0}
_RNN_READING = {"signature": ("units", "activation"), "reader": "recurrent", "defaults": _RNN_DEFAULTS}
keras("simple_rnn", KerasMapping("layers.SimpleRNN", emit_recurrent, RNN_ARGS[:5], "sequence", _RNN_WEIGHTS,
                                 **_RNN_READING))
keras("lstm", KerasMapping("layers.LSTM", emit_recurrent, (RNN_ARGS[0], *RNN_ARGS[2:5]), "sequence", _RNN_WEIGHTS,
                           **_RNN_READING))
keras("gru", KerasMapping("layers.GRU", emit_recurrent, (RNN_ARGS[0], *RNN_ARGS[2:]), "sequence", _RNN_WEIGHTS,
                          **_RNN_READING))


def emit_lstm_cell(ctx):
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    x, hidden = ctx.x.expr, ctx.node.hiddenSize
    if len(ctx.inputs) == 3:
        states = f"[{ctx.inputs[1].expr}, {ctx.inputs[2].expr}]"
    else:   # PyTorch's default: zero states
        zeros = f"ops.zeros((ops.shape({x})[0], {hidden}))"
        states = f"[{zeros}, {zeros}]"
    # Keras' cell returns (h, [h, c]).
    ctx.assign(f"{layer}({x}, {states})", [f"{ctx.out_vars[0]}, (_, {ctx.out_vars[1]})"])
    return [L.identity(2), L.identity(2)]


def emit_gru_cell(ctx):
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    x = ctx.x.expr
    state = ctx.inputs[1].expr if len(ctx.inputs) == 2 else f"ops.zeros((ops.shape({x})[0], {ctx.node.hiddenSize}))"
    # Keras' cell returns (h, [h]) for a list of states.
    ctx.assign(f"{layer}({x}, [{state}])", [f"{ctx.var}, _"])
    return [L.identity(2)]


# The cells' weights are torch's without a layer suffix (weight_ih, bias_hh...).
_CELL_WEIGHTS = Weights(lambda np, node, params, info: _rnn_cell_to_keras(np, node, params, ""),
                        lambda np, node, arrays, info: _rnn_cell_from_keras(np, node, arrays, ""))
keras("lstm_cell", KerasMapping("layers.LSTMCell", emit_lstm_cell, (RNN_ARGS[0], RNN_ARGS[2]), "pivot", _CELL_WEIGHTS,
                                reader="cell", defaults=_RNN_DEFAULTS))
keras("gru_cell", KerasMapping("layers.GRUCell", emit_gru_cell, (RNN_ARGS[0], RNN_ARGS[2]), "pivot", _CELL_WEIGHTS,
                               reader="cell", defaults=_RNN_DEFAULTS))


# --- ConvLSTM2D: an LSTM whose gates are convolutions ----------------------------------------------------------

def _conv_lstm_shape(node, shapes):
    (x,) = shapes
    if len(x) != 5:
        raise S.ShapeError(f"expects a sequence of maps (N, T, C, H, W), got {S.fmt(x)}")
    if str(node.padding) not in ("valid", "same"):
        raise S.ShapeError(f"padding must be valid or same, got {node.padding}")
    kernel = S.per_axis(node.kernelSize, 2, 0, "kernel_size")
    if str(node.padding) == "same":
        sizes = x[3:]
    else:
        sizes = tuple(None if s is None else s - k + 1 for s, k in zip(x[3:], kernel))
        if any(s is not None and s < 1 for s in sizes):
            raise S.ShapeError(f"kernel {kernel} is larger than the maps {S.fmt(x)}")
    step = (x[0], node.filters, *sizes)
    return [(step[0], x[1], *step[1:]) if node.returnSequences else step]


kind("conv_lstm2d", "ConvLSTM2d", _conv_lstm_shape, "LSTM with convolutional gates over a sequence of maps "
     "(Keras ConvLSTM2D), from zero states.",
     [ex("conv_lstm2d(x, 4, kernel_size=3)", ("x: float32[5, 2, 9, 9]",)),
      ex("conv_lstm2d(x, 3, kernel_size=[3, 5], padding=same, return_sequences=true, bias=false)",
         ("x: float32[4, 3, 8, 10]",))],
     positional=("filters",), required=("filters", "kernelSize"))

# PyTorch has no such layer: the generated code holds this module (read back by the importer by its exact code).
CONV_LSTM = "ConvLSTM2d"
CONV_LSTM_CODE = '''class ConvLSTM2d(nn.Module):
    """Keras' ConvLSTM2D: an LSTM whose gates (i, f, c, o) are 2-D convolutions, over (N, T, C, H, W)."""

    def __init__(
        self,
        in_channels,
        filters,
        kernel_size,
        padding="valid",
        bias=True,
        return_sequences=False,
    ):
        super().__init__()
        self.return_sequences = return_sequences
        self.input_conv = nn.Conv2d(
            in_channels, 4 * filters, kernel_size, padding=padding, bias=bias
        )
        self.recurrent_conv = nn.Conv2d(
            filters, 4 * filters, kernel_size, padding="same", bias=False
        )

    def forward(self, x):
        gates = self.input_conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        h = c = torch.zeros_like(gates[:, 0].chunk(4, dim=1)[0])
        steps = []
        for t in range(x.shape[1]):
            i, f, g, o = (gates[:, t] + self.recurrent_conv(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            steps.append(h)
        return torch.stack(steps, dim=1) if self.return_sequences else h
'''
HELPERS[CONV_LSTM] = CONV_LSTM_CODE


def _conv_lstm_parameters(site):
    filters, channels = site.node.filters, site.shape[2]
    kernel = tuple(S.per_axis(site.node.kernelSize, 2, 0, "kernel_size"))
    shapes = {"input_conv.weight": (4 * filters, channels, *kernel)}
    if site.node.bias:
        shapes["input_conv.bias"] = (4 * filters,)
    return shapes | {"recurrent_conv.weight": (4 * filters, filters, *kernel)}


pytorch("conv_lstm2d", TorchMapping(
    CONV_LSTM, (Arg("in_channels", derive=lambda site: site.shape[2], positional=True),
                Arg("filters", "filters", positional=True),
                Arg("kernel_size", "kernelSize", positional=True, to_torch=tuple_or_int),
                Arg("padding", "padding", "valid", to_torch=str), _bias,
                Arg("return_sequences", "returnSequences", False)),
    parameters=_conv_lstm_parameters, generated=CONV_LSTM))


FRAMES_LAST = (0, 1, 3, 4, 2)   # Keras' (N, T, H, W, C) of the pivot's (N, T, C, H, W)


def emit_conv_lstm(ctx):
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [FRAMES_LAST if ctx.node.returnSequences else L.channels_last(4)]


def _conv_lstm_to_keras(np, node, params, info):
    kernel = params["input_conv.weight"].transpose(2, 3, 1, 0)   # (4F, C, kh, kw) -> (kh, kw, C, 4F)
    recurrent = params["recurrent_conv.weight"].transpose(2, 3, 1, 0)
    return [kernel, recurrent] + ([params["input_conv.bias"]] if node.bias else [])


def _conv_lstm_from_keras(np, node, arrays, info):
    out = {"input_conv.weight": arrays[0].transpose(3, 2, 0, 1),
           "recurrent_conv.weight": arrays[1].transpose(3, 2, 0, 1)}
    return out | ({"input_conv.bias": arrays[2]} if node.bias else {})


keras("conv_lstm2d", KerasMapping(
    "layers.ConvLSTM2D", emit_conv_lstm,
    (KerasArg("filters", "filters", positional=True),
     KerasArg("kernel_size", "kernelSize", to_keras=tuple_or_int, positional=True),
     KerasArg("padding", "padding", default="valid"), KerasArg("use_bias", "bias", default=True),
     KerasArg("return_sequences", "returnSequences", default=False)),
    "frames", Weights(_conv_lstm_to_keras, _conv_lstm_from_keras), reader="conv_lstm", defaults=_RNN_DEFAULTS))
