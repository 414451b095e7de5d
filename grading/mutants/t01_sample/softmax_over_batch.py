"""Takes the softmax over the batch dimension (dim=0) instead of over the vocabulary."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = F.softmax(logits.float(), dim=0)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
