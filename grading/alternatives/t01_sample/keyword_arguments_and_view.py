"""Correct alternative: torch.multinomial with keyword arguments (replacement=False spelled out) and .view(-1)."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    device = generator.device if generator is not None else logits.device
    tokens = torch.multinomial(probs.to(device), num_samples=1, replacement=False, generator=generator)
    return tokens.view(-1).to(logits.device)
