"""hdr-expr bench: the commands run end to end on a tiny set (the figures themselves come from full runs, not
from tests), the scoring summary, and the cold-start timer's plumbing."""

from __future__ import annotations

import json
import sys

from hdr_expr.cli.commands_bench import _median_seconds, hdr_expr_command, summarize_scores
from hdr_expr.datasets.expressions import LineScore


def test_bench_expressions_tiny(run_cli, tmp_path):
    out = tmp_path / "bench"
    r = run_cli("bench", "expressions", "--n", "4", "--seed", "3", "--workers", "1", "--cold-runs", "0",
                "--json", "--save", out)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n"] == 4 and res["seed"] == 3
    assert 0.0 <= res["exact_match"] <= 1.0 and 0.0 <= res["value_accuracy"] <= 1.0
    assert res["symbol_error_rate"] >= 0.0
    assert set(res["by_condition"]) >= {"clean", "photo"}
    assert res["by_condition"]["clean"]["n"] == 2 and res["by_condition"]["photo"]["n"] == 2
    sp = res["speed"]
    assert sp["workers"] == 1 and sp["warm_images_per_s"] > 0 and sp["cpu_ms_per_image"] > 0
    assert sp["images_per_s_if_a_core_each"] > 0
    assert res["model"]["classes"] >= 10 and "cold_start" not in res
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(truth) == len(records) == 4
    assert all("_cpu_s" not in r for r in records)
    assert all((out / t["file"]).is_file() for t in truth)
    exact = sum(t["exact"] for t in truth) / 4
    assert abs(exact - res["exact_match"]) < 1e-9


def test_bench_expressions_text_output(run_cli):
    r = run_cli("bench", "expressions", "--n", "2", "--workers", "1", "--cold-runs", "0", "--quiet")
    assert r.exit_code == 0, r.stderr
    assert "exact match" in r.stdout and "images/s" in r.stdout and r.stderr == ""


def _as_drawn_and_as_seen(run_cli, tmp_path, *option: str) -> tuple[dict, list[tuple]]:
    """Two tiny expression benchmarks of one seed, as drawn and with ``option``: the second's JSON, and per image
    (truth as drawn, truth as seen, image as drawn, image as seen)."""
    import cv2

    pairs = []
    for folder, extra in ((tmp_path / "drawn", []), (tmp_path / "seen", list(option))):
        r = run_cli("bench", "expressions", "--n", "2", "--seed", "3", "--workers", "1", "--cold-runs", "0",
                    "--json", "--save", folder, *extra)
        assert r.exit_code == 0, r.stderr
        truth = [json.loads(line) for line in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
        pairs.append([(t, cv2.imread(str(folder / t["file"]))) for t in truth])
    return json.loads(r.stdout), [(a[0], b[0], a[1], b[1]) for a, b in zip(*pairs)]


def test_bench_expressions_enlarged(run_cli, tmp_path):
    result, pairs = _as_drawn_and_as_seen(run_cli, tmp_path, "--enlarge", "3")
    assert result["enlarge"] == 3.0
    for t_small, t_big, a, b in pairs:
        assert t_big["file"].endswith(".png") and t_big["text"] == t_small["text"]
        assert b.shape[:2] == (3 * a.shape[0], 3 * a.shape[1])


def test_bench_expressions_turned(run_cli, tmp_path):
    import numpy as np

    result, pairs = _as_drawn_and_as_seen(run_cli, tmp_path, "--turn", "12")
    assert result["turn"] == 12.0
    for t_flat, t_turned, a, b in pairs:
        assert t_turned["file"].endswith(".png") and t_turned["text"] == t_flat["text"]
        h, w = a.shape[:2]
        t = np.radians(12)  # the canvas grows to hold the whole image turned
        assert abs(b.shape[1] - (w * np.cos(t) + h * np.sin(t))) <= 2 and abs(b.shape[0] - (h * np.cos(t) + w * np.sin(t))) <= 2


def test_bench_expressions_turned_a_quarter_is_the_image_on_its_side(run_cli, tmp_path):
    import numpy as np

    result, pairs = _as_drawn_and_as_seen(run_cli, tmp_path, "--turn", "90")
    assert result["turn"] == 90.0
    for k, (_, t_turned, a, b) in enumerate(pairs):  # image 0 turned -90°, image 1 +90°: nothing added
        assert t_turned["file"].endswith(".png")
        assert np.array_equal(b, np.rot90(a, -1 if k % 2 == 0 else 1))


def test_bench_worksheets_turned_scores_lines_where_they_lie_upright(run_cli, tmp_path):
    # A page on its side read right scores as the page upright: its lines' boxes are turned back for the match.
    scores = {}
    for turn in ("0", "90"):
        out = tmp_path / turn
        r = run_cli("bench", "worksheets", "--pages", "2", "--seed", "4", "--workers", "1", "--json", "--save", out,
                    "--turn", turn)
        assert r.exit_code == 0, r.stderr
        res = json.loads(r.stdout)
        assert res["turn"] == int(turn)
        records = [json.loads(line) for line in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]
        scores[turn] = (res["line_accuracy"], [(rec["size"], rec["turned"]) for rec in records])
    assert scores["90"][0] == scores["0"][0] > 0.5
    # page 0 was turned -90° (read turned 90° back), page 1 +90° (read turned 270°)
    assert [t for _, t in scores["90"][1]] == [90, 270] and [t for _, t in scores["0"][1]] == [0, 0]
    assert [s90 for s90, _ in scores["90"][1]] == [s0[::-1] for s0, _ in scores["0"][1]]


def test_bench_worksheets_turn_takes_quarter_turns_only(run_cli):
    r = run_cli("bench", "worksheets", "--pages", "1", "--workers", "1", "--turn", "45")
    assert r.exit_code != 0 and "Traceback" not in r.stderr and "90, 180 or 270" in r.stderr


def test_bench_worksheets_tiny(run_cli, tmp_path):
    out = tmp_path / "pages"
    r = run_cli("bench", "worksheets", "--pages", "2", "--workers", "1", "--json", "--save", out)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    truth = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert res["pages"] == 2 and res["lines"] == sum(len(t["lines"]) for t in truth) >= 14
    assert [s["workers"] for s in res["speed"]] == [1] and res["speed"][0]["pages"] == 2
    assert res["speed"][0]["pages_per_s"] > 0 and res["scaling_2_vs_1"] is None
    assert 0.0 <= res["line_accuracy"] <= 1.0
    assert res["engine"] == "hdr_expr.pipeline.batch.pool_records"
    assert len((out / "records.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_bench_bad_workers_is_one_line(run_cli):
    r = run_cli("bench", "worksheets", "--pages", "1", "--workers", "one,2")
    assert r.exit_code != 0 and "--workers" in r.stderr and "Traceback" not in r.stderr


def test_summarize_scores():
    scores = [
        LineScore("12+7=19", "12+7=19", True, True, True, 0, 1, 0),
        LineScore("3×4", "3+4", False, False, None, 1, 1, 1),
        LineScore("8÷2=4", "8÷2=4", True, True, True, 0, 1, 0),
        LineScore("5-1", "5", False, False, None, 2, 1, 2),
        LineScore("2+2", "1112+2", False, False, None, 3, 2, 0),
    ]
    s = summarize_scores(scores, {"a": [0, 1], "b": [2, 3], "empty": []})
    assert s["n"] == 5 and s["exact_match"] == 0.4 and s["value_accuracy"] == 0.4
    assert s["verdict_accuracy"] == 1.0 and s["verdicts"] == 2
    assert abs(s["symbol_error_rate"] - 6 / 21) < 1e-12
    assert abs(s["symbol_error_rate_best_line"] - 3 / 21) < 1e-12
    assert s["by_condition"]["a"]["exact_match"] == 0.5 and "empty" not in s["by_condition"]
    assert s["failures"] == {"symbol": 1, "count": 1, "lines": 1}
    assert s["confusions"] == {"×→+": 1}


def test_cold_start_timer_plumbing():
    assert _median_seconds([sys.executable, "-c", "pass"], 2) > 0
    assert _median_seconds([sys.executable, "-c", "raise SystemExit(3)"], 1) is None
    cmd = hdr_expr_command()
    assert cmd and ("hdr-expr" in cmd[0] or cmd[0] == sys.executable)


def _reread():
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import reread

    return reread


def test_reread_a_saved_set_says_what_changed(run_cli, tmp_path, capsys):
    reread = _reread()
    ex, ws = tmp_path / "ex", tmp_path / "ws"
    assert run_cli("bench", "expressions", "--n", "3", "--seed", "5", "--workers", "1", "--cold-runs", "0",
                   "--json", "--save", ex).exit_code == 0
    assert run_cli("bench", "worksheets", "--pages", "1", "--seed", "2", "--workers", "1", "--json",
                   "--save", ws).exit_code == 0
    truth = [json.loads(x) for x in (ws / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all("centre_y" in line for t in truth for line in t["lines"])
    # The same code reads the saved sets as they were saved.
    assert reread.main([str(ex), str(ws), "--workers", "1", "--json", str(tmp_path / "cmp.json")]) == 0
    out = json.loads((tmp_path / "cmp.json").read_text(encoding="utf-8"))
    assert [r["lines"] for r in out] == [3, sum(len(t["lines"]) for t in truth)]
    assert all(r["exact_then"] == r["exact_now"] and not r["changed"] for r in out)
    # A saved record that had lost its lines: the line read now is a gain, and the line read then a loss.
    names = [json.loads(x)["file"] for x in (ex / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    records = [json.loads(x) for x in (ex / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    truths = [json.loads(x) for x in (ex / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    k = next(i for i, t in enumerate(truths) if t["exact"])
    now = {n: r for n, r in zip(names, records)}
    emptied = dict(records[k], lines=[])
    (ex / "records.jsonl").write_text("\n".join(json.dumps(emptied if i == k else r, ensure_ascii=False)
                                                for i, r in enumerate(records)) + "\n", encoding="utf-8")
    res = reread.compare(ex, now)
    assert res["exact_now"] == res["exact_then"] + 1
    assert res["changed"] == [{"file": names[k], "line": 0, "truth": truths[k]["text"], "then": "",
                               "now": truths[k]["text"], "gained": True}]
    # Rebased, the set's records are the readings of now: compared with them, nothing changed.
    assert reread.main([str(ex), "--workers", "1", "--rebase", str(tmp_path / "now")]) == 0
    rebased = tmp_path / "now" / "ex"
    assert (rebased / names[k]).resolve() == (ex / names[k]).resolve()
    assert reread.compare(rebased, now)["changed"] == []
    assert (ex / "records.jsonl").read_text(encoding="utf-8").count('"lines": []') >= 1  # the original untouched


def test_reread_settings_must_name_a_real_constant():
    reread = _reread()
    reread.apply_setting("recognize.SCRAP_HEIGHT=0.5")
    for bad in ("recognize.NO_SUCH=1", "SCRAP_HEIGHT", "recognize.SCRAP_HEIGHT="):
        try:
            reread.apply_setting(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_errors_counts_each_misread_line_under_its_edit(run_cli, tmp_path):
    _reread()  # puts bench/ on the path
    import errors

    ex = tmp_path / "ex"
    assert run_cli("bench", "expressions", "--n", "3", "--seed", "5", "--workers", "1", "--cold-runs", "0",
                   "--json", "--save", ex).exit_code == 0
    truths = [json.loads(x) for x in (ex / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    records = [json.loads(x) for x in (ex / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    before = errors.classify([ex])
    assert before["lines"] == 3 and before["misread"] == sum(not t["exact"] for t in truths)
    # One line read right made to read one symbol wrong, another to lose everything after its first symbol.
    right = [i for i, t in enumerate(truths) if t["exact"]]
    assert right
    k = right[0]
    text = truths[k]["text"]
    wrong = ("7" if text[0] != "7" else "4") + text[1:]
    line = dict(records[k]["lines"][0], text=wrong)
    records[k] = dict(records[k], lines=[line])
    (ex / "records.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                                      encoding="utf-8")
    after = errors.classify([ex], by="style")
    assert after["misread"] == before["misread"] + 1
    key = f"{text[0]}→{wrong[0]}"
    assert after["edits"][key] >= 1
    assert {"set": "ex", "file": truths[k]["file"], "truth": text, "read": wrong} in after["examples"][key]
    assert sum(sum(c.values()) for c in after["by"].values()) == after["misread"]
    assert errors.edits("12+7=19", "12+7=1") == [("9", "")]
    assert errors.main([str(tmp_path / "nothing")]) == 2


def test_bench_expressions_in_columns(run_cli, tmp_path):
    r = run_cli("bench", "expressions", "--columns", "--n", "2", "--seed", "5", "--workers", "1", "--cold-runs", "0",
                "--json", "--save", tmp_path)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["layout"] == "columns" and res["n"] == 2
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(t["layout"] == "column" and "=" in t["text"] for t in truth)
    # Each read as one line (see tests/test_columns.py); the scan exactly (the photo's answer reads 7058).
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [len(r["lines"]) for r in records] == [1, 1]
    assert truth[0]["read"] == truth[0]["text"] == "92+32=124"


def _two_lines_of(layout: str, seed: int, run_cli, tmp_path) -> tuple[dict, list[dict]]:
    """``hdr-expr bench expressions --<layout>`` on two images: the figures and the saved truth."""
    r = run_cli("bench", "expressions", f"--{layout}", "--n", "2", "--seed", str(seed), "--workers", "1",
                "--cold-runs", "0", "--json", "--save", tmp_path)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["layout"] == layout and res["n"] == 2
    return res, [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text(encoding="utf-8").splitlines()]


def test_bench_expressions_with_fractions(run_cli, tmp_path):
    _, truth = _two_lines_of("fractions", 2, run_cli, tmp_path)
    assert all(t["layout"] == "fraction" and "/" in t["text"] for t in truth)
    assert [t["read"] for t in truth] == [t["text"] for t in truth]  # (see tests/test_fractions.py)
    assert run_cli("bench", "expressions", "--fractions", "--columns", "--n", "1").exit_code != 0


def test_bench_worksheets_of_column_sums(run_cli, tmp_path):
    r = run_cli("bench", "worksheets", "--columns", "--pages", "1", "--seed", "1", "--workers", "1", "--json",
                "--save", tmp_path)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["layout"] == "columns" and res["lines"] == 6  # seed 1's first page: a grid of 3 × 2 sums
    (truth,) = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert truth["layout"] == "column" and truth["grid"] == [3, 2]
    assert res["line_accuracy"] == 1.0  # each sum scored where it lies (see tests/test_columns.py)


def test_bench_expressions_with_corrections(run_cli, tmp_path):
    res, truth = _two_lines_of("corrections", 1, run_cli, tmp_path)
    assert all(t["layout"] == "correction" and len(t["written"]) > len(t["text"]) for t in truth)
    assert {k for k in res["by_condition"] if k.startswith("crossed=")} == {f"crossed={t['crossed']}" for t in truth}
    assert run_cli("bench", "expressions", "--corrections", "--fractions", "--n", "1").exit_code != 0


def test_bench_expressions_with_marked_answers(run_cli, tmp_path):
    res, truth = _two_lines_of("marked", 1, run_cli, tmp_path)
    assert all(t["layout"] == "marked" and t["answer"] is not None for t in truth)
    assert {k for k in res["by_condition"] if k.startswith("marked=")} == {f"marked={t['marked']}" for t in truth}
    assert run_cli("bench", "expressions", "--marked", "--columns", "--n", "1").exit_code != 0

