"""Feeds the whole sequence so far at every decode step, on top of what the cache already holds."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            logits = model(ids, cache, last_only=True)
            ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids, step_times)
