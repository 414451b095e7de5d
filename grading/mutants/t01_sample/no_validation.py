"""No check of the logits: 1-D or integer logits fail with torch's own error (RuntimeError), not ValueError."""


def sample(logits, generator=None):
    probs = F.softmax(logits.float(), dim=-1)
    if generator is not None:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(logits.device)
