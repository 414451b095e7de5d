"""Computes with float64 tensors and returns 0-d tensors."""


def gnmt_length_penalty(length, alpha):
    return ((5 + torch.as_tensor(length, dtype=torch.float64)) / 6) ** alpha


def hf_length_penalty(length, alpha):
    return torch.as_tensor(length, dtype=torch.float64) ** alpha
