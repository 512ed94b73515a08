"""RMSProp presets: the hyperparameters that reproduce another framework's RMSProp.

RMSProp implementations differ in more than their defaults: where ε sits (outside the
square root, ``sqrt(v) + ε``, or inside, ``sqrt(v + ε)``), the value the square
average starts from, whether the learning rate is applied before or after the momentum
buffer, and whether weight decay is added to the gradient (coupled), applied to the
param directly (decoupled) or not offered at all.

======  =========================================  ===========  =======  ============
preset  reproduces                                 eps_in_sqrt  v₀       weight decay
======  =========================================  ===========  =======  ============
torch   ``torch.optim.RMSprop``                    False        0        coupled
tf1     ``tf.compat.v1.train.RMSPropOptimizer``    True         1.0      none
keras   ``keras.optimizers.RMSprop`` (Keras 3)     True         0        decoupled
optax   ``optax.rmsprop``                          True         0        none
======  =========================================  ===========  =======  ============

v₀ is ``initial_square_avg``, the value the square average starts from.

``tf1``, ``keras`` and ``optax`` put the learning rate inside the momentum buffer
(``lr_in_momentum=True``); ``torch`` multiplies the buffer by it. The centered variance
is clamped at zero in every preset, where the frameworks would take the square root of
a negative rounding error (see the specification).

tf.keras 2.x (TensorFlow 2.0 to 2.10, ``tf.keras.optimizers.RMSprop`` before the
optimizer rewrite; later ``tf.keras.optimizers.legacy.RMSprop``) is not a preset: it
puts ε inside the square root only when ``momentum > 0`` and outside it when
``momentum == 0``. fastrmsprop does not emulate this switch: to reproduce tf.keras
2.x, use the ``keras`` preset without weight decay and add ``eps_in_sqrt=False``
when ``momentum == 0``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PRESETS", "resolve"]

#: The hyperparameters a preset fixes; ``allows_weight_decay`` is about the preset,
#: not a hyperparameter, and is not returned by :func:`resolve`.
HYPERPARAMETERS = (
    "lr",
    "beta",
    "eps",
    "weight_decay",
    "momentum",
    "centered",
    "maximize",
    "eps_in_sqrt",
    "lr_in_momentum",
    "decoupled_weight_decay",
    "nesterov",
    "initial_square_avg",
)

_COMMON = {
    "weight_decay": 0.0,
    "momentum": 0.0,
    "centered": False,
    "maximize": False,
    "nesterov": False,
}

TORCH: dict[str, Any] = {
    **_COMMON,
    "lr": 1e-2,
    "beta": 0.99,
    "eps": 1e-8,
    "eps_in_sqrt": False,
    "initial_square_avg": 0.0,
    "lr_in_momentum": False,
    "decoupled_weight_decay": False,
    "allows_weight_decay": True,
}
"""``torch.optim.RMSprop``: ε outside the root, weight decay added to the gradient.

``beta`` is torch's ``alpha``. The default preset.
"""

TF1: dict[str, Any] = {
    **_COMMON,
    "lr": None,
    "beta": 0.9,
    "eps": 1e-10,
    "eps_in_sqrt": True,
    "initial_square_avg": 1.0,
    "lr_in_momentum": True,
    "decoupled_weight_decay": False,
    "allows_weight_decay": False,
}
"""``tf.compat.v1.train.RMSPropOptimizer``: the square average starts at 1.0.

``beta`` is its ``decay``. TF1 has no default learning rate (``learning_rate`` is a
required argument), so ``lr`` is None and must be given.
"""

KERAS: dict[str, Any] = {
    **_COMMON,
    "lr": 1e-3,
    "beta": 0.9,
    "eps": 1e-7,
    "eps_in_sqrt": True,
    "initial_square_avg": 0.0,
    "lr_in_momentum": True,
    "decoupled_weight_decay": True,
    "allows_weight_decay": True,
}
"""``keras.optimizers.RMSprop`` of Keras 3: weight decay applied to the param directly.

``beta`` is its ``rho``. For tf.keras 2.0 to 2.10 see the module documentation.
"""

OPTAX: dict[str, Any] = {
    **_COMMON,
    "lr": None,
    "beta": 0.9,
    "eps": 1e-8,
    "eps_in_sqrt": True,
    "initial_square_avg": 0.0,
    "lr_in_momentum": True,
    "decoupled_weight_decay": False,
    "allows_weight_decay": False,
}
"""``optax.rmsprop``: ε inside the root, no weight decay.

``beta`` is its ``decay`` and ``initial_square_avg`` its ``initial_scale``.
``learning_rate`` is a required argument there, so ``lr`` is None and must be given.
"""

PRESETS: dict[str, dict[str, Any]] = {
    "torch": TORCH,
    "tf1": TF1,
    "keras": KERAS,
    "optax": OPTAX,
}
"""Every preset by name. Treat the dicts as read-only; :func:`resolve` copies."""


def resolve(preset: str = "torch", **overrides: Any) -> dict[str, Any]:
    """Return every RMSProp hyperparameter of ``preset`` with ``overrides`` applied.

    An override of None means "not given" and keeps the preset's value, so a caller
    can pass its keyword arguments through unchanged.

    Raises ``TypeError`` for an unknown hyperparameter name and ``ValueError`` for an
    unknown preset, for a preset without a default ``lr`` when none is given, and for
    ``weight_decay > 0`` with a preset whose framework offers no weight decay
    (``tf1``, ``optax``): adding one would silently choose between the coupled and
    the decoupled form, which the framework never made. Use the ``torch`` preset
    (coupled) or the ``keras`` preset (decoupled) and override the rest instead.
    """
    if preset not in PRESETS:
        raise ValueError(
            f"preset: expected one of {', '.join(PRESETS)}, got {preset!r}"
        )
    unknown = sorted(set(overrides) - set(HYPERPARAMETERS))
    if unknown:
        raise TypeError(
            f"{unknown[0]}: not an RMSProp hyperparameter (expected one "
            f"of {', '.join(HYPERPARAMETERS)})"
        )
    table = PRESETS[preset]
    result = {name: table[name] for name in HYPERPARAMETERS}
    result.update({k: v for k, v in overrides.items() if v is not None})
    if result["lr"] is None:
        raise ValueError(
            f"lr: the {preset!r} preset has no default learning rate; pass lr"
        )
    if result["weight_decay"] and not table["allows_weight_decay"]:
        raise ValueError(
            f"weight_decay: the {preset!r} preset has no weight decay; "
            "use preset 'torch' (coupled) or 'keras' (decoupled)"
        )
    return result
