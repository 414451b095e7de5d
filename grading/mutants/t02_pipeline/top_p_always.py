"""Always runs top_p_filter, also at top_p=1.0, which removes finite logits whose probability underflows to 0."""


def process_logits(logits: torch.Tensor, input_ids: torch.Tensor, prompt_length: int, *,
                   repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, presence_penalty: float = 0.0,
                   frequency_penalty: float = 0.0, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float = 1.0) -> torch.Tensor:
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(prompt_length) or not 0 <= prompt_length <= input_ids.shape[1]:
        raise ValueError(f"prompt_length must be an int in [0, {input_ids.shape[1]}], got {prompt_length!r}")
    if not is_int(no_repeat_ngram_size) or no_repeat_ngram_size < 0:
        raise ValueError(f"no_repeat_ngram_size must be an int >= 0, got {no_repeat_ngram_size!r}")
    scores = logits.clone()
    if repetition_penalty != 1.0:
        scores = penalize_repetition(scores, input_ids, repetition_penalty)
    if no_repeat_ngram_size > 0:
        scores = no_repeat_ngram(scores, input_ids, no_repeat_ngram_size)
    if presence_penalty != 0.0 or frequency_penalty != 0.0:
        scores = presence_frequency_penalty(scores, input_ids[:, prompt_length:], presence_penalty, frequency_penalty)
    if temperature != 1.0:
        scores = apply_temperature(scores, temperature)
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if True:
        scores = top_p_filter(scores, top_p)
    return scores
