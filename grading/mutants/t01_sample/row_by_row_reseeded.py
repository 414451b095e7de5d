"""Draws each row from a fresh generator seeded with the same seed, so every row reuses the same random number."""


def sample(logits, generator=None):
    check_logits(logits)
    seed = generator.initial_seed() if generator is not None else 0
    probs = F.softmax(logits.float(), dim=-1)
    return torch.cat([torch.multinomial(row, 1, generator=torch.Generator().manual_seed(seed)) for row in probs])
