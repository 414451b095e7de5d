"""Returns the most likely token instead of sampling."""


def sample(logits, generator=None):
    check_logits(logits)
    return logits.argmax(dim=-1)
