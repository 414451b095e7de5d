"""Inverse-CDF sampling (uniform draw + searchsorted on the cumulative probabilities): a valid sampler, but it
uses the generator differently from torch.multinomial, so seeded runs do not match transformers."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = F.softmax(logits.float(), dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator)
    tokens = torch.searchsorted(probs.cumsum(dim=-1), u).squeeze(1)
    return tokens.clamp(max=logits.shape[-1] - 1)
