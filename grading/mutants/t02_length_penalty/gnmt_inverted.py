"""GNMT upside down: 6^alpha / (5 + |Y|)^alpha."""


def gnmt_length_penalty(length, alpha):
    return 6 ** alpha / (5 + length) ** alpha
