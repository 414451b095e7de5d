"""Allocates model.new_cache(B, T + n - 1), since the last token is never fed back: enough room, but not the
cache the docstring asks for."""


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens - 1)
    new_tokens, step_times, step_input = [], [], input_ids
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = clock(input_ids.device)
            step_input = model(step_input, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)
            new_tokens.append(step_input)
            step_times.append(clock(input_ids.device) - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
