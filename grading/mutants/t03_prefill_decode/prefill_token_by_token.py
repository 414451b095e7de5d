"""Prefills by feeding the prompt one token at a time through the cache (T forward passes, all in step 0)."""


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens)
    new_tokens, step_times = [], []
    with torch.inference_mode():
        start = clock(input_ids.device)
        for t in range(T):
            logits = model(input_ids[:, t:t + 1], cache)
        token = logits[:, -1].argmax(dim=-1, keepdim=True)
        new_tokens.append(token)
        step_times.append(clock(input_ids.device) - start)
        for _ in range(max_new_tokens - 1):
            start = clock(input_ids.device)
            token = model(token, cache)[:, -1].argmax(dim=-1, keepdim=True)
            new_tokens.append(token)
            step_times.append(clock(input_ids.device) - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
