"""Transformer encoder layer (PyTorch's structure) and a small decoder-only GPT language model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.state import no_grad
from chainrule.functional.activation import gelu, relu
from chainrule.functional.dropout import _check_p
from chainrule.nn import init
from chainrule.nn.attention import LearnedPositionalEncoding, MultiheadAttention
from chainrule.nn.container import ModuleList
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding, _check_indices
from chainrule.nn.linear import Linear, _check_size
from chainrule.nn.module import Module
from chainrule.nn.normalization import LayerNorm
from chainrule.nn.sampling import check_sampling, sample_logits
from chainrule.tensor import Tensor

__all__ = ["TransformerEncoderLayer", "GPT"]


def _activation(name: Any) -> Callable[[Tensor], Tensor]:
    if callable(name):
        return name
    if name == "relu":
        return relu
    if name == "gelu":
        return gelu
    if name == "gelu_tanh":
        return _gelu_tanh
    raise ValueError(
        f"TransformerEncoderLayer: activation must be 'relu', 'gelu', 'gelu_tanh' or a callable, got {name!r}"
    )


def _gelu_tanh(x: Tensor) -> Tensor:
    return gelu(x, approximate="tanh")


class TransformerEncoderLayer(Module):
    """Self-attention block + position-wise feed-forward block, each with a residual and LayerNorm.

    With SA(x) = dropout1(self_attn(x, x, x)) and FF(x) = dropout2(linear2(dropout(act(linear1(x))))):
      post-norm (``norm_first=False``, the original Transformer):
          x ← norm1(x + SA(x));  x ← norm2(x + FF(x))
      pre-norm (``norm_first=True``, GPT-2 style):
          x ← x + SA(norm1(x));  x ← x + FF(norm2(x))
    Submodule names, parameter shapes and init match ``torch.nn.TransformerEncoderLayer``, so its
    state_dict loads unchanged. ``src`` is (S, N, E), (N, S, E) with ``batch_first``, or (S, E).
    ``src_mask`` and ``src_key_padding_mask`` follow ``MultiheadAttention`` (bool True = blocked).
    ``is_causal=True`` with no ``src_mask`` applies the causal mask (PyTorch treats it as a hint
    that needs the mask; see ``MultiheadAttention``).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        _check_size("TransformerEncoderLayer", "dim_feedforward", dim_feedforward)
        p = _check_p("TransformerEncoderLayer", dropout)
        self.activation = _activation(activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=p, bias=bias, batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(p)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.dropout1 = Dropout(p)
        self.dropout2 = Dropout(p)
        self.batch_first = bool(batch_first)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        y = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(y)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(
        self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        if isinstance(src, Tensor) and src.ndim not in (2, 3):
            layout = "(N, S, E)" if self.batch_first else "(S, N, E)"
            raise ValueError(f"{self._label()}: expected a 3-d {layout} or 2-d (S, E) input, got shape {src.shape}")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class GPT(Module):
    """A decoder-only (GPT-style) Transformer language model.

    logits = head(ln_f(blocks(tok_emb(idx) + pos_emb[:T]))), where each block is a pre-norm
    ``TransformerEncoderLayer`` (GELU, batch_first) run with the causal mask, so position t sees
    only positions ≤ t: ∂logits[:, t] / ∂x[:, s] = 0 for s > t. ``head`` maps d_model → vocab
    (no bias); with ``tie_weights`` its weight is the token-embedding table (Press & Wolf, 2017).
    Init (GPT-2's): Linear and Embedding weights ~ N(0, 0.02²), biases 0, LayerNorm γ=1, β=0.

    ``activation`` is the MLP's nonlinearity: "gelu" (exact, erf), "gelu_tanh" (GPT-2's tanh
    approximation) or "relu".

    ``forward(idx)``: idx (N, T) integer ids with T ≤ ``context_length`` → logits (N, T, vocab).
    ``forward_embeddings(x)``: the same from the input embeddings x (N, T, d_model).
    """

    def __init__(
        self,
        vocab_size: int,
        context_length: int,
        d_model: int = 128,
        n_layers: int = 4,
        n_heads: int = 4,
        dim_feedforward: int | None = None,
        dropout: float = 0.0,
        tie_weights: bool = True,
        activation: str = "gelu",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, v in (
            ("vocab_size", vocab_size),
            ("context_length", context_length),
            ("d_model", d_model),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
        ):
            if _check_size("GPT", name, v) == 0:
                raise ValueError(f"GPT: {name} must be positive, got {v}")
        self.vocab_size = int(vocab_size)
        self.context_length = int(context_length)
        self.d_model = int(d_model)
        ff = 4 * self.d_model if dim_feedforward is None else dim_feedforward
        p = _check_p("GPT", dropout)
        self.tok_emb = Embedding(self.vocab_size, self.d_model, dtype=dtype)
        self.pos_emb = LearnedPositionalEncoding(self.context_length, self.d_model, dtype=dtype)
        self.drop = Dropout(p)
        self.blocks = ModuleList(
            TransformerEncoderLayer(
                self.d_model, n_heads, ff, p, activation=activation, batch_first=True, norm_first=True, dtype=dtype
            )
            for _ in range(n_layers)
        )
        self.ln_f = LayerNorm(self.d_model, dtype=dtype)
        self.head = Linear(self.d_model, self.vocab_size, bias=False, dtype=dtype)
        self.reset_parameters()
        self.tie_weights = bool(tie_weights)
        if self.tie_weights:
            self.head.weight = self.tok_emb.weight

    def reset_parameters(self) -> None:
        """GPT-2 init: N(0, 0.02²) weights, zero biases, unit LayerNorm scales."""
        for m in self.modules():
            if isinstance(m, (Linear, Embedding)):
                init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, Linear) and m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, MultiheadAttention):
                init.normal_(m.in_proj_weight, 0.0, 0.02)
                if m.in_proj_bias is not None:
                    init.zeros_(m.in_proj_bias)
            elif isinstance(m, LearnedPositionalEncoding):
                m.reset_parameters()
            elif isinstance(m, LayerNorm):
                m.reset_parameters()

    def embed(self, idx: Any) -> Tensor:
        """Input embeddings tok_emb(idx) + pos_emb[:T], shape (N, T, d_model)."""
        arr = _check_indices(self._label(), idx, self.vocab_size)
        if arr.ndim != 2:
            raise ValueError(f"{self._label()}: idx must be 2-d (N, T) token ids, got shape {arr.shape}")
        if arr.shape[1] > self.context_length:
            raise ValueError(
                f"{self._label()}: sequence length {arr.shape[1]} exceeds context_length={self.context_length}"
            )
        return self.pos_emb(self.tok_emb(arr))

    def forward_embeddings(self, x: Tensor) -> Tensor:
        """Logits (N, T, vocab) from input embeddings x (N, T, d_model)."""
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != self.d_model:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{self._label()}: embeddings must have shape (N, T, {self.d_model}), got {shape}")
        t = x.shape[1]
        causal = ~np.tril(np.ones((t, t), dtype=bool))  # True = blocked (MultiheadAttention's convention)
        h = self.drop(x)
        for block in self.blocks:
            h = block(h, src_mask=causal, is_causal=True)
        return self.head(self.ln_f(h))

    def forward(self, idx: Any) -> Tensor:
        return self.forward_embeddings(self.embed(idx))

    def generate(
        self,
        idx: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> Tensor:
        """Sample ``max_new_tokens`` tokens autoregressively after the prompt ``idx`` (N, T).

        Each step feeds the last ``context_length`` tokens, takes the last position's logits z,
        keeps the ``top_k`` largest (others get probability 0) and samples from
        softmax(z / ``temperature``). Runs under ``no_grad`` and leaves the train/eval mode as it
        is (call ``.eval()`` first when the model has dropout). Draws from ``generator`` or
        chainrule's global generator. Returns an int64 Tensor (N, T + max_new_tokens).
        """
        arr, gen = check_sampling(self._label(), idx, self.vocab_size, max_new_tokens, temperature, top_k, generator)
        out = arr.copy()
        with no_grad():
            for _ in range(int(max_new_tokens)):
                logits = self(out[:, -self.context_length :]).data[:, -1, :]
                nxt = sample_logits(logits, temperature, top_k, gen)
                out = np.concatenate([out, nxt[:, None]], axis=1)
        return Tensor(out)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, context_length={self.context_length}, d_model={self.d_model}"
