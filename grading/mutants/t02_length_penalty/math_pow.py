"""Uses math.pow, which takes Python numbers only: a tensor of lengths fails."""


def gnmt_length_penalty(length, alpha):
    return math.pow(5 + length, alpha) / math.pow(6, alpha)


def hf_length_penalty(length, alpha):
    return math.pow(length, alpha)
