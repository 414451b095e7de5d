"""torch.distributions.Categorical(logits=...).sample(), run on the given generator's state (Categorical itself
only draws from the global generator)."""


def sample(logits, generator=None):
    check_logits(logits)
    dist = torch.distributions.Categorical(logits=logits.float())
    if generator is None:
        return dist.sample()
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        tokens = dist.sample()
        generator.set_state(torch.get_rng_state())
    return tokens
