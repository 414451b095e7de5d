"""Picks the highest index among tied maxima (argmax of the reversed row)."""


def greedy(logits):
    check_logits(logits)
    V = logits.shape[-1]
    return V - 1 - logits.flip(-1).argmax(dim=-1)
