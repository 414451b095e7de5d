"""Converts the length with float(...) first: right for numbers, but a tensor of several lengths fails."""


def gnmt_length_penalty(length, alpha):
    return (5 + float(length)) ** alpha / 6 ** alpha


def hf_length_penalty(length, alpha):
    return float(length) ** alpha
