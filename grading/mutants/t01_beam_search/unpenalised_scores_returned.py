"""Ranks hypotheses by their length-penalised score but returns their raw summed log-probabilities."""


@torch.no_grad()
def beam_search(model, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int, eos_token_id: int | None = None,
                length_penalty: float = 1.0, early_stopping: bool | str = False, num_return_sequences: int = 1):
    _check_beam_args(input_ids, num_beams, max_new_tokens, early_stopping, num_return_sequences)
    prompt = input_ids[0].to(model.device)
    beams = [prompt]                                        # running sequences
    beam_scores = torch.zeros(1, device=prompt.device)      # (n,) their summed log-probs, float32
    finished = []                                           # [(score, sequence)], best first
    for step in range(max_new_tokens):
        gen_len = step + 1                                  # generated tokens once this step's token is added
        logits = model(torch.stack(beams))[:, -1].float()  # (n, V)
        scores = F.log_softmax(logits, dim=-1) + beam_scores[:, None]  # (n, V)
        vocab_size = scores.shape[-1]
        top_scores, top_index = scores.flatten().topk(2 * num_beams)   # (2*nb,), best first
        running = []
        for rank, (score, index) in enumerate(zip(top_scores, top_index.tolist())):
            beam, token = divmod(index, vocab_size)
            sequence = torch.cat([beams[beam], prompt.new_tensor([token])])
            if token == eos_token_id or gen_len == max_new_tokens:
                if rank < num_beams:                        # only the best num_beams may finish
                    finished.append((score / gen_len ** length_penalty, sequence, score))
            elif len(running) < num_beams:
                running.append((score, sequence))
        finished = sorted(finished, key=lambda h: h[0].item(), reverse=True)[:num_beams]
        if gen_len == max_new_tokens or not running:
            break
        beams = [sequence for _, sequence in running]
        beam_scores = torch.stack([score for score, _ in running])
        if len(finished) == num_beams:                      # can a running beam still do better?
            if early_stopping is True:
                break
            best_len = max_new_tokens if early_stopping == "never" and length_penalty > 0 else gen_len
            if beam_scores[0] / best_len ** length_penalty <= finished[-1][0]:
                break
    finished = finished[:num_return_sequences]
    return [h[1] for h in finished], torch.stack([h[2] for h in finished])
