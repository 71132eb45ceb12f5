from pathlib import Path

from sqlalchemy import func, select

from bot.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from bot.store.database import CaseStore
from bot.store.importer import COLUMNS
from bot.store.models import Case, Merchant

GOOD_ROW = (
    "JC202611180023,898310058121234,张记便利店,13812345678,60013452,e_sign,license_expired,"
    "2026-11-10,under_review,2026-11-18T09:30:00,2026-11-19,,"
)


def _count(url: str, model) -> int:
    store = CaseStore(url)
    try:
        with store.session() as session:
            return session.execute(select(func.count()).select_from(model)).scalar_one()
    finally:
        store.dispose()


def test_setup_seeds_once(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("POSBOT_DB_URL", url)
    assert main(["db", "setup"]) == EXIT_OK
    merchants = _count(url, Merchant)
    assert merchants == 7
    assert main(["db", "setup"]) == EXIT_OK
    assert _count(url, Merchant) == merchants
    assert "case store ready (7 merchants)" in capsys.readouterr().out


def test_import_good_then_bad_file(tmp_path: Path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("POSBOT_DB_URL", url)
    good = tmp_path / "good.csv"
    good.write_text(",".join(COLUMNS) + "\n" + GOOD_ROW + "\n", encoding="utf-8")
    assert main(["db", "import", str(good)]) == EXIT_OK
    assert "imported 1 rows: cases 1 new" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(
        ",".join(COLUMNS) + "\n" + GOOD_ROW.replace("JC202611180023", "JC202611180024") + "\n"
        + GOOD_ROW.replace("898310058121234", "12345") + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert main(["db", "import", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "rejected, nothing was imported" in err
    assert "line 3: merchant_id '12345' must be 15 digits" in err
    assert _count(url, Case) == 1


def test_missing_file_and_bad_url_are_clear_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSBOT_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["db", "import", str(tmp_path / "nope.csv")]) == EXIT_BAD_INPUT
    assert "cannot read" in capsys.readouterr().err
    monkeypatch.setenv("POSBOT_DB_URL", "not a url")
    assert main(["db", "init"]) == EXIT_BAD_INPUT
    assert "POSBOT_DB_URL=(value not shown): expected a SQLAlchemy database URL" in (
        capsys.readouterr().err
    )
