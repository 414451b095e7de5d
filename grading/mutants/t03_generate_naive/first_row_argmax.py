"""Takes the argmax of batch row 0 and gives that token to every row."""


def generate_naive(model, input_ids, max_new_tokens):
    ids, step_times = input_ids, []
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            start = time.perf_counter()
            logits = model(ids)
            next_token = logits[0, -1].argmax().expand(ids.shape[0], 1)
            ids = torch.cat([ids, next_token], dim=1)
            step_times.append(time.perf_counter() - start)
    return Generation(ids, step_times)
