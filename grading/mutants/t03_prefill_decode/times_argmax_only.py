"""Right tokens and calls, but each step times only the argmax, not the forward pass."""


def prefill_decode(model, input_ids, max_new_tokens):
    cache = model.new_cache(input_ids.shape[0], input_ids.shape[1] + max_new_tokens)
    step_input, new_tokens, step_times = input_ids, [], []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            logits = model(step_input, cache, last_only=True)
            start = time.perf_counter()
            step_input = logits[:, -1].argmax(dim=-1, keepdim=True)
            new_tokens.append(step_input)
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
