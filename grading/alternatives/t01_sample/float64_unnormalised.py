"""multinomial on unnormalised float64 weights exp(logits - max)."""


def sample(logits, generator=None):
    check_logits(logits)
    x = logits.double()
    weights = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return torch.multinomial(weights, 1, generator=generator)[:, 0]
