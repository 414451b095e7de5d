"""exp(alpha * log(...)) forms: math for numbers, torch for a tensor of lengths."""


def _power(base, alpha):
    """base ** alpha as exp(alpha * log(base))."""
    if isinstance(base, torch.Tensor):
        return torch.exp(alpha * torch.log(base))
    return math.exp(alpha * math.log(base))


def gnmt_length_penalty(length, alpha):
    return _power(5 + length, alpha) / _power(6, alpha)


def hf_length_penalty(length, alpha):
    return _power(length, alpha)
