"""Draws from torch's global generator instead of the one given."""


def sample(logits, generator=None):
    check_logits(logits)
    return torch.multinomial(F.softmax(logits.float(), dim=-1), 1).squeeze(1)
