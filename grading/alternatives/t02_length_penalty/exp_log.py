"""exp(alpha * log(...)) forms."""


def gnmt_length_penalty(length, alpha):
    return math.exp(alpha * (math.log(5 + length) - math.log(6)))


def hf_length_penalty(length, alpha):
    return math.exp(alpha * math.log(length))
