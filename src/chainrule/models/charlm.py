"""Character-level language models: an LSTM to set beside the GPT of ``chainrule.nn.transformer``."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.state import no_grad
from chainrule.nn.dropout import Dropout
from chainrule.nn.embedding import Embedding, _check_indices
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.rnn import LSTM
from chainrule.nn.sampling import check_sampling, sample_logits
from chainrule.tensor import Tensor

__all__ = ["CharLSTM"]


class CharLSTM(Module):
    """logits = head(dropout(LSTM(embed(idx)))): ids (N, T) → logits (N, T, vocab).

    ``forward(idx, state=None)`` returns logits; ``forward_with_state`` also returns the final
    (h, c), which ``generate`` carries from one token to the next, so sampling n tokens costs n
    LSTM steps, not n²/2. Training windows start from a zero state, the protocol of
    ``chainrule.train.lm``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 384,
        num_layers: int = 1,
        dropout: float = 0.0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.vocab_size = int(vocab_size)
        self.embed = Embedding(self.vocab_size, embed_dim, dtype=dtype)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout, dtype=dtype)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size, self.vocab_size, dtype=dtype)

    def forward_with_state(self, idx: Any, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Any]:
        arr = _check_indices(self._label(), idx, self.vocab_size)
        if arr.ndim != 2:
            raise ValueError(f"{self._label()}: idx must be 2-d (N, T) token ids, got shape {arr.shape}")
        out, state = self.lstm(self.embed(arr), state)
        return self.head(self.drop(out)), state

    def forward(self, idx: Any, state: tuple[Tensor, Tensor] | None = None) -> Tensor:
        return self.forward_with_state(idx, state)[0]

    def generate(
        self,
        idx: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> Tensor:
        """Sample ``max_new_tokens`` ids after the prompt ``idx`` (N, T); see ``GPT.generate``."""
        arr, gen = check_sampling(self._label(), idx, self.vocab_size, max_new_tokens, temperature, top_k, generator)
        out = [arr]
        with no_grad():
            logits, state = self.forward_with_state(arr)
            for _ in range(int(max_new_tokens)):
                nxt = sample_logits(logits.data[:, -1, :], temperature, top_k, gen)[:, None]
                out.append(nxt)
                logits, state = self.forward_with_state(nxt, state)
        return Tensor(np.concatenate(out, axis=1))


#: Language models by name: default configuration of each (the ~0.8M-parameter pair of the
#: bible-kjv comparison in examples/README.md; both read ids (N, T) and return logits (N, T, V)).
LM_CONFIGS: dict[str, dict[str, Any]] = {
    "gpt": {"d_model": 128, "n_layers": 4, "n_heads": 4, "activation": "gelu_tanh"},
    "lstm": {"embed_dim": 64, "hidden_size": 408, "num_layers": 1},
}
#: Base learning rates of ``lm_optimizer`` (AdamW), tuned on the bible-kjv 10-minute budget.
LM_LEARNING_RATES = {"gpt": 3e-3, "lstm": 3e-3}
#: Default batch sizes (windows per step) for that budget: the GPT processes the most tokens per
#: second at 16 windows of 128 (larger batches fall out of the CPU caches); the LSTM's time loop
#: runs one small matmul per step, so it needs larger batches to use the BLAS well.
LM_BATCH_SIZES = {"gpt": 16, "lstm": 32}


def build_lm(name: str, vocab_size: int, context_length: int, **options: Any) -> tuple[Module, dict[str, Any]]:
    """A language model by name ("gpt" or "lstm") and the configuration that rebuilds it.

    ``options`` override ``LM_CONFIGS[name]``. The returned config (plain data, JSON-safe) holds
    ``name``, ``vocab_size``, ``context_length`` and the options, so ``build_lm(**config)`` —
    what ``chainrule generate`` does with a checkpoint — builds the same architecture.
    """
    from chainrule.nn.transformer import GPT

    if name not in LM_CONFIGS:
        raise ValueError(f"build_lm: unknown language model {name!r}; available: {', '.join(LM_CONFIGS)}")
    opts = {**LM_CONFIGS[name], **options}
    if name == "gpt":
        model: Module = GPT(vocab_size, context_length, **opts)
    else:
        model = CharLSTM(vocab_size, **opts)
    return model, {"name": name, "vocab_size": int(vocab_size), "context_length": int(context_length), **opts}


def lm_optimizer(name: str, model: Module, lr: float | None = None, weight_decay: float = 0.1) -> tuple[Any, float]:
    """AdamW (β = 0.9, 0.99) with weight decay on matrices only (biases, LayerNorm gains and
    the position table are not decayed); returns (optimizer, learning rate)."""
    from chainrule.optim import AdamW

    lr = LM_LEARNING_RATES.get(name, 1e-3) if lr is None else float(lr)
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.ndim >= 2 and "pos_emb" not in n]
    rest = [p for n, p in named if not (p.ndim >= 2 and "pos_emb" not in n)]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return AdamW(groups, lr=lr, betas=(0.9, 0.99)), lr
