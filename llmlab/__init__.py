"""llmlab: hands-on package for lecture 11, 模型推理二三事 (things about LLM inference)."""
from llmlab.checkpoint import encode, load_model, load_tokenizer, pick_device
from llmlab.check import check

__all__ = ["load_model", "load_tokenizer", "encode", "pick_device", "check", "setup"]


def setup():
    """First cell of every notebook: check the environment and say in one line what will be used.

    Returns (model, tokenizer). The model lives on model.device (a GPU when there is one): give it token ids
    made there, `llmlab.encode(tokenizer, text, model.device)`, and plot `.cpu()` copies of its tensors."""
    import torch

    from llmlab.checkpoint import _checkpoint_dir
    from llmlab.plotting import cjk_font

    model, tokenizer = load_model(), load_tokenizer()
    c = model.config
    font = cjk_font()
    print(f"llmlab: checkpoint {_checkpoint_dir(None).name} ({model.num_parameters() / 1e6:.2f}M params, "
          f"{c.num_hidden_layers} layers, vocab {c.vocab_size}) on {model.device} ({model.lm_head.weight.dtype}), "
          f"torch {torch.__version__}, Chinese font: {font}")
    return model, tokenizer
