"""The entropy routing (SupSup's one-shot task inference) on outputs where the answer is known."""

import numpy as np
import torch

from rtl_sweep.routing import confidence_route, entropy_route


def test_entropy_picks_the_ticket_that_sharpens_the_mixture():
    # Input i belongs to ticket i % 3: that ticket's logits point at one class, the others' are
    # near flat with small random noise, so raising its coefficient lowers the mixture's entropy.
    gen = torch.Generator().manual_seed(0)
    n, c, k = 60, 10, 3
    owner = np.arange(n) % k
    outputs = [0.1 * torch.randn(n, c, generator=gen) for _ in range(k)]
    for i in range(n):
        outputs[owner[i]][i, i % c] += 6.0
    assert (entropy_route(outputs) == owner).all()


def test_entropy_ignores_a_ticket_that_is_confident_against_the_others():
    # Ticket 0 is mildly sure of class 1; tickets 1 and 2 agree strongly on class 4, so more weight
    # on ticket 0 mixes two answers (entropy rises) while more on ticket 1 or 2 sharpens the mixture.
    a = torch.zeros(1, 5); a[0, 1] = 3.0
    b = torch.zeros(1, 5); b[0, 4] = 8.0
    assert entropy_route([a, b.clone(), b.clone()])[0] in (1, 2)
    assert confidence_route([a, b.clone(), b.clone()])[0] in (1, 2)
