"""Correct alternative: collections.Counter over each row's generated tokens, one entry changed at a time on a
clone."""
import collections


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    check_logits(logits)
    check_token_ids(generated_ids, logits, "generated_ids")
    for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    out = logits.clone()
    for b, row in enumerate(generated_ids.tolist()):
        for token, count in collections.Counter(row).items():
            out[b, token] -= count * frequency_penalty + presence_penalty
    return out
