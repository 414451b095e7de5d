"""The exponential race argmax(p / q), q ~ Exp(1), as gpt-fast and vLLM sample (and as torch.multinomial does
internally on the CPU)."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = torch.softmax(logits.float(), dim=-1)
    q = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / q).argmax(dim=-1)
