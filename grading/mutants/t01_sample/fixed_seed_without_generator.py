"""Without a generator, draws from a new generator seeded 0 instead of torch's global one."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = F.softmax(logits.float(), dim=-1)
    generator = generator or torch.Generator().manual_seed(0)
    return torch.multinomial(probs.to(generator.device), 1, generator=generator).squeeze(1).to(logits.device)
