"""Batch routing on Ray Data (routelet.scale) against the local path, on a 2-CPU local cluster.

The Ray engine must write, for every input row, exactly the line local ``routelet
classify --input`` writes for it; a bad line is reported by file and line and the rest
completes. The cluster is one session fixture (conftest ``ray_cluster``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from routelet.classify import stream
from routelet.cli import main
from routelet.config import Paths
from routelet.data import load_jsonl
from routelet.runtime import Router

pytestmark = [pytest.mark.shipped, pytest.mark.slow]

#: Rows of the parity test, spread over several shards (three JSONL, one Parquet).
N_ROWS = 10_240
SHARDS = 4


def _rows(paths: Paths, n: int) -> list[dict[str, Any]]:
    """``n`` rows cycling through every eval text, each with an id and extra fields."""
    texts = [ex.text for p in paths.eval_files() for ex in load_jsonl(p)]
    return [{"id": i, "text": texts[i % len(texts)], "src": "eval"} for i in range(n)]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _output(directory: Path) -> list[str]:
    return sorted(
        line for part in directory.glob("part-*.jsonl") for line in part.read_text().splitlines()
    )


def test_ray_matches_local_on_10k_rows_across_shards(
    ray_cluster: Any, paths: Paths, model_dir: Path, tmp_path: Path
) -> None:
    """Every output line of the Ray engine (2 actors) equals local classify's, byte for byte."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from routelet.scale import classify_shards

    rows = _rows(paths, N_ROWS)
    shards = tmp_path / "shards"
    shards.mkdir()
    size = N_ROWS // SHARDS
    parts = [rows[i * size : (i + 1) * size] for i in range(SHARDS)]
    files = [_write_jsonl(shards / f"s{i}.jsonl", part) for i, part in enumerate(parts[:-1])]
    pq.write_table(pa.Table.from_pylist(parts[-1]), shards / "s9.parquet")
    files.append(shards / "s9.parquet")
    # The local path: `routelet classify --input` streams each file (the Parquet rows as JSONL).
    router = Router.load(model_dir)
    local = io.StringIO()
    for i, part in enumerate(parts):
        stream(router, _write_jsonl(tmp_path / f"local{i}.jsonl", part), local, False, workers=2)
    written, bad, _ = classify_shards(files, tmp_path / "out", model_dir, actors=2)
    assert (written, bad) == (N_ROWS, 0)
    assert _output(tmp_path / "out") == sorted(local.getvalue().splitlines())


def test_bad_lines_are_reported_and_the_rest_completes(
    ray_cluster: Any, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid JSON, a missing or empty text and a `prediction` field are named by file and
    line (exit 1); every good row of every shard is still written."""
    shards = tmp_path / "in"
    shards.mkdir()
    _write_jsonl(shards / "a.jsonl", [{"text": "pause the music"}, {"text": "next song"}])
    bad = shards / "b.jsonl"
    bad.write_text(
        '{"text": "how far away is the moon"}\n{not json\n{"id": 3}\n{"text": "  "}\n'
        '{"text": "hi", "prediction": 1}\n{"text": "remember my locker code is 4471"}\n'
    )
    out = tmp_path / "out"
    code = main(["classify", "--engine", "ray", "--input", str(shards), "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    for line in (2, 3, 4, 5):
        assert f"{bad}:{line}:" in err
    texts = {json.loads(line)["text"] for line in _output(out)}
    assert texts == {
        "pause the music",
        "next song",
        "how far away is the moon",
        "remember my locker code is 4471",
    }
    assert len((out / "_errors.txt").read_text().splitlines()) == 4


def test_gate_traffic_on_ray_equals_local(
    ray_cluster: Any, swapped_model: Path, model_dir: Path, tmp_path: Path
) -> None:
    """`gate --engine ray` counts the same traffic flips as the local engine."""
    from routelet.gate import traffic_flips_local
    from routelet.scale import traffic_flips

    log = tmp_path / "samples-1.jsonl"
    texts = [ex.text for ex in load_jsonl(Paths.discover().evals / "boundary.jsonl")]
    lines = [json.dumps({"kind": "route", "id": str(i), "text": t}) for i, t in enumerate(texts)]
    lines.append('{"kind": "feedback", "id": "0", "intent": "chat", "text": "x"}')
    log.write_text("\n".join(lines) + "\n")
    on_ray = traffic_flips([log], model_dir, swapped_model, actors=2)
    local = traffic_flips_local([log], Router.load(model_dir), Router.load(swapped_model))
    assert on_ray.rows == local.rows == len(texts)
    assert on_ray.changed == local.changed and sum(local.changed.values()) > 0


def test_ray_refuses_a_non_empty_output_dir(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output directory with files in it is refused with one line, before Ray starts."""
    (tmp_path / "in.jsonl").write_text('{"text": "pause"}\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.jsonl").write_text("")
    argv = ["classify", "--engine", "ray", "--input", str(tmp_path / "in.jsonl")]
    assert main([*argv, "--output", str(tmp_path / "out")]) == 2
    assert "not an empty directory" in capsys.readouterr().err


def test_runtime_paths_never_import_ray() -> None:
    """The runtime, the CLI, local classify, serve and gate import without ray."""
    modules = "routelet.cli, routelet.runtime, routelet.classify, routelet.serve, routelet.gate"
    code = f"import sys, {modules}; sys.exit(1 if 'ray' in sys.modules else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or "ray was imported"
