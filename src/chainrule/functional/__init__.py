"""Composites: activations, losses, convolution and pooling, dropout and normalization, written only with primitives.

Nothing here has derivative code of its own: the engine differentiates these functions through
the primitives they call (to any order, in both modes).
"""

from chainrule.functional.activation import *  # noqa: F403
from chainrule.functional.attention import *  # noqa: F403
from chainrule.functional.conv import *  # noqa: F403
from chainrule.functional.dropout import *  # noqa: F403
from chainrule.functional.loss import *  # noqa: F403
from chainrule.functional.normalization import *  # noqa: F403
