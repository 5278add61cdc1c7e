"""Loaders of published datasets, one module each; `data/builders/` is for VOD -> shards only.

- `mmsa.py`: MMSA feature pickles (CH-SIMS, CH-SIMS v2, CMU-MOSI, CMU-MOSEI) -> `DatasetDict`
- `meld.py`: MELD's csvs -> `DatasetDict` (7 emotions, 3 sentiments, the clip of each utterance)
- `mustard.py`: MUStARD's json -> `Dataset`, its speaker-dependent folds and speaker-independent split
- `twitch_fifa.py`: the Twitch-FIFA release -> LiveChat clip shards with a dataset card
- `common.py`: what they share (`BenchmarkFormatError`, the unique-id checks, `affect_feature_dims`)

Import from the module (`from hf_livechat.data.benchmarks.meld import load_meld`): this package imports nothing, so
reading one benchmark never pulls in another's dependencies.
"""
