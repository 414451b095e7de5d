"""Counts one token more: (|Y| + 1)^alpha."""


def hf_length_penalty(length, alpha):
    return (length + 1) ** alpha
