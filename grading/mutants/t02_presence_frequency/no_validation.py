"""No validation: infinite or missing penalties are not rejected."""


def presence_frequency_penalty(logits, generated_ids, presence_penalty, frequency_penalty):
    ids = generated_ids.long()
    counts = torch.zeros_like(logits).scatter_add(1, ids, torch.ones_like(ids, dtype=logits.dtype))
    return logits - counts * (frequency_penalty or 0.0) - (counts > 0).to(logits.dtype) * (presence_penalty or 0.0)
