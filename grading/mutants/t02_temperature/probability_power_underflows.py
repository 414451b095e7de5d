"""Works with probabilities: log(p ** (1 / T) / sum(p ** (1 / T))), the distribution of softmax(z / T) in exact
arithmetic, but small probabilities underflow to 0, so finite logits far below the row's maximum become -inf."""


def apply_temperature(logits, temperature):
    check_logits(logits)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (0 < temperature < math.inf):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    probs = torch.softmax(logits.double(), dim=-1) ** (1.0 / temperature)
    return torch.log(probs / probs.sum(dim=-1, keepdim=True)).to(logits.dtype)
