"""``hdr-expr recognize``: text and --json output, bad inputs among good ones, exit codes, stdin, --annotate."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hdr_expr.models.card import default_model_path
from hdr_expr.symbols import SYMBOL_CLASSES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_recognize import expression_image, stack_lines  # noqa: E402


@pytest.fixture(scope="module")
def ready():
    if not (default_model_path() / "card.json").is_file():
        pytest.skip("no shipped model in models/default/ yet")
    try:
        import hdr_expr.pipeline.preprocess  # noqa: F401
        import hdr_expr.pipeline.segment  # noqa: F401
    except ModuleNotFoundError as exc:
        pytest.skip(f"pipeline stage not written yet: {exc.name}")


@pytest.fixture(scope="module")
def images(tmp_path_factory, ready) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-images")
    files = {
        "one": d / "one.png",
        "two": d / "two.png",
        "bad": d / "bad.png",
        "empty": d / "empty.png",
        "blank": d / "blank.png",
        "truncated": d / "truncated.png",
    }
    Image.fromarray(expression_image("47", seed=11)).save(files["one"])
    Image.fromarray(stack_lines(expression_image("305", seed=12), expression_image("86", seed=13))).save(files["two"])
    files["bad"].write_text("this is not an image\n")
    files["empty"].write_bytes(b"")
    Image.fromarray(np.full((120, 200, 3), 255, np.uint8)).save(files["blank"])
    files["truncated"].write_bytes(files["one"].read_bytes()[:200])
    return files


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_text_output_for_one_image(run_cli, images):
    r = run_cli("recognize", images["one"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    (line,) = r.stdout.splitlines()
    assert line.startswith("47") and " = 47" in line  # `47 = 47`: no file prefix for a single input


def test_several_inputs_are_prefixed(run_cli, images):
    r = run_cli("recognize", images["one"], images["two"])
    assert r.exit_code == 0, r.stderr
    out = r.stdout.splitlines()
    assert len(out) == 3
    assert out[0].startswith(f"{images['one']}: ")
    assert all(line.startswith(f"{images['two']}: ") for line in out[1:])


def test_json_schema(run_cli, images):
    r = run_cli("recognize", "--json", images["one"], images["two"])
    assert r.exit_code == 0, r.stderr
    pages = _json_lines(r.stdout)
    assert [p["file"] for p in pages] == [str(images["one"]), str(images["two"])]
    for page in pages:
        assert page["error"] is None and page["page"] == 1
        for line in page["lines"]:
            assert set(line) >= {"text", "expression", "latex", "value", "answer", "correct", "error",
                                 "confidence", "box", "symbols"}
            assert set(line["text"]) <= set(SYMBOL_CLASSES)
            assert isinstance(line["confidence"], float) and 0 <= line["confidence"] <= 1
            assert len(line["box"]) == 4 and all(isinstance(v, int) for v in line["box"])
            for sym in line["symbols"]:
                assert set(sym) == {"label", "confidence", "box", "alternatives"}
    assert len(pages[1]["lines"]) == 2


def test_bad_files_among_good_ones(run_cli, images):
    r = run_cli("recognize", "--json", images["bad"], images["one"], images["empty"], tmp := "no/such.png",
                images["truncated"], images["two"])
    assert r.exit_code == 1
    pages = _json_lines(r.stdout)
    assert len(pages) == 6  # one object per input, in order, the good ones read
    by_file = {p["file"]: p for p in pages}
    assert by_file[str(images["one"])]["error"] is None and by_file[str(images["one"])]["lines"]
    assert by_file[str(images["two"])]["error"] is None and len(by_file[str(images["two"])]["lines"]) == 2
    for name in (str(images["bad"]), str(images["empty"]), tmp, str(images["truncated"])):
        assert by_file[name]["error"], name
        assert by_file[name]["lines"] == []
    err = r.stderr.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("hdr-expr: error: ") for line in err)
    assert "Traceback" not in r.stderr


def test_bad_file_in_text_mode(run_cli, images):
    r = run_cli("recognize", images["bad"], images["one"])
    assert r.exit_code == 1
    assert r.stderr.count("\n") == 1 and "bad.png" in r.stderr
    assert r.stdout.startswith(f"{images['one']}: 47")


def test_blank_page_is_not_an_error(run_cli, images):
    r = run_cli("recognize", "--json", images["blank"])
    assert r.exit_code == 0
    (page,) = _json_lines(r.stdout)
    assert page["error"] is None and page["lines"] == []
    assert "no writing found" in run_cli("recognize", images["blank"]).stdout


def test_stdin(run_cli, images, monkeypatch):
    data = images["one"].read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    r = run_cli("recognize", "--json", "-")
    assert r.exit_code == 0, r.stderr
    (page,) = _json_lines(r.stdout)
    assert page["file"] == "-" and page["lines"][0]["text"] == "47"
    r = run_cli("recognize", "-", "-")
    assert r.exit_code != 0 and "only once" in r.stderr


def test_annotate(run_cli, images, tmp_path):
    out = tmp_path / "ann"
    r = run_cli("recognize", "--annotate", out, images["one"], images["two"], images["bad"])
    assert r.exit_code == 1  # the bad file
    written = sorted(p.name for p in out.iterdir())
    assert written == ["one.png", "two.png"]
    src = np.asarray(Image.open(images["one"]).convert("RGB"))
    ann = np.asarray(Image.open(out / "one.png"))
    assert ann.shape == src.shape and (ann != src).any()


def test_missing_model_is_one_line(run_cli, images, tmp_path):
    r = run_cli("recognize", "--model", tmp_path / "nope", images["one"])
    assert r.exit_code == 3
    assert r.stderr.startswith("hdr-expr: error: model directory not found") and r.stderr.count("\n") == 1


def test_entry_point_no_traceback(images):
    # The installed console script, as a user runs it: a bad file and a good one.
    exe = Path(sys.executable).with_name("hdr-expr")
    if not exe.exists():
        pytest.skip("hdr-expr console script not installed in this environment")
    r = subprocess.run([str(exe), "recognize", str(images["truncated"]), str(images["one"])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "47" in r.stdout
