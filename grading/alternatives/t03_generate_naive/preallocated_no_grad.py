"""Correct alternative: a preallocated token tensor filled in place, torch.no_grad, a slice as model input."""


def generate_naive(model, input_ids, max_new_tokens):
    B, T = input_ids.shape
    tokens = torch.empty(B, T + max_new_tokens, dtype=input_ids.dtype, device=input_ids.device)
    tokens[:, :T] = input_ids
    step_times = []
    with torch.no_grad():
        for t in range(T, T + max_new_tokens):
            start = time.perf_counter()
            probs = torch.softmax(model(tokens[:, :t])[:, t - 1], dim=-1)  # argmax of softmax = argmax of logits
            tokens[:, t] = probs.argmax(dim=-1)
            step_times.append(time.perf_counter() - start)
    return Generation(tokens, step_times)
