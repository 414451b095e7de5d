"""No validation: penalty 0 divides by zero, mismatched ids are not noticed."""


def repetition_penalty(logits, input_ids, penalty):
    ids = input_ids.long()
    seen = torch.gather(logits, 1, ids)
    return logits.scatter(1, ids, torch.where(seen < 0, seen * penalty, seen / penalty))
