"""A Python loop: the first index of each row's maximum."""


def greedy(logits):
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be (B, V) floats, got {getattr(logits, 'shape', logits)}")
    tokens = []
    for row in logits.tolist():
        best = 0
        for i, value in enumerate(row):
            if value > row[best]:
                best = i
        tokens.append(best)
    return torch.tensor(tokens, dtype=torch.long)
