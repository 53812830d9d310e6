"""An offline Hugging Face hub cache holding what vLLM's scheduler tests look up, made here.

The tests build ``ModelConfig(model=<hub id>)``, which reads the model's ``config.json`` (and,
unless ``skip_tokenizer_init``, its tokenizer) from the hub. With ``HF_HOME`` pointing at the
directory this writes and ``HF_HUB_OFFLINE=1``, huggingface_hub resolves those ids from the
local cache (``hub/models--<org>--<name>/{refs/main,snapshots/<rev>/...}``), as if they had
been downloaded. Nothing is downloaded: every file is generated from transformers' own
config classes with the published dimensions of each model (what the scheduler reads from a
config: max_position_embeddings, layer types, vocabulary size, multimodal token ids), and a
tiny WordLevel tokenizer like ``emitter/e2e/make_tiny_model.py``'s (words ``w0..``, split on
whitespace), whose special tokens sit at the ids the real model uses. No weights: the tests
never load a model.

Models (the ids vLLM 0.33.0's and 0.11.0's tests/v1/core/{test_scheduler,test_async_scheduler,
utils}.py name):

* ``facebook/opt-125m``  (``create_scheduler``'s default): OPT, 12 layers, 2048 positions.
* ``llava-hf/llava-1.5-7b-hf``: Llava (CLIP ViT-L/14 at 336 px + Llama-7B), ``<image>`` = 32000,
  with the processor files (``preprocessor_config.json``, ``processor_config.json``,
  chat template) vLLM's multimodal registry reads.
* ``Qwen/Qwen3-Next-80B-A3B-Instruct``: a hybrid (linear + full attention) config.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

#: bump when the generated files change, so a cached cache is rebuilt
LAYOUT = 1


def _tokenizer(out: Path, specials: dict[str, int], n_words: int, extra: dict | None = None) -> None:
    """A WordLevel tokenizer: the special tokens at the given ids, words w0.. elsewhere."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    size = max(max(specials.values()) + 1, n_words)
    taken = set(specials.values())
    vocab = dict(specials)
    w = 0
    for i in range(size):
        if i not in taken:
            vocab[f"w{w}"] = i
            w += 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>" if "<unk>" in specials else next(iter(specials))))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##\x00", cleanup=False)  # join with spaces
    kwargs = {k: v for k, v in (extra or {}).items()}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=1 << 20, **kwargs)
    fast.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    fast.save_pretrained(out)


def opt_125m(out: Path) -> None:
    from transformers import OPTConfig

    OPTConfig(vocab_size=50272, hidden_size=768, num_hidden_layers=12, ffn_dim=3072, num_attention_heads=12,
              max_position_embeddings=2048, word_embed_proj_dim=768, activation_function="relu",
              bos_token_id=2, eos_token_id=2, pad_token_id=1, architectures=["OPTForCausalLM"],
              torch_dtype="float16").save_pretrained(out)
    _tokenizer(out, {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, 1024,
               {"bos_token": "</s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"})


def llava_15_7b(out: Path) -> None:
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
                              num_hidden_layers=24, image_size=336, patch_size=14, projection_dim=768)
    text = LlamaConfig(vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                       rms_norm_eps=1e-5, architectures=["LlamaForCausalLM"])
    LlavaConfig(vision_config=vision, text_config=text, image_token_index=32000, pad_token_id=32001,
                projector_hidden_act="gelu", vision_feature_layer=-2,
                vision_feature_select_strategy="default", architectures=["LlavaForConditionalGeneration"],
                torch_dtype="float16").save_pretrained(out)
    _tokenizer(out, {"<unk>": 0, "<s>": 1, "</s>": 2, "<image>": 32000, "<pad>": 32001}, 32002,
               {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                "extra_special_tokens": {"image_token": "<image>"}})
    mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    (out / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": mean, "image_std": std,
        "image_processor_type": "CLIPImageProcessor", "processor_class": "LlavaProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": 336}}, indent=2) + "\n")
    (out / "processor_config.json").write_text(json.dumps({
        "image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": 14,
        "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "default"}, indent=2) + "\n")


def qwen3_next_80b(out: Path) -> None:
    from transformers import Qwen3NextConfig

    # transformers' defaults are this model's dimensions (48 layers, 3 linear : 1 full attention)
    Qwen3NextConfig(vocab_size=151936, max_position_embeddings=262144, bos_token_id=151643,
                    eos_token_id=151645, architectures=["Qwen3NextForCausalLM"],
                    torch_dtype="bfloat16").save_pretrained(out)
    _tokenizer(out, {"<unk>": 0, "<|endoftext|>": 151643, "<|im_end|>": 151645}, 1024,
               {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>"})


MODELS = {
    "facebook/opt-125m": opt_125m,
    "llava-hf/llava-1.5-7b-hf": llava_15_7b,
    "Qwen/Qwen3-Next-80B-A3B-Instruct": qwen3_next_80b,
}


def _digest() -> str:
    """This file and the transformers that writes the tokenizer files (their format changes
    across majors) decide the cache's contents."""
    import transformers

    return hashlib.sha256(Path(__file__).read_bytes() + transformers.__version__.encode()).hexdigest()[:12]


def build(hf_home: Path) -> Path:
    """Write the cache under ``hf_home`` (an HF_HOME); reused while this file is unchanged."""
    stamp = hf_home / ".vsched-ready"
    if stamp.exists() and stamp.read_text().strip() == _digest():
        return hf_home
    for repo, make in MODELS.items():
        org, name = repo.split("/")
        base = hf_home / "hub" / f"models--{org}--{name}"
        rev = hashlib.sha1(f"vsched-{LAYOUT}-{repo}".encode()).hexdigest()
        snap = base / "snapshots" / rev
        snap.mkdir(parents=True, exist_ok=True)
        make(snap)
        (base / "refs").mkdir(exist_ok=True)
        (base / "refs" / "main").write_text(rev)
    stamp.write_text(_digest() + "\n")
    return hf_home


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
