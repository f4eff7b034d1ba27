"""Neural-network building blocks with PyTorch's names: Module, Parameter, layers, losses, init."""

from chainrule.nn import init
from chainrule.nn.activation import *  # noqa: F403
from chainrule.nn.activation import __all__ as _activation_all
from chainrule.nn.attention import LearnedPositionalEncoding, MultiheadAttention, SinusoidalPositionalEncoding
from chainrule.nn.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.dropout import Dropout, Dropout2d
from chainrule.nn.embedding import Embedding
from chainrule.nn.linear import Flatten, Identity, Linear, Unflatten
from chainrule.nn.loss import *  # noqa: F403
from chainrule.nn.loss import __all__ as _loss_all
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.parameter import Parameter
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, detach_state, hidden_state_jacobian_norms
from chainrule.nn.transformer import GPT, TransformerEncoderLayer
from chainrule.nn.utils import functional_call, parameters_to_vector, vector_to_parameters

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "Linear",
    "Identity",
    "Flatten",
    "Unflatten",
    "Embedding",
    "Dropout",
    "Dropout2d",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "LayerNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "detach_state",
    "hidden_state_jacobian_norms",
    "MultiheadAttention",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEncoding",
    "TransformerEncoderLayer",
    "GPT",
    "functional_call",
    "parameters_to_vector",
    "vector_to_parameters",
    "init",
    *_activation_all,
    *_loss_all,
]
