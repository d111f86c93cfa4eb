"""A runs folder holding broken files from earlier runs: ``run`` and ``verify`` go on,
``report`` and ``show`` warn once per file."""

from __future__ import annotations


def test_run_verify_report_show_over_broken_files(toy_lab, invoke, tmp_path):
    runs = tmp_path / "runs"
    old = runs / toy_lab / "20000101-000000-smoke-s0"
    old.mkdir(parents=True)
    (old / "result.json").write_text("[1, 2, 3]")
    cut = runs / toy_lab / "20000102-000000-smoke-s0"
    cut.mkdir()
    truncated = '{"lab": "' + toy_lab + '", "claims": ['
    (cut / "result.json").write_text(truncated)
    verify_dir = runs / toy_lab / "verify-20000101-000000-smoke-s0"
    verify_dir.mkdir()
    (verify_dir / "stability.json").write_text("[]")

    ran = invoke("run", toy_lab, "--scale", "smoke", "--out", str(runs))
    assert ran.exit_code == 0, ran.output
    verified = invoke("verify", toy_lab, "--scale", "smoke", "--seed-sets", "2", "--out",
                      str(runs))
    assert verified.exit_code == 0, verified.output
    assert "Traceback" not in ran.output + verified.output

    report = invoke("report", "--runs", str(runs), "--out", str(tmp_path / "site"))
    assert report.exit_code == 0, report.output
    warned = report.stderr.strip().splitlines()
    assert sorted(warned) == sorted([
        f"warning: {old / 'result.json'}: holds a list, not a JSON object; skipped",
        f"warning: {cut / 'result.json'}: not valid JSON (Expecting value: line 1 column "
        f"{len(truncated) + 1} (char {len(truncated)})); skipped",
        f"warning: {verify_dir / 'stability.json'}: holds a list, not a JSON object; skipped",
    ])
    assert (tmp_path / "site" / "labs" / toy_lab / "index.html").is_file()
    shown = invoke("show", "Q09", "--runs", str(runs))
    assert shown.exit_code == 0 and "echo" in shown.stdout
    assert len(shown.stderr.strip().splitlines()) == 3
