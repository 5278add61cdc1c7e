"""The one atomic Parquet shard writer of the builders and the live-comment feature store."""

import pytest
from datasets import Dataset, Features, List, Value

from hf_livechat.data.builders.shards import write_parquet_shard


FEATURES = Features({"id": Value("string"), "vector": List(Value("float32"))})


def test_rows_and_columns_write_the_same_shard(tmp_path):
    rows = [{"id": "a", "vector": [1.0, 2.0]}, {"id": "b", "vector": [3.0, 4.5]}]
    by_rows = write_parquet_shard(rows, FEATURES, tmp_path / "rows" / "shard.parquet")
    by_columns = write_parquet_shard({"id": ["a", "b"], "vector": [[1.0, 2.0], [3.0, 4.5]]}, FEATURES, tmp_path / "cols.parquet")
    for path in (by_rows, by_columns):
        table = Dataset.from_parquet(str(path))
        assert table.features == FEATURES and table.to_list() == rows
    assert sorted(p.name for p in (tmp_path / "rows").iterdir()) == ["shard.parquet"]  # no temporary file left


def test_a_write_that_fails_leaves_the_earlier_shard_whole(tmp_path, monkeypatch):
    path = tmp_path / "shard.parquet"
    write_parquet_shard([{"id": "old", "vector": [0.0]}], FEATURES, path)

    def broken_to_parquet(self, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PAR1 half a file")  # a process killed mid-write
        raise OSError("disk full")

    monkeypatch.setattr(Dataset, "to_parquet", broken_to_parquet)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_shard([{"id": "new", "vector": [1.0]}], FEATURES, path)
    monkeypatch.undo()
    assert Dataset.from_parquet(str(path))["id"] == ["old"]
