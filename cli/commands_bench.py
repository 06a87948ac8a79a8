"""``hdr-expr bench expressions`` and ``hdr-expr bench worksheets``: accuracy and speed on the project's own
benchmark images (:mod:`hdr_expr.datasets.expressions`: MNIST test digits, the real sets' held-out symbols and
held-out synthetic ones, half of them photo-like).

``expressions``: exact match (text), value accuracy, verdict accuracy, symbol error rate (edit distance / truth
length), per condition (clean/photo, touching/not, style), the failure categories and the commonest
confusions; speed: warm images/s of a pool of recognizer processes (every stage: file read, decode,
preprocess, segment, classify, assemble), and the cold start of ``hdr-expr recognize IMAGE`` in a fresh process
against ``python -c "import tensorflow"``, each the median of a few runs.

``worksheets``: line exact-match accuracy on 1700×2200 pages, and pages/s through the batch engine
(:func:`hdr_expr.pipeline.batch.pool_records`, the process pool behind ``hdr-expr batch``) for each
``--workers`` count.

The images are written to ``--save DIR`` (with ``truth.jsonl`` and the records read) or to a temporary folder.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from hdr_expr.cli.app import app, fail

bench_app = typer.Typer(help="Benchmarks on generated expression images and worksheet pages.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")

#: The bars of the issues (#8 expressions, #5 worksheets).
BARS = {
    "exact_match": 0.95,
    "value_accuracy": 0.95,
    "warm_images_per_s": 100.0,
    "cold_ratio": 0.25,
    "worksheet_line_accuracy": 0.93,
    "pages_per_s_2_workers": 4.0,
    "scaling_2_vs_1": 1.6,
}


def _say(quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if not quiet:
            typer.echo(msg, err=True)

    return say


# ------------------------------------------------------------------------------------------ recognizer pool
_WORKER: dict[str, Any] = {}


def _init_worker(model: str | None) -> None:
    from hdr_expr.pipeline.batch import single_threaded
    from hdr_expr.pipeline.recognize import Recognizer

    single_threaded()
    _WORKER["rec"] = Recognizer(model, threads=1)


def _read_file(path: str) -> dict:
    rec = _WORKER["rec"]
    cpu = time.process_time()
    pages = list(rec.read(path))
    record = pages[0].to_dict() if pages else {"file": path, "page": 1, "error": "no page", "lines": []}
    record[_CPU_KEY] = time.process_time() - cpu
    return record


_CPU_KEY = "_cpu_s"  # CPU seconds a worker spent on a record (taken out before the record is kept)


def _warm(path: str) -> int:
    _read_file(path)  # first call: imports sympy, touches every stage
    time.sleep(0.3)  # hold this worker so the next warm-up task goes to another one
    return os.getpid()


def _mp_context():
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def read_warm(paths: list[str], *, workers: int, model: str | None) -> tuple[list[dict], float, float]:
    """Read every file with ``workers`` recognizer processes that are started and warmed up first; return the
    records (in order), the seconds the reading took (the warm-up not counted) and the CPU seconds the
    workers spent on them (on a shared machine, ``n / (cpu / workers)`` is the rate with a core per worker)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=_mp_context(), initializer=_init_worker,
                             initargs=(model,)) as pool:
        list(pool.map(_warm, [paths[0]] * workers))
        t0 = time.perf_counter()
        records = list(pool.map(_read_file, paths, chunksize=max(1, min(16, len(paths) // (4 * workers) or 1))))
        seconds = time.perf_counter() - t0
    cpu = sum(r.pop(_CPU_KEY, 0.0) for r in records)
    return records, seconds, cpu


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# ------------------------------------------------------------------------------------------------ scoring
def summarize_scores(scores: list, groups: dict[str, list[int]] | None = None) -> dict:
    """Accuracy figures of a list of :class:`~hdr_expr.datasets.expressions.LineScore`, overall and per group
    (name → indices)."""

    def figures(idx: list[int]) -> dict:
        sel = [scores[i] for i in idx]
        n = len(sel)
        verdicts = [s.verdict_ok for s in sel if s.verdict_ok is not None]
        chars = sum(len(s.truth) for s in sel)
        return {
            "n": n,
            "exact_match": sum(s.exact for s in sel) / n if n else None,
            "value_accuracy": sum(s.value_ok for s in sel) / n if n else None,
            "verdict_accuracy": sum(verdicts) / len(verdicts) if verdicts else None,
            "verdicts": len(verdicts),
            "symbol_error_rate": sum(s.edits for s in sel) / chars if chars else None,
            "symbol_error_rate_best_line": sum(s.best_edits for s in sel) / chars if chars else None,
        }

    out = figures(list(range(len(scores))))
    if groups:
        out["by_condition"] = {name: figures(idx) for name, idx in groups.items() if idx}
    out["failures"] = dict(Counter(s.category() for s in scores if not s.exact))
    confusions: Counter = Counter()
    for s in scores:
        if not s.exact and s.lines_found == 1 and len(s.read) == len(s.truth):
            for a, b in zip(s.truth, s.read):
                if a != b:
                    confusions[f"{a}→{b}"] += 1
    out["confusions"] = dict(confusions.most_common(12))
    return out


# --------------------------------------------------------------------------------------------- cold start
def _median_seconds(cmd: list[str], runs: int) -> float | None:
    times = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run(cmd, capture_output=True, env=env, timeout=600)  # disk cache warm, not timed
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            return None
    return statistics.median(times)


def hdr_expr_command() -> list[str]:
    """How to start ``hdr-expr`` in a fresh process: the console script beside this Python, else ``-m``."""
    script = Path(sys.executable).with_name("hdr-expr")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from hdr_expr.cli.app import main; main()"]


def cold_start(image: str | Path, runs: int = 3, model: str | None = None) -> dict:
    """Median seconds of ``hdr-expr recognize IMAGE`` in a fresh process and of ``python -c "import
    tensorflow"`` (None where TensorFlow is not installed), and their ratio."""
    cmd = hdr_expr_command() + ["recognize", str(image)] + (["--model", model] if model else [])
    recognize_s = _median_seconds(cmd, runs)
    tf_s = _median_seconds([sys.executable, "-c", "import tensorflow"], runs)
    ratio = recognize_s / tf_s if recognize_s is not None and tf_s else None
    return {"image": str(image), "runs": runs, "recognize_s": recognize_s, "import_tensorflow_s": tf_s,
            "ratio": ratio}


def _default_cold_image() -> Path | None:
    samples = Path(__file__).resolve().parents[1] / "samples"
    for name in ("clean-scan.png",):
        if (samples / name).is_file():
            return samples / name
    found = sorted(samples.glob("*.png")) if samples.is_dir() else []
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------- the runs
def _model_info(model: str | None) -> dict:
    from hdr_expr.models.card import load_model_dir

    from hdr_expr.pipeline.verify import load_verifier

    md = load_model_dir(model)
    v = load_verifier()
    return {"path": str(md.path), "name": md.card.get("name"), "classes": len(md.classes),
            "verifier": str(v.model_dir.path) if v is not None else None}


def _provenance() -> dict:
    """What the figures depend on besides the model: generator and synthesizer versions, the source tree."""
    from hdr_expr.datasets.expressions import GENERATOR_VERSION
    from hdr_expr.datasets.synth import SYNTH_VERSION

    out: dict[str, Any] = {"generator": GENERATOR_VERSION, "synth": SYNTH_VERSION, "commit": None, "dirty": None}
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode == 0:
            out["commit"] = rev.stdout.strip()
            st = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
            out["dirty"] = bool(st.stdout.strip()) if st.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _workdir(save: Path | None):
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        return None, save
    tmp = tempfile.TemporaryDirectory(prefix="hdr-expr-bench-")
    return tmp, Path(tmp.name)


def run_expressions(
    n: int = 500,
    seed: int = 0,
    *,
    model: str | None = None,
    workers: int = 2,
    save: Path | None = None,
    cold_runs: int = 3,
    cold_image: Path | None = None,
    shared: Path | None = None,
    enlarge: float = 1.0,
    turn: float = 0.0,
    columns: bool = False,
    fractions: bool = False,
    corrections: bool = False,
    marked: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> dict:
    """The expression benchmark: generate, read with a warm pool, score, time the cold start. With ``enlarge``,
    every image is read enlarged that many times (the same writing as a camera of higher resolution sees it);
    with ``turn``, turned that many degrees, every other one the other way (a phone held askew); with
    ``columns``, the images are sums written in columns (:func:`~hdr_expr.datasets.expressions.make_column_sum`);
    with ``fractions``, lines with stacked fractions (:func:`~hdr_expr.datasets.fractions.make_fraction_line`);
    with ``corrections``, lines with a number crossed out
    (:func:`~hdr_expr.datasets.corrections.make_correction_line`); with ``marked``, lines whose answer is circled,
    boxed or underlined (:func:`~hdr_expr.datasets.marked.make_marked_line`)."""
    from hdr_expr.datasets.corrections import correction_set
    from hdr_expr.datasets.expressions import column_set, expression_set, load_material, score_line
    from hdr_expr.datasets.fractions import fraction_set
    from hdr_expr.datasets.marked import marked_set

    chosen = [name for name, on in (("columns", columns), ("fractions", fractions), ("corrections", corrections),
                                    ("marked", marked)) if on]
    layout = chosen[0] if chosen else "lines"
    make_set = {"columns": column_set, "fractions": fraction_set, "corrections": correction_set,
                "marked": marked_set, "lines": expression_set}[layout]
    what = {**_LAYOUT_NAMES, "lines": "expression images"}[layout]

    material = load_material(shared)
    tmp, folder = _workdir(save)
    try:
        say(f"generating {n} {what} (seed {seed}) ...")
        t0 = time.perf_counter()
        samples, paths = [], []
        for s in make_set(material, n, seed):
            name = folder / f"expr-{s.index:05d}"
            if enlarge == 1.0 and turn == 0.0:
                paths.append(str(s.save(name)))
            else:
                paths.append(str(_save_as_seen(s.image, name, enlarge, turn if s.index % 2 else -turn)))
            samples.append(s)
        gen_s = time.perf_counter() - t0
        say(f"reading them with {workers} warm worker(s) ...")
        records, read_s, cpu_s = read_warm(paths, workers=workers, model=model)
        scores = [score_line(s.truth, r.get("lines") or []) for s, r in zip(samples, records)]
        from hdr_expr.datasets.expressions import STYLES

        groups: dict[str, list[int]] = {k: [] for k in ("clean", "photo", "touching", "not touching")}
        groups.update({f"style={st}": [] for st in STYLES})
        for i, s in enumerate(samples):
            c = s.condition
            tags = [f"{tag}={c.tags[tag]}" for tag in ("crossed", "marked") if tag in c.tags]
            for key in ("photo" if c.photo else "clean", "touching" if c.touching else "not touching",
                        f"style={c.style}", *tags):
                groups.setdefault(key, []).append(i)
        result: dict[str, Any] = {
            "benchmark": "expressions", **_provenance(), "n": n, "seed": seed, "enlarge": enlarge, "turn": turn,
            "layout": layout,
            "model": _model_info(model), "material": material.describe(),
            **summarize_scores(scores, groups),
            "speed": {"workers": workers, "seconds": read_s, "warm_images_per_s": n / read_s if read_s else None,
                      "cpu_seconds": cpu_s, "cpu_ms_per_image": 1000 * cpu_s / n,
                      "images_per_s_if_a_core_each": n * workers / cpu_s if cpu_s else None,
                      "load_average": _load(), "generation_s": gen_s},
        }
        if save is not None:
            with open(folder / "truth.jsonl", "w", encoding="utf-8") as fh:
                for s, p, sc in zip(samples, paths, scores):
                    fh.write(json.dumps({"file": Path(p).name, **s.truth.to_dict(), **s.condition.to_dict(),
                                         "read": sc.read, "exact": sc.exact, "category": sc.category()},
                                        ensure_ascii=False) + "\n")
            with open(folder / "records.jsonl", "w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        if cold_runs > 0:
            image = cold_image or _default_cold_image() or Path(paths[0])
            say(f"cold start: {cold_runs} runs each of hdr-expr recognize {image} and python -c 'import tensorflow' ...")
            result["cold_start"] = cold_start(image, cold_runs, model)
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


def _save_as_seen(rgb, path: Path, factor: float = 1.0, degrees: float = 0.0) -> Path:
    """The image enlarged ``factor`` times (cubic) and turned ``degrees`` counter-clockwise on a canvas grown to
    hold it, as a PNG (the new file's own compression is no test)."""
    import cv2
    import numpy as np

    from hdr_expr.pipeline.preprocess import turn_to_fit

    img = rgb
    if factor != 1.0:
        img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
    if degrees and degrees % 90 == 0:  # a page scanned or photographed on its side, or upside down
        img = np.ascontiguousarray(np.rot90(img, int(degrees // 90)))
    elif degrees:
        # The corners turned in continue the image's edge, smoothed (as a desk or the sheet goes on beyond the
        # frame): a flat colour there would meet the photo's own border in a straight edge no camera sees.
        matrix, size = turn_to_fit(img.shape, degrees)
        turned = cv2.warpAffine(img, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.ones(img.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR)
        inside = cv2.GaussianBlur(inside, (0, 0), 1.5)[..., None]
        beyond = cv2.GaussianBlur(turned, (0, 0), max(4.0, 0.01 * max(size)))
        img = np.clip(turned * inside + beyond * (1.0 - inside), 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode {path.name} as seen")
    out = path.with_suffix(".png")
    out.write_bytes(data.tobytes())
    return out


def run_worksheets(
    pages: int = 10,
    seed: int = 0,
    *,
    workers: tuple[int, ...] = (1, 2),
    model: str | None = None,
    save: Path | None = None,
    shared: Path | None = None,
    turn: int = 0,
    columns: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> dict:
    """The worksheet benchmark: generate pages, read them with the batch engine at each worker count, score
    lines (from the last run's records). With ``turn`` (90, 180 or 270), every page is turned that many degrees,
    every other one the other way (sheets fed into the scanner sideways or upside down); the lines read are
    scored where they lie on the page upright. With ``columns``, the pages are grids of column sums
    (:func:`~hdr_expr.datasets.expressions.make_column_sheet`)."""
    from hdr_expr.datasets.expressions import column_sheet_set, load_material, match_worksheet_lines, worksheet_set
    from hdr_expr.pipeline.batch import find_inputs, list_tasks, pool_records
    from hdr_expr.pipeline.orientation import box_turned_back

    material = load_material(shared)
    tmp, folder = _workdir(save)
    try:
        say(f"generating {pages} {'pages of column sums' if columns else 'worksheet pages'} (seed {seed}) ...")
        samples, quarters = {}, {}
        for s in (column_sheet_set if columns else worksheet_set)(material, pages, seed):
            if turn:
                degrees = turn if s.index % 2 else -turn
                p = _save_as_seen(s.image, folder / f"page-{s.index:04d}", 1.0, degrees)
                quarters[os.path.normpath(str(p))] = int(degrees // 90) % 4
            else:
                p = s.save(folder / f"page-{s.index:04d}")
            samples[os.path.normpath(str(p))] = s
        speed = []
        records: dict[str, dict] = {}
        for w in workers:
            say(f"reading with the batch engine, --workers {w} ...")
            tasks = list(list_tasks(find_inputs(sorted(samples))))
            stamps = []
            t0 = time.perf_counter()
            got = {}
            for rec in pool_records(tasks, workers=w, model=model):
                stamps.append(time.perf_counter() - t0)
                got[os.path.normpath(rec["file"])] = rec
            total = stamps[-1] if stamps else 0.0
            k = min(w, len(stamps) - 1)
            steady = (len(stamps) - 1 - k + 1) / (stamps[-1] - stamps[k - 1]) if k >= 1 and stamps[-1] > stamps[k - 1] \
                else None
            speed.append({"workers": w, "pages": len(stamps), "seconds": total,
                          "pages_per_s": len(stamps) / total if total else None,
                          "steady_pages_per_s": steady})
            records = got
        scores = []
        page_groups: dict[str, list[int]] = {}
        for path, s in samples.items():
            rec = records.get(path) or {"lines": []}
            if quarters.get(path):
                size = (s.image.shape[1], s.image.shape[0])
                rec = {**rec, "lines": [{**ln, "box": list(box_turned_back(ln.get("box") or (0, 0, 0, 0),
                                                                          quarters[path], size))}
                                        for ln in rec.get("lines") or []]}
            for sc in match_worksheet_lines(s, rec):
                page_groups.setdefault("photo" if s.photo else "scan", []).append(len(scores))
                scores.append(sc)
        acc = summarize_scores(scores, page_groups)
        by_w = {d["workers"]: d for d in speed}
        scaling = None
        if 1 in by_w and 2 in by_w and by_w[1]["pages_per_s"]:
            scaling = by_w[2]["pages_per_s"] / by_w[1]["pages_per_s"]
        result = {
            "benchmark": "worksheets", **_provenance(), "pages": pages, "seed": seed, "turn": turn,
            "layout": "columns" if columns else "lines",
            "lines": len(scores), "model": _model_info(model), "engine": "hdr_expr.pipeline.batch.pool_records",
            "line_accuracy": acc["exact_match"], **{k: v for k, v in acc.items() if k != "exact_match"},
            "speed": speed, "scaling_2_vs_1": scaling,
        }
        if save is not None:
            with open(folder / "truth.jsonl", "w", encoding="utf-8") as fh:
                for path, s in samples.items():
                    fh.write(json.dumps({"file": Path(path).name, "photo": s.photo, **s.tags,
                                         "lines": [dict(ln.truth.to_dict(), box=list(ln.box), centre_y=float(ln.centre_y))
                                                   for ln in s.lines]},
                                        ensure_ascii=False) + "\n")
            with open(folder / "records.jsonl", "w", encoding="utf-8") as fh:
                for r in records.values():
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


# ---------------------------------------------------------------------------------------------- printing
def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _bar(ok: bool | None) -> str:
    return "" if ok is None else ("  [bar met]" if ok else "  [below bar]")


_LAYOUT_NAMES = {"columns": "column sums", "fractions": "fraction lines", "corrections": "correction lines",
                 "marked": "lines with marked answers"}


def format_expressions(r: dict) -> str:
    lines = [
        f"expression benchmark: {r['n']} "
        f"{_LAYOUT_NAMES.get(r.get('layout'), 'images')}, "
        f"seed {r['seed']}"
        f"{'' if r.get('enlarge', 1.0) == 1.0 else ', enlarged ' + format(r['enlarge'], 'g') + '×'}"
        f"{'' if not r.get('turn') else ', turned ±' + format(r['turn'], 'g') + '°'}, model {r['model']['path']} "
        f"({r['model']['classes']} classes), {r['generator']}/{r['synth']}, commit {r['commit']}"
        f"{' (with local changes)' if r['dirty'] else ''}",
        f"  exact match        {_pct(r['exact_match'])}{_bar(r['exact_match'] >= BARS['exact_match'])}",
        f"  value correct      {_pct(r['value_accuracy'])}{_bar(r['value_accuracy'] >= BARS['value_accuracy'])}",
        f"  verdict correct    {_pct(r['verdict_accuracy'])} (of {r['verdicts']} written answers)",
        f"  symbol error rate  {_pct(r['symbol_error_rate'])} (closest single line: "
        f"{_pct(r['symbol_error_rate_best_line'])})",
        "  by condition:",
    ]
    for name, f in r.get("by_condition", {}).items():
        lines.append(f"    {name:<22} n={f['n']:<4} exact {_pct(f['exact_match']):>6}  value "
                     f"{_pct(f['value_accuracy']):>6}  SER {_pct(f['symbol_error_rate']):>6}")
    if r.get("failures"):
        lines.append("  failures: " + ", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items())))
    if r.get("confusions"):
        lines.append("  confusions (truth→read): " + ", ".join(f"{k} {v}" for k, v in r["confusions"].items()))
    sp = r["speed"]
    ips = sp["warm_images_per_s"]
    lines.append(f"  warm speed         {ips:.1f} images/s with {sp['workers']} worker(s)"
                 f"{_bar(ips >= BARS['warm_images_per_s'] if sp['workers'] <= 2 else None)}")
    lines.append(f"                     {sp['cpu_ms_per_image']:.1f} ms CPU per image: "
                 f"{sp['images_per_s_if_a_core_each']:.1f} images/s with a free core per worker "
                 f"(load average {sp['load_average']})")
    cs = r.get("cold_start")
    if cs:
        rs, ts, ratio = cs["recognize_s"], cs["import_tensorflow_s"], cs["ratio"]
        lines.append(f"  cold start         hdr-expr recognize {rs:.2f} s vs import tensorflow "
                     f"{'–' if ts is None else f'{ts:.2f} s'} (median of {cs['runs']}): ratio "
                     f"{'–' if ratio is None else f'{ratio:.2f}'}{_bar(None if ratio is None else ratio <= BARS['cold_ratio'])}")
    return "\n".join(lines)


def format_worksheets(r: dict) -> str:
    lines = [
        f"worksheet benchmark: {r['pages']} pages, {r['lines']} lines, seed {r['seed']}, model "
        f"{r['model']['path']} ({r['model']['classes']} classes), {r['generator']}/{r['synth']}, commit "
        f"{r['commit']}{' (with local changes)' if r['dirty'] else ''}",
        f"  lines read exactly {_pct(r['line_accuracy'])}"
        f"{_bar(None if r['line_accuracy'] is None else r['line_accuracy'] >= BARS['worksheet_line_accuracy'])}",
        f"  value correct      {_pct(r['value_accuracy'])}",
        f"  verdict correct    {_pct(r['verdict_accuracy'])} (of {r['verdicts']} written answers)",
        f"  symbol error rate  {_pct(r['symbol_error_rate'])}",
    ]
    for name, f in r.get("by_condition", {}).items():
        lines.append(f"    {name:<8} lines={f['n']:<4} exact {_pct(f['exact_match']):>6}")
    if r.get("failures"):
        lines.append("  failures: " + ", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items())))
    if r.get("confusions"):
        lines.append("  confusions (truth→read): " + ", ".join(f"{k} {v}" for k, v in r["confusions"].items()))
    lines.append(f"  engine: {r['engine']} (wall time includes starting the pool and loading the model)")
    for s in r["speed"]:
        steady = s["steady_pages_per_s"]
        bar = _bar(s["pages_per_s"] >= BARS["pages_per_s_2_workers"]) if s["workers"] == 2 else ""
        lines.append(f"    --workers {s['workers']}: {s['pages_per_s']:.2f} pages/s ({s['pages']} pages in "
                     f"{s['seconds']:.2f} s; after each worker's first page "
                     f"{'–' if steady is None else f'{steady:.2f}'} pages/s){bar}")
    if r.get("scaling_2_vs_1") is not None:
        lines.append(f"  2 workers vs 1     {r['scaling_2_vs_1']:.2f}×"
                     f"{_bar(r['scaling_2_vs_1'] >= BARS['scaling_2_vs_1'])}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- commands
def _parse_workers(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        fail(f"--workers takes counts separated by commas (e.g. 1,2), not {text!r}")
    return values


@bench_app.command("expressions")
def bench_expressions(
    n: int = typer.Option(500, "--n", min=1, help="Expression images (half photo-like)."),
    seed: int = typer.Option(0, "--seed", help="Benchmark set seed (the same seed gives the same images)."),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Model directory (default: shipped)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Recognizer processes for the warm speed."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    save: Optional[Path] = typer.Option(None, "--save", metavar="DIR",
                                        help="Keep the images, truth.jsonl and records.jsonl in DIR."),
    cold_runs: int = typer.Option(3, "--cold-runs", min=0, help="Fresh-process runs for the cold start (0: skip)."),
    cold_image: Optional[Path] = typer.Option(None, "--cold-image", metavar="IMAGE",
                                              help="Image for the cold start (default: samples/clean-scan.png)."),
    shared: Optional[Path] = typer.Option(None, "--shared", metavar="DIR",
                                          help="Shared data folder (default: $HDR_EXPR_SHARED or ../shared)."),
    enlarge: float = typer.Option(1.0, "--enlarge", min=0.25, max=8.0,
                                  help="Read every image enlarged this many times (as a higher-resolution camera "
                                       "sees the same writing; cubic, saved as PNG)."),
    turn: float = typer.Option(0.0, "--turn", min=-270.0, max=270.0, metavar="DEGREES",
                               help="Read every image turned this many degrees, every other one the other way "
                                    "(a phone held askew; the corners continue the image's edge, saved as PNG; "
                                    "90, 180, 270: turned a quarter, a half, three quarters, nothing added)."),
    columns: bool = typer.Option(False, "--columns",
                                 help="Sums written in columns instead: numbers stacked, the operator before the "
                                      "last, a bar, the answer under it (scored as the line 738+53=791)."),
    fractions: bool = typer.Option(False, "--fractions",
                                   help="Lines with stacked fractions instead: numerators over bars over "
                                        "denominators (scored as the line 1/2+1/4=3/4)."),
    corrections: bool = typer.Option(False, "--corrections",
                                     help="Lines with a number crossed out (scribbled over, struck through or "
                                          "slashed) and the right one written after it (scored as the line "
                                          "without it)."),
    marked: bool = typer.Option(False, "--marked",
                                help="Lines whose written answer is circled, boxed or underlined once or twice "
                                     "(scored as the line as written)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
) -> None:
    """Exact match, value, verdict, symbol error rate and speed on generated expression images."""
    if columns + fractions + corrections + marked > 1:
        raise typer.BadParameter("--columns, --fractions, --corrections and --marked are four benchmarks: "
                                 "choose one")
    r = run_expressions(n, seed, model=str(model) if model else None, workers=workers, save=save,
                        cold_runs=cold_runs, cold_image=cold_image, shared=shared, enlarge=enlarge,
                        turn=turn, columns=columns, fractions=fractions, corrections=corrections,
                        marked=marked, say=_say(quiet or as_json))
    typer.echo(json.dumps(r, ensure_ascii=False) if as_json else format_expressions(r))


@bench_app.command("worksheets")
def bench_worksheets(
    pages: int = typer.Option(10, "--pages", min=1, help="Worksheet pages (half photo-like)."),
    seed: int = typer.Option(0, "--seed", help="Benchmark set seed."),
    workers: str = typer.Option("1,2", "--workers", help="Worker counts to time, separated by commas."),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Model directory (default: shipped)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    save: Optional[Path] = typer.Option(None, "--save", metavar="DIR",
                                        help="Keep the pages, truth.jsonl and records.jsonl in DIR."),
    shared: Optional[Path] = typer.Option(None, "--shared", metavar="DIR",
                                          help="Shared data folder (default: $HDR_EXPR_SHARED or ../shared)."),
    turn: int = typer.Option(0, "--turn", metavar="DEGREES",
                             help="Read every page turned 90, 180 or 270 degrees, every other one the other way "
                                  "(sheets scanned sideways or upside down; saved as PNG)."),
    columns: bool = typer.Option(False, "--columns",
                                 help="Pages of column sums in a grid instead (each sum scored as one line)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
) -> None:
    """Line accuracy and pages/s (batch engine) on generated worksheet pages."""
    if turn % 90 or abs(turn) > 270:
        raise typer.BadParameter("--turn takes 0, 90, 180 or 270 for worksheets", param_hint="--turn")
    r = run_worksheets(pages, seed, workers=_parse_workers(workers), model=str(model) if model else None,
                       save=save, shared=shared, turn=turn, columns=columns, say=_say(quiet or as_json))
    typer.echo(json.dumps(r, ensure_ascii=False) if as_json else format_worksheets(r))
