"""Correct alternative: GNMT's penalty as ((5 + |Y|) / 6) ** alpha, one power instead of two."""


def gnmt_length_penalty(length, alpha):
    return ((5 + length) / 6) ** alpha


def hf_length_penalty(length, alpha):
    return length ** alpha
