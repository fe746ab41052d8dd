"""``routelet report``: evaluate every router on every eval file and write ``report/``.

Writes ``REPORT.md`` (tabulate tables: router x eval file metrics, per-intent recall,
latency p50/p99 and throughput, model size, speed-up over the same model in torch, the LLM
baseline's last recorded run or "not run"), ``metrics.json`` and PNG plots. Every number
is measured in this run on this machine, which the report names with the date; the LLM
row is the only one read from a record (``report/llm_runs.jsonl``), and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from routelet.config import Paths, TrainConfig
from routelet.data import load_jsonl
from routelet.evaluate import accuracy_interval, compute_metrics
from routelet.intents import LABELS, ROUTABLE
from routelet.runtime import Router
from routelet.timing import measure_latency, measure_speedup


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def build(paths: Paths, model_dir: Path, out_dir: Path, latency: bool = True) -> dict[str, Any]:
    from routelet import plots
    from routelet.baseline import fit_floor

    out_dir.mkdir(parents=True, exist_ok=True)
    config = TrainConfig.from_toml(paths.configs / "default.toml")
    onnx = Router.load(model_dir, threads=1)
    routers: dict[str, Any] = {
        "onnx (shipped, int8)": onnx,
        "tfidf (floor)": fit_floor(paths, config),
    }
    results: dict[str, Any] = {"routers": {}}
    holdout_probs = None
    for name, router in routers.items():
        results["routers"][name] = {}
        for path in paths.eval_files():
            rows = load_jsonl(path)
            if not rows:
                continue
            probs = router.predict_proba([r.text for r in rows])
            m = compute_metrics(
                [r.text for r in rows], [r.intent.value for r in rows], probs, onnx.threshold
            )
            results["routers"][name][path.stem] = m.summary()
            if router is onnx and path.stem == "holdout":
                holdout_probs = probs
                gold = np.array([LABELS.index(r.intent.value) for r in rows])
                plots.confusion_matrix(
                    m.confusion, "shipped model, holdout", out_dir / "confusion_holdout.png"
                )
    if holdout_probs is not None:
        plots.reliability_diagram(holdout_probs, gold, out_dir / "reliability_holdout.png")
        plots.coverage_curve(holdout_probs, gold, out_dir / "coverage_holdout.png")
    results["external"] = _external(paths, config, routers)
    results["hardness"] = hardness(results, **_hardness_budget(paths))
    manifest = onnx.manifest
    results["model"] = {
        "name": onnx.name,
        "size_mb": round(sum(f.stat().st_size for f in model_dir.iterdir()) / 1e6, 1),
        "train_seconds": manifest.get("train_seconds"),
        "threshold": onnx.threshold,
    }
    if onnx.static is not None:  # a model with a static tier: each tier and the cascade
        from routelet.tiers import measure_tiers

        timing_texts = [r.text for r in load_jsonl(paths.evals / "holdout.jsonl")]
        results["tiers"] = measure_tiers(
            model_dir, paths.eval_files(), timing_texts if latency else None
        )
    if latency:
        holdout = [r.text for r in load_jsonl(paths.evals / "holdout.jsonl")]
        results["latency"], samples = measure_latency(model_dir, holdout)
        plots.latency_histogram(samples, out_dir / "latency_histogram.png")
        speedup = measure_speedup(model_dir, paths.run_dir(config.name))
        results["latency"]["setfit_torch_single_short"] = speedup and speedup["setfit_torch"]
        if speedup:
            results["latency"]["speedup_vs_setfit"] = speedup["speedup"]
            results["latency"]["speedup_onnx_single_short"] = speedup["onnx"]
    results["llm"] = _latest_llm(paths.report)
    results["machine"] = {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    return results


def _external(paths: Paths, config: TrainConfig, routers: dict[str, Any]) -> dict[str, Any]:
    """Every router on the external skill-package rows (``routelet.external``), or why not."""
    from routelet import external
    from routelet.errors import DataError

    try:
        ext = external.load(paths, config)
    except DataError as exc:
        return {"error": str(exc)}
    texts = [r.text for r in ext.rows]
    scored = {}
    for name, router in routers.items():
        predicted = [LABELS[i] for i in router.predict_proba(texts).argmax(axis=1)]
        scored[name] = external.summarize(ext.rows, predicted)
    return {"versions": ext.versions, "dropped_training_duplicates": len(ext.leaks), **scored}


def _hardness_budget(paths: Paths) -> dict[str, float]:
    """``min_gap`` and ``min_rows`` from ``suites/budgets.toml`` ``[hardness]``."""
    import tomllib

    budgets = tomllib.loads((paths.root / "suites" / "budgets.toml").read_text(encoding="utf-8"))
    return {k: float(budgets["hardness"][k]) for k in ("min_gap", "min_rows")}


def hardness(results: dict[str, Any], min_gap: float, min_rows: float = 0) -> list[dict[str, Any]]:
    """Model vs TF-IDF floor accuracy on every eval file and external set (and source).

    A set where the floor comes within ``min_gap`` of the model is flagged ``too_easy``:
    a bag of words nearly ties the model there, so it cannot rank models. Sets with fewer
    than ``min_rows`` rows get ``too_easy = None`` (too few rows to judge).
    """
    model, floor = list(results["routers"])[:2]  # the shipped model, the TF-IDF floor
    sets = [
        (stem, m["n"], m["accuracy"], results["routers"][floor][stem]["accuracy"])
        for stem, m in results["routers"][model].items()
        if stem in results["routers"][floor]
    ]
    ext = results.get("external", {})
    if model in ext and floor in ext:
        sets.append(
            ("external (all)", ext[model]["n"], ext[model]["accuracy"], ext[floor]["accuracy"])
        )
        sets += [
            (f"external: {src}", s["n"], s["accuracy"], ext[floor]["source"][src]["accuracy"])
            for src, s in ext[model]["source"].items()
        ]
    return [
        {
            "set": name,
            "n": n,
            "model": a,
            "floor": b,
            "gap": round(a - b, 4),
            "too_easy": a - b < min_gap if n >= min_rows else None,
        }
        for name, n, a, b in sets
    ]


def _latest_llm(report_dir: Path) -> dict[str, Any] | None:
    try:
        from routelet.teacher import latest_llm_run
    except ImportError:
        return None
    return latest_llm_run(report_dir)


def render(results: dict[str, Any]) -> str:
    files = sorted({f for r in results["routers"].values() for f in r})
    table = [
        [
            router,
            f,
            m["n"],
            m["accuracy"],
            "{:.3f}-{:.3f}".format(*accuracy_interval(m["accuracy"], m["n"])),
            m["macro_f1"],
            "-" if m["none_recall"] is None else m["none_recall"],
            m["deferral_rate"],
            m["ece"],
        ]
        for router, per_file in results["routers"].items()
        for f in files
        if (m := per_file.get(f))
    ]
    recall = [
        [
            router,
            *(per_file["holdout"]["recall"].get(i.value, "-") for i in ROUTABLE),
            per_file["holdout"]["none_recall"],
        ]
        for router, per_file in results["routers"].items()
        if "holdout" in per_file
    ]
    machine = results["machine"]
    out = [
        "# routelet report",
        "",
        f"Measured {machine['date']} on {machine['cpu']} ({machine['cores']} cores), "
        f"Python {machine['python']}. Regenerate with `routelet report`.",
        "",
        "## Accuracy",
        "",
        tabulate(
            table,
            headers=[
                "router",
                "eval file",
                "n",
                "accuracy",
                "95 % interval",
                "macro-F1",
                "none recall",
                "deferral",
                "ECE",
            ],
            tablefmt="github",
        ),
        "",
        "The interval is the file's sampling error alone (Wilson, 95 %). Training runs of one "
        "config with different seeds differ by about a point on these files as well "
        "(docs/experiments.md #11-#12): a smaller difference between two models is not "
        "evidence that one is better.",
        "",
        "Per-intent recall on holdout:",
        "",
        tabulate(
            recall, headers=["router", *(i.value for i in ROUTABLE), "none"], tablefmt="github"
        ),
        "",
        "![confusion](confusion_holdout.png) ![reliability](reliability_holdout.png) "
        "![coverage](coverage_holdout.png)",
    ]
    out += _render_hardness(results) + _render_external(results)
    if "tiers" in results:
        from routelet.tiers import render_tiers

        out += render_tiers(results["tiers"])
    model = results["model"]
    out += [
        "",
        "## Model",
        "",
        f"`{model['name']}`: {model['size_mb']} MB on disk, "
        f"trained in {model['train_seconds']} s, deferral threshold {model['threshold']}.",
    ]
    if "latency" in results:
        lat = results["latency"]
        rows = [
            [
                "single short command, encoder",
                lat["single_short"]["p50_ms"],
                lat["single_short"]["p99_ms"],
            ],
            [
                "single long command, encoder",
                lat["single_long"]["p50_ms"],
                lat["single_long"]["p99_ms"],
            ],
        ]
        setfit = lat.get("setfit_torch_single_short")
        if setfit:
            paired = lat["speedup_onnx_single_short"]
            rows.append(
                ["routelet encoder, short (paired run)", paired["p50_ms"], paired["p99_ms"]]
            )
            rows.append(
                ["same model in torch, short (paired run)", setfit["p50_ms"], setfit["p99_ms"]]
            )
        out += [
            "",
            "## Latency (1 thread)",
            "",
            tabulate(rows, headers=["call", "p50 ms", "p99 ms"], tablefmt="github"),
            "",
            f"Batch throughput (2 threads, {lat.get('batch_tier', 'encoder')} tier): "
            f"{lat['batch_texts_per_s']} texts/s. "
            f"Cold start (load + first call): {lat['cold_start_ms']} ms. "
            + (
                "Speed-up over the same trained model in torch (its fine-tuned MiniLM through "
                "sentence-transformers, plus the head; paired run, alternating blocks of calls): "
                f"{lat['speedup_vs_setfit']}x."
                if setfit
                else "Torch path not measured (needs the train extra and runs/)."
            ),
            "",
            "![latency](latency_histogram.png)",
        ]
    out += [
        "",
        "## HTTP service",
        "",
        "Loopback load benchmark of `routelet serve` (`make bench-serve`, measured separately): "
        "[serve_load.md](serve_load.md).",
    ]
    llm = results.get("llm")
    out += ["", "## LLM baseline", ""]
    if llm:
        out.append(
            "Last recorded run (read from report/llm_runs.jsonl, not measured now): "
            + ", ".join(f"{k}: {v}" for k, v in llm.items())
        )
    else:
        out.append("Not run: no API key on the machine that made this report.")
    return "\n".join(out) + "\n"


def _render_hardness(results: dict[str, Any]) -> list[str]:
    rows = results.get("hardness")
    if not rows:
        return []
    table = [
        [
            r["set"],
            r["n"],
            r["model"],
            r["floor"],
            r["gap"],
            {True: "too easy to rank models", None: "too few rows to judge"}.get(r["too_easy"], ""),
        ]
        for r in rows
    ]
    return [
        "",
        "## Hardness",
        "",
        "Shipped model against the TF-IDF floor on every evaluation set; a set where the "
        "floor is within `[hardness] min_gap` (suites/budgets.toml) of the model is flagged; "
        "sets under `min_rows` rows are not judged.",
        "",
        tabulate(
            table, headers=["set", "n", "model", "tf-idf floor", "gap", "flag"], tablefmt="github"
        ),
    ]


def _render_external(results: dict[str, Any]) -> list[str]:
    ext = results.get("external")
    if not ext:
        return []
    out = ["", "## External (skill-package templates)", ""]
    if "error" in ext:
        return [*out, f"Not measured: {ext['error']}"]
    model, floor = list(results["routers"])[:2]
    out += [
        f"People-written intent templates of {len(ext['versions'])} Open Voice OS / Neon skill "
        f"packages, expanded by `routelet/external.py` (docs/external.md); "
        f"{ext['dropped_training_duplicates']} rows dropped as near-duplicates of training rows.",
        "",
        *_external_interval_lines(ext, model, floor),
        tabulate(
            [
                [label, s["n"], s["recall"], ext[floor]["label"][label]["recall"]]
                for label, s in ext[model]["label"].items()
            ],
            headers=["label", "n", "model recall", "tf-idf floor recall"],
            tablefmt="github",
        ),
        "",
        tabulate(
            [
                [
                    f"{src}=={ext['versions'][src]}",
                    s["n"],
                    s["accuracy"],
                    ext[floor]["source"][src]["accuracy"],
                ]
                for src, s in ext[model]["source"].items()
            ],
            headers=["source", "n", "model accuracy", "tf-idf floor accuracy"],
            tablefmt="github",
        ),
    ]
    return out


def _external_interval_lines(ext: dict[str, Any], model: str, floor: str) -> list[str]:
    """All-row accuracy of model and floor with the 95 % intervals ``external.summarize``
    gives (resampling intent files)."""
    parts = []
    for name in (model, floor):
        low, high = ext[name]["accuracy_interval"]
        parts.append(f"{name} {ext[name]['accuracy']} ({low}-{high})")
    return [
        "All rows, with a 95 % interval from resampling whole intent files (rows of one file "
        "share their author's wording; a retrain with another seed moves the number about as "
        "much): " + "; ".join(parts) + ".",
        "",
    ]


def headline(results: dict[str, Any]) -> str:
    """The short table README shows."""
    rows = []
    for router, per_file in results["routers"].items():
        h = per_file.get("holdout", {})
        rows.append(
            [router, h.get("accuracy"), h.get("macro_f1"), h.get("none_recall"), h.get("ece")]
        )
    return tabulate(
        rows,
        headers=["router", "holdout accuracy", "macro-F1", "none recall", "ECE"],
        tablefmt="github",
    )


def update_readme(readme: Path, results: dict[str, Any]) -> bool:
    """Replace the block between the README's headline markers; False if there are none."""
    start, end = "<!-- headline:start -->", "<!-- headline:end -->"
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return False
    lat = results.get("latency", {})
    note = (
        f"Single command p50 {lat['single_short']['p50_ms']} ms (encoder, 1 thread), "
        f"{lat.get('speedup_vs_setfit', '-')}x the same model in torch; "
        if lat
        else ""
    )
    block = (
        f"{start}\nHoldout results of the shipped model against the TF-IDF floor, measured "
        f"{results['machine']['date']} by `routelet report`:\n\n{headline(results)}\n\n"
        f"{note}model {results['model']['size_mb']} MB.\n{end}"
    )
    before, rest = text.split(start, 1)
    readme.write_text(before + block + rest.split(end, 1)[1], encoding="utf-8")
    return True


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths.discover()
    model_dir = Path(args.model) if args.model else paths.default_model
    out_dir = Path(args.output) if args.output else paths.report
    results = build(paths, model_dir, out_dir, latency=not args.no_latency)
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "REPORT.md").write_text(render(results))
    print(headline(results))
    print(f"\nwrote {out_dir / 'REPORT.md'}")
    if args.output is None and update_readme(paths.root / "README.md", results):
        print(f"updated the headline table in {paths.root / 'README.md'}")
    return 0
