"""Load and save Hugging Face format Llama checkpoints, locally only (no hub, no network).

A checkpoint directory holds config.json, the weights as model.safetensors (or shards listed in
model.safetensors.index.json) and, for text, tokenizer.json. Anything wrong with it raises one
CheckpointError that names the file and the problem; nothing is loaded half-way.
"""
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from llmlab import fake_cuda
from llmlab.model import Llama, LlamaConfig, RotaryEmbedding, rope_inv_freq

SHIPPED = Path(__file__).resolve().parent / "checkpoints" / "tiny-zh"
_CONFIG_KEYS = {  # our LlamaConfig field -> HF config.json key
    "vocab_size": "vocab_size", "hidden_size": "hidden_size", "intermediate_size": "intermediate_size",
    "num_hidden_layers": "num_hidden_layers", "num_attention_heads": "num_attention_heads",
    "num_key_value_heads": "num_key_value_heads", "head_dim": "head_dim", "rms_norm_eps": "rms_norm_eps",
    "max_position_embeddings": "max_position_embeddings", "tie_word_embeddings": "tie_word_embeddings",
    "attention_bias": "attention_bias", "mlp_bias": "mlp_bias", "bos_token_id": "bos_token_id",
    "eos_token_id": "eos_token_id", "pad_token_id": "pad_token_id",
}
_REQUIRED = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be loaded; the message names the file and the problem."""


def pick_device(device=None) -> torch.device:
    """The given device, else $LLMLAB_DEVICE, else CUDA, then MPS, then CPU.

    "fake-cuda" is a CPU stand-in for a GPU that finds device mistakes (llmlab.fake_cuda): cuda:0 from then on."""
    device = device or os.environ.get("LLMLAB_DEVICE")
    if str(device) == "fake-cuda":
        fake_cuda.enable()
        return fake_cuda.DEVICE
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_config(directory) -> LlamaConfig:
    """The LlamaConfig of a checkpoint directory's config.json (transformers 4.x or 5.x style)."""
    path = Path(directory) / "config.json"
    hf = _read_json(path)
    if hf.get("model_type") != "llama":
        raise CheckpointError(f"{path}: model_type is {hf.get('model_type')!r}; only 'llama' checkpoints "
                              f"are supported")
    if hf.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"{path}: hidden_act {hf['hidden_act']!r} is not supported (only 'silu')")
    missing = [k for k in _REQUIRED if k not in hf]
    if missing:
        raise CheckpointError(f"{path}: missing keys {missing}")
    fields = {ours: hf[theirs] for ours, theirs in _CONFIG_KEYS.items() if hf.get(theirs) is not None}
    rope = dict(hf.get("rope_parameters") or hf.get("rope_scaling") or {})  # 5.x, or 4.x scaling
    fields["rope_theta"] = float(rope.pop("rope_theta", hf.get("rope_theta", 10000.0)))
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        fields["rope_scaling"] = rope
    try:
        config = LlamaConfig(**fields)
        rope_inv_freq(config)  # rejects rope types we do not implement
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: {e}") from None
    return config


def _weight_files(directory: Path) -> list[Path]:
    index = directory / "model.safetensors.index.json"
    if index.exists():
        weight_map = _read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index}: no 'weight_map'")
        return [directory / name for name in sorted(set(weight_map.values()))]
    single = directory / "model.safetensors"
    if single.exists():
        return [single]
    if (directory / "pytorch_model.bin").exists():
        raise CheckpointError(f"{directory / 'pytorch_model.bin'}: pickled weights are not loaded (unsafe); "
                              f"convert the checkpoint to safetensors")
    raise CheckpointError(f"{single}: file not found (nor model.safetensors.index.json)")


def load_state_dict(directory) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint's safetensors file(s), with HF's "model." prefix removed."""
    state = {}
    for path in _weight_files(Path(directory)):
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found (listed in model.safetensors.index.json)")
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
        for name, tensor in tensors.items():
            state[name.removeprefix("model.")] = tensor
    return state


def _checkpoint_dir(path) -> Path:
    """path, else $LLMLAB_CHECKPOINT (a local checkpoint of one's own), else the shipped tiny model."""
    return Path(path or os.environ.get("LLMLAB_CHECKPOINT") or SHIPPED)


def load_model(path=None, device=None, dtype=None) -> Llama:
    """A Llama built from a local checkpoint directory (default: $LLMLAB_CHECKPOINT, else the shipped tiny
    model), ready for inference.

    dtype defaults to float32 on CPU and to the checkpoint's own dtype elsewhere (pass torch.bfloat16 or
    torch.float16 to choose)."""
    directory = _checkpoint_dir(path)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory")
    config = load_config(directory)
    state = load_state_dict(directory)
    weight_file = _weight_files(directory)[0].name
    with torch.device("meta"):
        model = Llama(config)
    expected = model.state_dict()
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # some tied checkpoints store the shared matrix twice
        expected.pop("lm_head.weight")
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise CheckpointError(f"{directory / weight_file}: weights do not match config.json: "
                              f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise CheckpointError(f"{directory / weight_file}: {name} has shape {tuple(state[name].shape)}, "
                                  f"config.json implies {tuple(tensor.shape)}")
    device = pick_device(device)
    dtype = dtype or (torch.float32 if device.type == "cpu" else state["embed_tokens.weight"].dtype)
    model.load_state_dict(state, strict=False, assign=True)  # lm_head is tied or present
    if config.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight
    model.rope = RotaryEmbedding(config)  # rebuild the non-persistent RoPE buffer off the meta device
    return to_device(model.to(dtype), device).requires_grad_(False).eval()


def to_device(model: Llama, device=None) -> Llama:
    """model.to(device) (device as pick_device chooses it), or onto the fake GPU while llmlab.fake_cuda is on."""
    device = pick_device(device)
    if device.type == "cuda" and fake_cuda.enabled():
        return fake_cuda.move(model)
    return model.to(device)


def load_tokenizer(path=None) -> Tokenizer:
    """The `tokenizers.Tokenizer` of a checkpoint directory's tokenizer.json (default: the shipped model)."""
    file = _checkpoint_dir(path) / "tokenizer.json"
    if not file.is_file():
        raise CheckpointError(f"{file}: file not found")
    try:
        return Tokenizer.from_file(str(file))
    except Exception as e:  # tokenizers raises a bare Exception on malformed files
        raise CheckpointError(f"{file}: not a valid tokenizer.json ({e})") from None


def encode(tokenizer, text: str, device=None) -> torch.Tensor:
    """The token ids of `text` as the model takes them: a (1, T) int64 tensor on `device` (pass model.device).

    tokenizer: a `tokenizers.Tokenizer` (as load_tokenizer() returns) or a transformers tokenizer."""
    encoded = tokenizer.encode(text)
    ids = list(getattr(encoded, "ids", encoded))                     # tokenizers' Encoding, or a plain list
    return torch.tensor([ids], dtype=torch.long, device=device)


def hf_config_dict(config: LlamaConfig) -> dict:
    """config.json contents that transformers (5.x) reads as the same model."""
    hf = {theirs: getattr(config, ours) for ours, theirs in _CONFIG_KEYS.items()}
    hf.update(model_type="llama", architectures=["LlamaForCausalLM"], hidden_act="silu",
              rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta, **(config.rope_scaling or {})})
    return hf


def save_checkpoint(model: Llama, directory, dtype=None) -> Path:
    """Write config.json and model.safetensors (HF names, "model." prefix) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(hf_config_dict(model.config), indent=2) + "\n")
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue  # transformers re-ties it from embed_tokens
        key = name if name == "lm_head.weight" else f"model.{name}"
        state[key] = tensor.detach().to(dtype or tensor.dtype).contiguous().cpu()
    save_file(state, directory / "model.safetensors", metadata={"format": "pt"})
    return directory
