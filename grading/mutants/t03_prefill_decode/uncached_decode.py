"""Prefills through the cache, then decodes by running the whole sequence without the cache."""


def prefill_decode(model, input_ids, max_new_tokens):
    _check_new_tokens(max_new_tokens)
    B, T = input_ids.shape
    cache = model.new_cache(B, T + max_new_tokens)
    with torch.inference_mode():
        start = clock(input_ids.device)
        ids = torch.cat([input_ids, model(input_ids, cache, last_only=True)[:, -1].argmax(dim=-1, keepdim=True)], 1)
        step_times = [clock(input_ids.device) - start]
        for _ in range(max_new_tokens - 1):
            start = clock(input_ids.device)
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
            step_times.append(clock(input_ids.device) - start)
    return Generation(ids, step_times)
