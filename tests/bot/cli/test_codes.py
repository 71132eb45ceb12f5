"""`posbot codes check` and the start of `posbot serve` with a bad response code table."""

from __future__ import annotations

from bot.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from bot.cli.serve import serve
from tests.conftest import ROOT

BAD = (
    'codes:\n  "03": {meaning: 无效商户, kind: blocked}\n'
    "phrases:\n  无效商户: {meaning: x, kind: keys}\n"
)


def test_the_shipped_table_checks_out(capsys):
    assert main(["codes", "check", str(ROOT / "config" / "response_codes.yml")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "codes" in out and out.strip().endswith("valid")


def test_a_bad_table_is_reported_with_the_entry_and_the_field(tmp_path, monkeypatch, capsys):
    path = tmp_path / "codes.yml"
    path.write_text(BAD, encoding="utf-8")
    monkeypatch.setenv("POSBOT_RESPONSE_CODES", str(path))
    assert main(["codes", "check"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"posbot codes: {path}: codes['03']: 'kind' is 'blocked'")


def test_serve_refuses_to_start_with_a_bad_table(tmp_path, monkeypatch, capsys):
    path = tmp_path / "codes.yml"
    path.write_text(BAD, encoding="utf-8")
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    monkeypatch.setenv("POSBOT_RESPONSE_CODES", str(path))
    # Returns before any server process is started (none would be stopped otherwise).
    assert serve(model=str(model), shell=False, port=1, actions_port=1) == 1
    err = capsys.readouterr().err
    assert f"posbot: response code table {path}: codes['03']: 'kind' is 'blocked'" in err
