"""What the coordinate networks of the INR task (SIREN, Fourier-feature MLP) share: a `first`
layer, `hidden` layers and a `classifier` output layer, of which the hidden weights are prunable
and the first and last layers are on request (their scales differ from the hidden ones, so with a
global ranking they are better ranked layer-wise).

    python -c "from rtl_sweep.models.siren import Siren; print(Siren((2,), 3).prunable_names())"
"""

from __future__ import annotations


def coordinate_prunable(model) -> list[str]:
    names = [f"hidden.{i}.weight" for i in range(len(model.hidden))]
    if model.prune_first:
        names.insert(0, "first.weight")
    if model.prune_last:
        names.append("classifier.weight")
    return names
