"""Runs every processor even at its neutral value (penalty 1, T = 1, zero penalties, top_p = 1); top_k=None and
no_repeat_ngram_size=0 are still skipped. top_p_filter at p = 1 removes finite logits whose probability
underflows to 0, which the docstring says the chain must not do."""


def process_logits(logits, input_ids, prompt_length, *, repetition_penalty=1.0, no_repeat_ngram_size=0,
                   presence_penalty=0.0, frequency_penalty=0.0, temperature=1.0, top_k=None, top_p=1.0):
    check_logits(logits)
    check_token_ids(input_ids, logits)
    if not is_int(prompt_length) or not 0 <= prompt_length <= input_ids.shape[1]:
        raise ValueError(f"prompt_length must be in [0, {input_ids.shape[1]}], got {prompt_length!r}")
    if not is_int(no_repeat_ngram_size) or no_repeat_ngram_size < 0:
        raise ValueError(f"no_repeat_ngram_size must be >= 0, got {no_repeat_ngram_size!r}")
    x = penalize_repetition(logits, input_ids, repetition_penalty)
    if no_repeat_ngram_size:
        x = no_repeat_ngram(x, input_ids, no_repeat_ngram_size)
    x = presence_frequency_penalty(x, input_ids[:, prompt_length:], presence_penalty, frequency_penalty)
    x = apply_temperature(x, temperature)
    if top_k is not None:
        x = top_k_filter(x, top_k)
    return top_p_filter(x, top_p)
