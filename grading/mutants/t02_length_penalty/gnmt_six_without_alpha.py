"""Divides by 6 instead of 6^alpha."""


def gnmt_length_penalty(length, alpha):
    return (5 + length) ** alpha / 6
