"""Returns int32 token ids instead of int64."""


def greedy(logits):
    check_logits(logits)
    return logits.argmax(dim=-1).int()
