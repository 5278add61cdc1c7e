from pathlib import Path

import numpy as np
import pytest

from hf_livechat.evaluation.candidates import CandidateError, CandidateSet, build_candidates
from hf_livechat.evaluation.ranking_metrics import ranking_metrics


SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def comments(*texts):
    return [{"time": float(i), "author": f"viewer{i}", "text": text} for i, text in enumerate(texts)]


def clip(vod_id, transcript, context, response):
    return {
        "vod_id": vod_id,
        "clip_index": 0,
        "transcript": transcript,
        "context_comments": comments(*context),
        "response_comments": comments(*response),
    }


# Clip 0 is about a dragon; clips 1-3 of the same video give the distractor pool; video "other" must never be used.
ROWS = [
    clip("vod", "the dragon fight starts now", ["dragon incoming"], ["kill the dragon", "hello chat", "lol"]),
    clip("vod", "shopping time", ["buy boots", "boots first"], ["dragon fight dragon", "gg", "lol", "nice"]),
    clip("vod", "what a round", ["gg", "pog"], ["so close", "gg", "unlucky", "that dragon tho"]),
    clip("vod", "back to lane", ["lol", "gg"], ["farm time", "gg", "sleepy", "LUL", "boots"]),
    clip("other", "the dragon fight", ["dragon"], ["dragon dragon dragon", "x", "y", "z", "w", "v", "u", "t"]),
]


def texts_of_clips(rows, indices):
    return {c["text"] for i in indices for key in ("context_comments", "response_comments") for c in rows[i][key]}


def test_livechat_ground_truth_and_plausible_distractors():
    first = build_candidates(ROWS, "livechat", seed=0, shuffle=False)[0]
    assert first.query_index == 0 and first.protocol == "livechat" and len(first.candidates) == 10
    # The response comment most similar to "the dragon fight starts now dragon incoming".
    assert first.positives == ["kill the dragon"] and first.positive_indices == [0]
    # Unshuffled, the distractors come most similar first.
    assert first.candidates[1] == "dragon fight dragon"
    assert first.candidates[2] == "that dragon tho"
    distractors = set(first.candidates[1:])
    assert len(distractors) == 9
    assert distractors <= texts_of_clips(ROWS, [1, 2, 3])  # other clips of the same video only
    assert not distractors & {"kill the dragon", "hello chat", "lol"}  # never one of this clip's responses
    assert "dragon incoming" not in distractors  # only in this clip's own context


def test_shuffle_is_reproducible_from_the_seed():
    sets = build_candidates(ROWS, "livechat", seed=3)
    assert sets == build_candidates(ROWS, "livechat", seed=3)
    unshuffled = build_candidates(ROWS, "livechat", seed=3, shuffle=False)
    for shuffled, ordered in zip(sets, unshuffled, strict=True):
        assert sorted(shuffled.candidates) == sorted(ordered.candidates)
        assert shuffled.positives == ordered.positives
    orders = {tuple(build_candidates(ROWS, "livechat", seed=seed)[0].candidates) for seed in range(5)}
    assert len(orders) > 1
    positions = [build_candidates(ROWS, "livechat", seed=seed)[0].positive_indices[0] for seed in range(30)]
    assert len(set(positions)) > 3  # the ground truth is not always in the same place


def test_empty_responses_and_small_pools_are_skipped_and_counted():
    rows = ROWS + [clip("vod", "quiet", ["anyone?"], [])]
    sets = build_candidates(rows, "livechat")
    # Clip 5 has no response; video "other" has a single clip, so no distractor pool at all.
    assert [s.query_index for s in sets] == [0, 1, 2, 3]
    assert sets.skipped == {"empty_response": 1, "too_few_distractors": 1}
    assert len(build_candidates(ROWS, "livechat", num_candidates=30)) == 0


def test_popular_distractors_are_the_most_frequent_comments():
    first = build_candidates(ROWS, "livechat-popular", shuffle=False)[0]
    assert first.positives == ["kill the dragon"]
    # "gg" is said 5 times in the video; "lol" (3 times) is one of clip 0's responses; then comments said once, in
    # order of appearance ("dragon incoming" is only in clip 0's context).
    assert first.candidates[1:] == [
        "gg",
        "buy boots",
        "boots first",
        "dragon fight dragon",
        "nice",
        "pog",
        "so close",
        "unlucky",
        "that dragon tho",
    ]
    training = ["pog"] * 5 + ["kekw"] * 4 + ["gg"] * 3 + [f"comment {i}" for i in range(20)]
    from_training = build_candidates(ROWS, "livechat-popular", shuffle=False, train_comments=training)[0]
    assert from_training.candidates[1:4] == ["pog", "kekw", "gg"]
    assert from_training.candidates[4:] == [f"comment {i}" for i in range(6)]


def test_random_distractors_depend_on_the_seed_only():
    draws = [frozenset(build_candidates(ROWS, "livechat-random", seed=seed)[0].candidates) for seed in range(6)]
    assert draws[0] == frozenset(build_candidates(ROWS, "livechat-random", seed=0)[0].candidates)
    assert len(set(draws)) > 1
    for draw in draws:
        assert draw - {"kill the dragon"} <= texts_of_clips(ROWS, [1, 2, 3])


def test_livebot_protocol():
    training = [f"popular {i}" for i in range(30) for _ in range(30 - i)] + [f"rare {i}" for i in range(200)]
    training += ["dragon fight"] * 2
    rows = [clip("vod", "the dragon", ["dragon!"], ["kill it", "popular 0", "wow", "so good", "nice", "gg", "ok"])]
    first = build_candidates(rows, "livebot", seed=0, train_comments=training, shuffle=False)[0]
    assert first.protocol == "livebot" and len(first.candidates) == len(set(first.candidates)) == 100
    # The first max_positives (5) distinct response comments are ground truths, in time order.
    assert first.positives == ["kill it", "popular 0", "wow", "so good", "nice"]
    # Then the 20 most popular training comments (a ground truth among them is not repeated).
    assert first.candidates[5:25] == [f"popular {i}" for i in range(1, 21)]
    # Then the 20 most similar: "dragon fight" is the only one sharing a word with the context.
    assert first.candidates[25] == "dragon fight"
    # The 6th and 7th responses are not positives, and not distractors either.
    assert "gg" not in first.candidates and "ok" not in first.candidates
    shuffled = build_candidates(rows, "livebot", seed=0, train_comments=training)[0]
    assert sorted(shuffled.positives) == sorted(first.positives)
    assert len(shuffled.positive_indices) == 5


def test_chance_level_of_a_random_scorer_on_real_twitch_chat():
    path = SHARED_DATA / "twitch_vod_chat" / "1087079172.json"
    if not path.is_file():
        pytest.skip(f"real Twitch chat not found at {path}")
    from hf_livechat.data.chat.reader import read_chat
    from hf_livechat.data.clips import ClipConfig, make_clips

    messages = list(read_chat(path))
    clips = make_clips("1087079172", messages, None, duration=2922.0, config=ClipConfig(selection="all"))
    rows = [
        {
            "vod_id": c.vod_id,
            "transcript": "",
            "context_comments": list(c.context_comments),
            "response_comments": list(c.response_comments),
        }
        for c in clips
    ]
    sets = build_candidates(rows, "livechat", seed=0)
    assert len(sets) + sum(sets.skipped.values()) == len(rows) and len(sets) > 50
    for candidate_set in sets:
        row = rows[candidate_set.query_index]
        responses = {m.text.strip() for m in row["response_comments"]}
        assert len(set(candidate_set.candidates)) == 10
        assert candidate_set.positives[0] in responses
        assert not responses & (set(candidate_set.candidates) - set(candidate_set.positives))
    scores = np.random.default_rng(0).random((len(sets), 10))
    metrics = ranking_metrics(scores, [s.positive_indices for s in sets], protocol="livechat")
    assert 0.02 < metrics["recall@1"] < 0.25  # chance is 10 %


def test_sliding_clips_never_take_their_own_comments_as_distractors():
    said = [(float(t), f"comment {t}") for t in range(0, 120, 2)]
    rows = []
    for index, start in enumerate(range(0, 90, 5)):  # 30 s clips every 5 s: neighbours share comments
        rows.append({
            "vod_id": "vod", "clip_index": index, "start": float(start), "end": start + 30.0, "transcript": "",
            "context_comments": [{"time": t, "text": x} for t, x in said if start <= t < start + 20],
            "response_comments": [{"time": t, "text": x} for t, x in said if start + 20 <= t < start + 30],
        })
    sets = build_candidates(rows, protocol="livechat-random", seed=0)
    assert len(sets) == len(rows)
    for row, candidate_set in zip(rows, sets):
        own = {c["text"] for key in ("context_comments", "response_comments") for c in row[key]}
        assert not own & (set(candidate_set.candidates) - set(candidate_set.positives))
    # Back-to-back clips keep the paper's rule: a text said in another clip may be a distractor.
    back_to_back = [dict(row, start=30.0 * i, end=30.0 * i + 30) for i, row in enumerate(rows)]
    assert any(
        {c["text"] for c in row["context_comments"]} & (set(s.candidates) - set(s.positives))
        for row, s in zip(back_to_back, build_candidates(back_to_back, protocol="livechat-random", seed=0))
    )


def test_bad_input_raises():
    with pytest.raises(CandidateError, match="Unknown candidate protocol"):
        build_candidates(ROWS, "bm25")
    with pytest.raises(CandidateError, match="num_candidates"):
        build_candidates(ROWS, num_candidates=1)
    with pytest.raises(CandidateError, match=r"rows\[0\].*response_comments"):
        build_candidates([{"vod_id": "v", "context_comments": []}])
    with pytest.raises(CandidateError, match="vod_id"):
        build_candidates([{"context_comments": [], "response_comments": []}])
    with pytest.raises(CandidateError, match="comment must be"):
        build_candidates([clip("v", "", [], []) | {"response_comments": [{"txt": "typo"}]}])


def test_candidate_set_is_plain_data():
    candidate_set = CandidateSet(query_index=2, candidates=["a", "b", "c"], positive_indices=[2], protocol="livechat")
    assert candidate_set.positives == ["c"]
