"""Recurrent networks: RNNCell, LSTMCell, GRUCell and the sequence layers RNN, LSTM, GRU.

Names, parameter shapes, gate order and the default init follow PyTorch, so a PyTorch
``state_dict`` loads directly. Backpropagation through time is plain reverse-mode autodiff over
the unrolled loop (the engine's topological sort is iterative, so long unrolls do not hit Python's
recursion limit). Truncated BPTT cuts the graph between chunks with :func:`detach_state`;
:func:`hidden_state_jacobian_norms` shows the vanishing/exploding-gradient picture.

The recurrences (x the input, h the hidden state, σ the logistic sigmoid, ⊙ elementwise):

RNN:   h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
LSTM:  [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh   (split in this order, H rows each)
       i, f, o = σ(·);  g = tanh(·);  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')
GRU:   [r, z, n]-rows of W_ih x + b_ih = (a_r, a_z, a_n), of W_hh h + b_hh = (b_r, b_z, b_n)
       r = σ(a_r + b_r);  z = σ(a_z + b_z);  n = tanh(a_n + r ⊙ b_n);  h' = (1 - z) ⊙ n + z ⊙ h

Derivatives: none are written here; the LSTM step after its matrix products is one fused
primitive (``chainrule.ops.lstm_cell``), whose docstring states its derivative. The gradient dL/dh_{t-1} = J_tᵀ dL/dh_t with the step
Jacobian J_t = ∂h_t/∂h_{t-1} (for the tanh RNN, J_t = diag(1 - h_t²) W_hh), so
∂h_T/∂h_0 = J_T ⋯ J_1: its norm shrinks or grows geometrically with T.

Deviations from PyTorch: ``proj_size`` is not offered; ``dropout`` must lie in [0, 1) (as
:func:`chainrule.functional.dropout`); packed sequences are not supported.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd import state
from chainrule.autograd.transforms import jacrev
from chainrule.creation import empty, zeros
from chainrule.functional.dropout import _check_p, dropout
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import (
    concatenate,
    lstm_cell,
    matmul,
    relu,
    reshape,
    sigmoid,
    split,
    stack,
    swapaxes,
    tanh,
    unsqueeze,
)
from chainrule.tensor import Tensor

__all__ = [
    "RNNCellBase",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNNBase",
    "RNN",
    "LSTM",
    "GRU",
    "detach_state",
    "hidden_state_jacobian_norms",
]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# --- argument checks ---------------------------------------------------------------------------


def _check_int(layer: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_bool(layer: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{layer}: {name} must be a bool, got {value!r}")
    return bool(value)


def _float_dtype(layer: str, dtype: Any) -> Any:
    d = backend.get_default_dtype() if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(d):
        raise TypeError(f"{layer}: dtype must be a floating dtype, got {d}")
    return d


def _mode(layer: str, nonlinearity: Any) -> str:
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"{layer}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")


def _check_tensor(label: str, what: str, x: Any, dtype: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{label}: expected {what} to be a Tensor, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(
            f"{label}: {what} dtype {x.dtype} does not match weight dtype {dtype} "
            "(cast the tensor, or the module with .to(dtype))"
        )
    return x


def _check_state(label: str, what: str, h: Any, want: tuple[int, ...], dtype: Any) -> Tensor:
    h = _check_tensor(label, what, h, dtype)
    if h.shape != want:
        raise ValueError(f"{label}: expected {what} of shape {want}, got {h.shape}")
    return h


# --- one time step, given the input projection gi = x W_ihᵀ + b_ih ----------------------------
# The steps take W_hhᵀ, transposed once per sequence: a transpose per step would hand every
# step's weight gradient to the leaf as a strided (transposed) view, and summing T of those into
# W_hh's gradient cost more than the products (1.5x the LSTM layer's time in bench_sequence).


def _hidden_projection(h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    gh = matmul(h, w_hh_t)
    return gh if b_hh is None else gh + b_hh


def _rnn_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, mode: str) -> Tensor:
    a = gi + _hidden_projection(h, w_hh_t, b_hh)
    return tanh(a) if mode == "RNN_TANH" else relu(a)


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    return lstm_cell(gi + _hidden_projection(h, w_hh_t, b_hh), c)


def _gru_step(gi: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None, hidden: int) -> Tensor:
    a_r, a_z, a_n = split(gi, hidden, axis=-1)
    b_r, b_z, b_n = split(_hidden_projection(h, w_hh_t, b_hh), hidden, axis=-1)
    r = sigmoid(a_r + b_r)
    z = sigmoid(a_z + b_z)
    n = tanh(a_n + r * b_n)
    # (1 - z) ⊙ n + z ⊙ h, written with one product fewer
    return n + z * (h - n)


def _input_projection(x: Tensor, w_ih: Tensor, b_ih: Tensor | None) -> Tensor:
    if x.ndim > 2:
        # Fold the leading axes into one: a single 2-d GEMM (and a 2-d weight gradient Xᵀ G) is
        # several times faster than NumPy's batched matmul over (T, N, I), whose VJP would also
        # build a (T, I, G·H) stack before summing it.
        lead = x.shape[:-1]
        return reshape(_input_projection(reshape(x, (-1, x.shape[-1])), w_ih, b_ih), (*lead, w_ih.shape[0]))
    gi = matmul(x, w_ih.mT)
    return gi if b_ih is None else gi + b_ih


# --- cells -------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Shared parameters of the cells: weight_ih (G·H, I), weight_hh (G·H, H), bias_ih, bias_hh (G·H,).

    G is the number of gate blocks (1 for RNN, 4 for LSTM, 3 for GRU). Default init (PyTorch's):
    every parameter ~ U(-1/√H, 1/√H), drawn from chainrule's generator.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_int(name, "input_size", input_size, 0)
        self.hidden_size = _check_int(name, "hidden_size", hidden_size, 1)
        self.bias = _check_bool(name, "bias", bias)
        d = _float_dtype(name, dtype)
        gh = num_chunks * self.hidden_size
        self.weight_ih = Parameter(empty(gh, self.input_size, dtype=d))
        self.weight_hh = Parameter(empty(gh, self.hidden_size, dtype=d))
        if self.bias:
            self.bias_ih = Parameter(empty(gh, dtype=d))
            self.bias_hh = Parameter(empty(gh, dtype=d))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check_input(self, x: Any) -> tuple[Tensor, bool]:
        """The input as (N, I), and whether it came unbatched as (I,)."""
        label = self._label()
        x = _check_tensor(label, "input", x, self.weight_ih.dtype)
        if x.ndim not in (1, 2):
            raise ValueError(f"{label}: expected a 1-d (unbatched) or 2-d (batch, features) input, got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{label}: expected input with {self.input_size} features, got {x.shape[-1]}")
        return (unsqueeze(x, 0), True) if x.ndim == 1 else (x, False)

    def _check_hidden(self, what: str, h: Any, n: int, unbatched: bool) -> Tensor:
        if h is None:
            return zeros(n, self.hidden_size, dtype=self.weight_ih.dtype)
        want = (self.hidden_size,) if unbatched else (n, self.hidden_size)
        h = _check_state(self._label(), what, h, want, self.weight_ih.dtype)
        return unsqueeze(h, 0) if unbatched else h

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s


class RNNCell(RNNCellBase):
    """Elman cell: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh (default) or relu.

    ``forward(input, hx=None)``: input (N, I) or unbatched (I,); hx of shape (N, H) or (H,),
    zeros when omitted. Returns h' of shape (N, H) or (H,).
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", dtype: Any = None
    ) -> None:
        mode = _mode("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self._mode = mode
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, unbatched = self._check_input(input)
        h = self._check_hidden("hx", hx, x.shape[0], unbatched)
        gi = _input_projection(x, self.weight_ih, self.bias_ih)
        h = _rnn_step(gi, h, self.weight_hh.mT, self.bias_hh, self._mode)
        return h[0] if unbatched else h


class LSTMCell(RNNCellBase):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997), PyTorch's gate order i, f, g, o.

    [i, f, g, o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh; c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);
    h' = σ(o) ⊙ tanh(c'). ``forward(input, hx=None)`` with hx = (h, c), each (N, H) or (H,),
    zeros when omitted. Returns (h', c').
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._check_input(input)
        n = x.shape[0]
        if hx is None:
            h = c = None
        elif isinstance(hx, (tuple, list)) and len(hx) == 2:
            h, c = hx
        else:
            raise TypeError(f"{self._label()}: hx must be a tuple (h, c) of Tensors, got {type(hx).__name__}")
        h = self._check_hidden("h", h, n, unbatched)
        c = self._check_hidden("c", c, n, unbatched)
        gi = _input_projection(x, self.weight_ih, self.bias_ih)
        h, c = _lstm_step(gi, h, c, self.weight_hh.mT, self.bias_hh)
        return (h[0], c[0]) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's gate order r, z, n.

    r = σ(W_ir x + b_ir + W_hr h + b_hr); z = σ(W_iz x + b_iz + W_hz h + b_hz);
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 - z) ⊙ n + z ⊙ h.
    ``forward(input, hx=None)``: shapes as ``RNNCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, unbatched = self._check_input(input)
        h = self._check_hidden("hx", hx, x.shape[0], unbatched)
        gi = _input_projection(x, self.weight_ih, self.bias_ih)
        h = _gru_step(gi, h, self.weight_hh.mT, self.bias_hh, self.hidden_size)
        return h[0] if unbatched else h


# --- sequence layers ---------------------------------------------------------------------------


class RNNBase(Module):
    """A stack of ``num_layers`` recurrent layers over a sequence, optionally bidirectional.

    Parameters (PyTorch's names, so a PyTorch ``state_dict`` loads as is), for layer k and
    direction suffix s ∈ {"", "_reverse"}: ``weight_ih_l{k}{s}`` (G·H, I_k), ``weight_hh_l{k}{s}``
    (G·H, H), ``bias_ih_l{k}{s}``, ``bias_hh_l{k}{s}`` (G·H,), with I_0 = input_size and
    I_k = D·H above (D = 2 when bidirectional). Init: all ~ U(-1/√H, 1/√H).

    Input (T, N, I), or (N, T, I) with ``batch_first``, or unbatched (T, I). Layer k > 0 reads the
    concatenated outputs [h_fwd; h_bwd] of layer k - 1, after dropout (training mode only). The
    reverse direction runs the same recurrence from t = T-1 down to 0.

    For each layer and direction the input projection X W_ihᵀ + b_ih is ONE matmul over all time
    steps; only h W_hhᵀ stays inside the time loop, and the outputs are stacked once at the end.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        self.mode = mode
        self.input_size = _check_int(name, "input_size", input_size, 0)
        self.hidden_size = _check_int(name, "hidden_size", hidden_size, 1)
        self.num_layers = _check_int(name, "num_layers", num_layers, 1)
        self.bias = _check_bool(name, "bias", bias)
        self.batch_first = _check_bool(name, "batch_first", batch_first)
        self.bidirectional = _check_bool(name, "bidirectional", bidirectional)
        self.dropout = _check_p(name, dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{name}: dropout={self.dropout} acts only between stacked layers, but num_layers=1",
                UserWarning,
                stacklevel=2,
            )
        d = _float_dtype(name, dtype)
        gh = _GATES[mode] * self.hidden_size
        num_dirs = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else num_dirs * self.hidden_size
            for suffix in ("", "_reverse")[:num_dirs]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", Parameter(empty(gh, layer_in, dtype=d)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", Parameter(empty(gh, self.hidden_size, dtype=d)))
                if self.bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", Parameter(empty(gh, dtype=d)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", Parameter(empty(gh, dtype=d)))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, direction: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        s = f"l{layer}{'_reverse' if direction else ''}"
        p = self._parameters
        return p[f"weight_ih_{s}"], p[f"weight_hh_{s}"], p.get(f"bias_ih_{s}"), p.get(f"bias_hh_{s}")

    # --- input checks ---------------------------------------------------------------------------
    def _check_input(self, inp: Any) -> tuple[Tensor, bool]:
        """The input as (T, N, I), and whether it came unbatched as (T, I)."""
        label = self._label()
        x = _check_tensor(label, "input", inp, self.weight_ih_l0.dtype)
        if x.ndim not in (2, 3):
            layout = "(batch, seq, features)" if self.batch_first else "(seq, batch, features)"
            raise ValueError(
                f"{label}: expected a 2-d (seq, features) unbatched or 3-d {layout} input, got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{label}: expected input with {self.input_size} features, got {x.shape[-1]}")
        if x.ndim == 2:
            return unsqueeze(x, 1), True
        return (swapaxes(x, 0, 1) if self.batch_first else x), False

    def _check_state(self, what: str, h: Any, n: int, unbatched: bool) -> Tensor:
        """An initial state as (L·D, N, H); zeros when None."""
        rows = self.num_layers * self.num_directions
        dtype = self.weight_ih_l0.dtype
        if h is None:
            return zeros(rows, n, self.hidden_size, dtype=dtype)
        want = (rows, self.hidden_size) if unbatched else (rows, n, self.hidden_size)
        h = _check_state(self._label(), what, h, want, dtype)
        return unsqueeze(h, 1) if unbatched else h

    def _split_hx(self, hx: Any) -> tuple[Any, Any]:
        if self.mode != "LSTM":
            return hx, None
        if hx is None:
            return None, None
        if isinstance(hx, (tuple, list)) and len(hx) == 2:
            return hx[0], hx[1]
        raise TypeError(f"{self._label()}: hx must be a tuple (h_0, c_0) of Tensors, got {type(hx).__name__}")

    # --- the recurrence -------------------------------------------------------------------------
    def _run_direction(
        self, x: Tensor, layer: int, direction: int, h: Tensor, c: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Run one layer in one direction over x (T, N, I_k); returns (outputs (T, N, H), h_T, c_T)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        if self.mode != "GRU" and b_hh is not None:
            # b_hh enters every step's sum unchanged: add it once, to the whole input projection
            # (GRU's b_hn sits inside r ⊙ (W_hn h + b_hn) and cannot move).
            b_ih, b_hh = (b_hh if b_ih is None else b_ih + b_hh), None
        gi_all = _input_projection(x, w_ih, b_ih)  # (T, N, G·H): one matmul for the whole sequence
        w_hh_t = w_hh.mT
        # One view per step; backward adds each step's gradient into one (T, N, G·H) buffer in
        # place (the engine's accumulate path for views), O(T) in all.
        steps = [gi_all[t] for t in range(gi_all.shape[0])]
        if direction:
            steps.reverse()
        outs = []
        for gi in steps:
            if self.mode == "LSTM":
                h, c = _lstm_step(gi, h, c, w_hh_t, b_hh)
            elif self.mode == "GRU":
                h = _gru_step(gi, h, w_hh_t, b_hh, self.hidden_size)
            else:
                h = _rnn_step(gi, h, w_hh_t, b_hh, self.mode)
            outs.append(h)
        if direction:
            outs.reverse()
        return stack(outs, 0), h, c

    def _forward(self, inp: Any, hx: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        x, unbatched = self._check_input(inp)
        h0, c0 = self._split_hx(hx)
        n = x.shape[1]
        h0 = self._check_state("h_0" if self.mode == "LSTM" else "hx", h0, n, unbatched)
        c0 = self._check_state("c_0", c0, n, unbatched) if self.mode == "LSTM" else None
        if x.shape[0] == 0:
            raise ValueError(f"{self._label()}: expected a sequence of length >= 1, got input shape {inp.shape}")
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = dropout(x, self.dropout, True)
            outs = []
            for direction in range(self.num_directions):
                row = layer * self.num_directions + direction
                out, h, c = self._run_direction(x, layer, direction, h0[row], None if c0 is None else c0[row])
                outs.append(out)
                hs.append(h)
                if c is not None:
                    cs.append(c)
            x = outs[0] if len(outs) == 1 else concatenate(outs, axis=-1)
        h_n = stack(hs, 0)
        c_n = stack(cs, 0) if cs else None
        if unbatched:
            x = x[:, 0]
            h_n = h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif self.batch_first:
            x = swapaxes(x, 0, 1)
        return x, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Multi-layer Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu.

    ``forward(input, hx=None)`` returns ``(output, h_n)``: output (T, N, D·H) (batch-first or
    unbatched following the input), the top layer's h_t for every t (both directions
    concatenated); h_n (L·D, N, H), the last state of every layer and direction (for the reverse
    direction the state after t = 0). hx has h_n's shape; zeros when omitted.
    See :class:`RNNBase` for the parameters.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        mode = _mode("RNN", nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        out, h_n, _ = self._forward(input, hx)
        return out, h_n


class LSTM(RNNBase):
    """Multi-layer LSTM (gate order i, f, g, o; see :class:`LSTMCell` for the recurrence).

    ``forward(input, hx=None)`` with hx = (h_0, c_0), each (L·D, N, H) (or (L·D, H) unbatched),
    zeros when omitted. Returns ``(output, (h_n, c_n))``; shapes as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # noqa: A002
        out, h_n, c_n = self._forward(input, hx)
        assert c_n is not None
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Multi-layer GRU (gate order r, z, n; see :class:`GRUCell` for the recurrence).

    ``forward(input, hx=None)`` returns ``(output, h_n)``; shapes as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        out, h_n, _ = self._forward(input, hx)
        return out, h_n


# --- truncated backpropagation through time ---------------------------------------------------


def detach_state(state: Any) -> Any:
    """Cut a recurrent state from the graph: a Tensor, or a (nested) tuple/list of Tensors.

    Truncated BPTT: run a long sequence in chunks of length k, carrying the state forward but
    stopping gradients at chunk boundaries, so each backward costs O(k) instead of O(T)::

        model, state = chainrule.nn.LSTM(8, 16), None
        for chunk, target in chunks:               # chunk: (k, N, 8)
            out, state = model(chunk, state)
            loss = loss_fn(out, target)
            opt.zero_grad(); loss.backward(); opt.step()
            state = detach_state(state)            # values carried on, graph dropped

    ``None`` passes through (the first chunk's state).
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple/list of Tensors, got {type(state).__name__}")


# --- vanishing / exploding gradient diagnostics -----------------------------------------------


def hidden_state_jacobian_norms(cell: Callable[[Tensor, Tensor], Any] | RNNCellBase, h0: Any, xs: Any) -> np.ndarray:
    """Spectral norms ‖∂h_T/∂h_0‖₂ for T = 1..len(xs): how fast gradients vanish or explode.

    ``cell`` maps (x_t, h_{t-1}) ↦ h_t for one unbatched sequence: a callable on 1-d Tensors, or
    an ``RNNCell``/``GRUCell``/``LSTMCell`` module. For an LSTMCell the state is s = [h; c]
    (length 2H, c_0 = 0 when ``h0`` has length H), and the Jacobian is ∂s_T/∂s_0.
    ``h0`` is the initial state (H,) and ``xs`` the inputs (T, I) (or a sequence of T Tensors).

    By the chain rule ∂h_T/∂h_0 = J_T J_{T-1} ⋯ J_1 with J_t = ∂h_t/∂h_{t-1}; each J_t is found
    once with ``jacrev`` (H reverse passes through one step) and the products are accumulated in
    float64, so all T norms cost O(T) steps rather than O(T²). The result[T-1] = σ_max(J_T ⋯ J_1).
    For a linear RNN h_t = W h_{t-1} it is ‖W^T‖₂ (ρ(W)^T for normal W): below 1 the gradient
    signal from step 0 vanishes geometrically, above 1 it explodes.
    """
    step = _state_step(cell)
    s = h0 if isinstance(h0, Tensor) else Tensor(np.asarray(h0))
    if isinstance(cell, LSTMCell) and s.ndim == 1 and s.shape[0] == cell.hidden_size:
        s = concatenate([s, zeros(cell.hidden_size, dtype=s.dtype)])
    if s.ndim != 1:
        raise ValueError(f"hidden_state_jacobian_norms: expected a 1-d initial state h0, got shape {s.shape}")
    inputs: Sequence[Any] = xs if not isinstance(xs, Tensor) else [xs[t] for t in range(xs.shape[0])]
    if len(inputs) == 0:
        raise ValueError("hidden_state_jacobian_norms: expected at least one input step, got none")
    s = s.detach()
    product = np.eye(s.shape[0])
    norms = np.empty(len(inputs))
    for t, x in enumerate(inputs):
        x = x.detach() if isinstance(x, Tensor) else x
        jac = jacrev(lambda h, x=x: step(x, h))(s).data
        if jac.shape != (s.shape[0], s.shape[0]):
            raise ValueError(
                f"hidden_state_jacobian_norms: the cell must map a state of shape {s.shape} to the same shape, "
                f"got a Jacobian of shape {jac.shape}"
            )
        product = jac.astype(np.float64) @ product
        norms[t] = np.linalg.norm(product, ord=2)
        with state.no_grad():
            s = step(x, s).detach()
    return norms


def _state_step(cell: Any) -> Callable[[Any, Tensor], Tensor]:
    """The step as a map on a flat 1-d state."""
    if isinstance(cell, LSTMCell):
        hidden = cell.hidden_size

        def lstm_step(x: Any, s: Tensor) -> Tensor:
            h, c = cell(x, (s[:hidden], s[hidden:]))
            return concatenate([h, c])

        return lstm_step
    if isinstance(cell, Module) or callable(cell):
        return cell
    raise TypeError(f"hidden_state_jacobian_norms: cell must be callable, got {type(cell).__name__}")
