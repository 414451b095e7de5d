"""Takes the argmax over the batch dimension (dim=0) instead of over the vocabulary."""


def greedy(logits):
    check_logits(logits)
    return logits.argmax(dim=0)
