"""Gives the right tokens but never uses the cache: every step re-runs the whole sequence."""


def prefill_decode(model, input_ids, max_new_tokens):
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids, step_times)
