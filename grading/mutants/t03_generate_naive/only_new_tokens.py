"""Returns only the n generated tokens (B, n), without the prompt."""


def generate_naive(model, input_ids, max_new_tokens):
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            ids = torch.cat([ids, model(ids)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids[:, input_ids.shape[1]:], step_times)
