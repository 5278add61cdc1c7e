"""End-to-end tour of the LiveChat model: build it from its config, generate comments, save, reload with AutoModel.

    python examples/build_generate_reload.py [--out livechat-demo]

The model is untrained (random weights), so the comments are noise; `hf-livechat quickstart` trains one.
"""

import argparse
import time

import numpy as np
import torch
from transformers import AutoModel, AutoProcessor

import hf_livechat  # noqa: F401  (registers LiveChat with the Auto classes)
from hf_livechat import LiveChatConfig, LiveChatForCommentGeneration, LiveChatProcessor
from hf_livechat.tokenization import default_tokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="livechat-demo", help="folder to save the model and processor in")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = LiveChatConfig()  # the published reference architecture
    model = LiveChatForCommentGeneration(config).eval()
    processor = LiveChatProcessor.from_config(default_tokenizer(), config)
    print(f"LiveChat reference model: {model.num_parameters() / 1e6:.1f}M parameters")

    clip = processor(
        video_features=np.random.default_rng(0).standard_normal((20, config.video_feature_dim), dtype=np.float32),
        transcript="okay chat we are going into the boss fight now, wish me luck",
        chat=["good luck", "you got this PogChamp", "is this the last boss?"],
    )
    start = time.perf_counter()
    generated = model.generate(**clip, num_beams=4, max_new_tokens=config.max_comment_length + 1)
    print(f"beam search ({(time.perf_counter() - start) * 1000:.0f} ms): {processor.batch_decode(generated)[0]!r}")

    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)
    reloaded = AutoModel.from_pretrained(args.out).eval()
    reloaded_processor = AutoProcessor.from_pretrained(args.out)
    same = torch.equal(reloaded.generate(**clip, num_beams=4, max_new_tokens=11), generated)
    print(f"saved to {args.out}/ and reloaded with AutoModel ({type(reloaded).__name__}, "
          f"{type(reloaded_processor).__name__}): identical generation = {same}")
    if not same:
        raise SystemExit("reloaded model generated different tokens")


if __name__ == "__main__":
    main()
