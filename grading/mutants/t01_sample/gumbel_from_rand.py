"""Gumbel-max with noise from torch.rand: right distribution, different random stream."""


def sample(logits, generator=None):
    check_logits(logits)
    u = torch.rand(logits.shape, generator=generator).clamp(min=1e-20)
    return (logits.float() - torch.log(-torch.log(u))).argmax(dim=-1)
