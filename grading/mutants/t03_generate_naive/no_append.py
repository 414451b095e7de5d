"""Records each new token but keeps feeding the model the prompt alone (forgets to append to its input)."""


def generate_naive(model, input_ids, max_new_tokens):
    new_tokens, step_times = [], []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            logits = model(input_ids)
            new_tokens.append(logits[:, -1].argmax(dim=-1, keepdim=True))
            step_times.append(time.perf_counter() - start)
    return Generation(torch.cat([input_ids, *new_tokens], dim=1), step_times)
