#!/usr/bin/env python3
"""Build a tiny random-weight Llama model + a local tokenizer, with no download.

Usage: python make_tiny_model.py OUT_DIR [--seed 0]

The result is a normal Hugging Face model directory (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, ...) that
`vllm.LLM(model=OUT_DIR)` and `vllm serve OUT_DIR` load from disk.

Shape: 2 layers, hidden 128, 2 query heads / 1 KV head of size 64 (vLLM's
CPU attention kernels want a head size of 32/64/80/...; 64 is safe),
vocab 1024. The tokenizer is a WordLevel tokenizer over a fixed, generated
vocabulary ("w0".."w1019" + 4 special tokens) split on whitespace, so a
prompt of N words is exactly N tokens (+1 BOS).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

VOCAB_SIZE = 1024
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def word(i: int) -> str:
    return f"w{i}"


def build_tokenizer(out_dir: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for i in range(VOCAB_SIZE - len(SPECIALS)):
        vocab[word(i)] = len(vocab)
    assert len(vocab) == VOCAB_SIZE

    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    # WordPiece decoder with an impossible prefix == "join with spaces".
    tok.decoder = decoders.WordPiece(prefix="##\x00", cleanup=False)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=2048,
    )
    # A trivial chat template so /v1/chat/completions would also work.
    fast.chat_template = (
        "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    )
    fast.save_pretrained(out_dir)
    return fast, vocab


def build_model(out_dir: str, vocab: dict, seed: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(cfg)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    return cfg, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.makedirs(args.out_dir, exist_ok=True)

    fast, vocab = build_tokenizer(args.out_dir)
    _, nparams = build_model(args.out_dir, vocab, args.seed)

    # Sanity: round trip through the saved files.
    from transformers import AutoTokenizer

    t2 = AutoTokenizer.from_pretrained(args.out_dir)
    ids = t2("w1 w2 w3")["input_ids"]
    assert ids == [vocab["<s>"], vocab["w1"], vocab["w2"], vocab["w3"]], ids
    assert t2.decode(ids[1:]) == "w1 w2 w3", t2.decode(ids[1:])

    info = {"out_dir": os.path.abspath(args.out_dir), "params": nparams,
            "vocab_size": VOCAB_SIZE, "seed": args.seed}
    with open(os.path.join(args.out_dir, "vsched_tiny_model.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
