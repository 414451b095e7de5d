"""Runs the model once on the prompt and takes the argmax of those same logits at every step."""


def generate_naive(model, input_ids, max_new_tokens):
    ids, step_times = input_ids, []
    with torch.inference_mode():
        logits = model(ids)
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            next_token = logits[:, -1].argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, next_token], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids, step_times)
