"""The exercises: one task ID per exercise, used everywhere (stub errors, pytest markers, nbgrader
grade_id, grade sheet columns, feedback headings). Points are declared here and nowhere else."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    id: str          # e.g. "t01_top_p"; the prefix is the notebook number
    module: str      # the llmlab module holding the stub
    points: float
    title: str       # one line, shown in feedback and in the grade sheet header
    names: tuple     # the functions/classes of `module` the student writes for this task
    needs: tuple = ()  # the tasks whose code this task's public tests also run: finish those first

    @property
    def notebook(self) -> str:
        return NOTEBOOKS[self.id[1:3]]


NOTEBOOKS = {
    "01": "01_decoding_strategies",
    "02": "02_temperature_and_penalties",
    "03": "03_prefill_vs_decode",
    "04": "04_flops",
    "05": "05_kv_cache",
}

TASKS = [
    Task("t01_greedy", "decoding", 2, "greedy decoding: argmax, lowest index on ties", ("greedy",)),
    Task("t01_sample", "decoding", 3, "sampling from logits with a torch.Generator", ("sample",)),
    Task("t01_top_k", "decoding", 4, "top-k filter (transformers semantics)", ("top_k_filter",)),
    Task("t01_top_p", "decoding", 5, "top-p (nucleus) filter (transformers semantics)", ("top_p_filter",)),
    Task("t01_beam_search", "decoding", 10, "beam search with EOS, length penalty, early stopping", ("beam_search",)),
    Task("t02_temperature", "processors", 3, "temperature: softmax(z / T)", ("apply_temperature",)),
    Task("t02_repetition_penalty", "processors", 4, "repetition penalty (transformers / CTRL)", ("repetition_penalty",)),
    Task("t02_presence_frequency", "processors", 4, "presence and frequency penalties (OpenAI)", ("presence_frequency_penalty",)),
    Task("t02_no_repeat_ngram", "processors", 4, "no_repeat_ngram_size ban", ("no_repeat_ngram",)),
    Task("t02_length_penalty", "processors", 3, "length penalty: GNMT and transformers forms", ("gnmt_length_penalty", "hf_length_penalty")),
    Task("t02_pipeline", "processors", 4, "the logits processor chain in transformers' order", ("process_logits",),
         needs=("t01_greedy", "t01_sample", "t01_top_k", "t01_top_p", "t02_temperature", "t02_repetition_penalty",
                "t02_presence_frequency", "t02_no_repeat_ngram")),
    Task("t03_generate_naive", "generation", 4, "autoregressive generation without a cache", ("generate_naive",)),
    Task("t03_prefill_decode", "generation", 6, "prefill then decode with a KV cache, TTFT and TPOT", ("prefill_decode",),
         needs=("t05_kv_cache", "t05_cached_attention")),
    Task("t04_flops", "flops", 10, "FLOPs of a decoder layer, of decoding, and of LLaMA", ("matmul_flops", "attention_flops", "mlp_flops", "layer_flops", "decode_step_flops", "generation_flops", "llama_layer_flops", "llama_forward_flops")),
    Task("t05_kv_cache", "kv_cache", 8, "a preallocated KV cache", ("KVCache",)),
    Task("t05_cached_attention", "kv_cache", 12, "attention over a KV cache", ("cached_attention",), needs=("t05_kv_cache",)),
]

TASK_IDS = [t.id for t in TASKS]
BY_ID = {t.id: t for t in TASKS}
BY_NAME = {(t.module, name): t for t in TASKS for name in t.names}
EXERCISE_MODULES = sorted({t.module for t in TASKS})
MAX_POINTS = sum(t.points for t in TASKS)


def prerequisites(task_id: str) -> list[str]:
    """Every task that `task_id` needs, directly or through another task, in the order of TASKS."""
    needed, todo = set(), list(BY_ID[task_id].needs)
    while todo:
        need = todo.pop()
        if need not in needed:
            needed.add(need)
            todo += BY_ID[need].needs
    return [t for t in TASK_IDS if t in needed]
