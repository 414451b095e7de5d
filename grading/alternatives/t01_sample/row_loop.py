"""One multinomial call per row, in order, with the same generator: the same random stream as one batched call."""


def sample(logits, generator=None):
    check_logits(logits)
    probs = torch.softmax(logits.float(), dim=-1)
    return torch.cat([torch.multinomial(row, 1, generator=generator) for row in probs])
