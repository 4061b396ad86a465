"""The coverage floors: rows per app and layer, new apps held to the defaults, failure below."""

import json

from project.testing import coverage_floors
from project.testing.coverage_floors import main, measure

FLOORS = {"{app}/*": 70, "jobs/*": 85, "{app}/services*": 90}


def report(**files):
    """{path: (statements, missing)} written the way `coverage json` writes it."""
    return {"files": {path.replace("__", "/"): {"summary": {"num_statements": statements,
                                                            "missing_lines": missing}}
                      for path, (statements, missing) in files.items()}}


def rows_of(data):
    return {row.glob: (row.files, row.statements, row.missing, row.floor, row.ok)
            for row in measure(coverage_floors.load_report(data), FLOORS)}


def test_rows_per_app_and_layer(tmp_path):
    """Each app gets a row, each services module or package one more; a named app its floor."""
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report(
        jobs__services__jobs=(60, 3), jobs__services__images=(40, 7), jobs__models=(100, 0),
        accounts__services=(10, 0), accounts__apis=(10, 4))))
    assert rows_of(path) == {
        "accounts/*": (2, 20, 4, 70, True),
        "accounts/services*": (1, 10, 0, 90, True),
        "jobs/*": (3, 200, 10, 85, True),
        "jobs/services*": (2, 100, 10, 90, True),
    }


def test_a_new_app_is_held_to_the_default_floors(tmp_path):
    """A package nobody listed (a new app) gets the `{app}` floors: here it is below one."""
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report(studio__services=(10, 5), studio__views=(90, 0))))
    rows = rows_of(path)
    assert rows["studio/*"] == (2, 100, 5, 70, True)
    assert rows["studio/services*"] == (1, 10, 5, 90, False)


def test_main_fails_below_a_floor_and_names_it(tmp_path, capsys, monkeypatch):
    """The run fails when one row is below its floor, and the table says which."""
    monkeypatch.setattr(coverage_floors, "FLOORS", FLOORS)
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report(jobs__dispatch=(100, 16), jobs__services=(10, 1))))
    assert main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "jobs/*" in out and "BELOW FLOOR" in out and "1 below the floor: jobs/*" in out

    path.write_text(json.dumps(report(jobs__dispatch=(100, 10), jobs__services=(10, 1))))
    assert main([str(path)]) == 0
    assert "All 2 coverage floors met." in capsys.readouterr().out


def test_a_floor_is_met_at_the_precision_shown(tmp_path):
    """89.96 % prints as 90.0 % and meets a floor of 90; 89.94 % does not."""
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report(jobs__services=(10000, 1004))))
    assert rows_of(path)["jobs/services*"][4] is True
    path.write_text(json.dumps(report(jobs__services=(10000, 1006))))
    assert rows_of(path)["jobs/services*"][4] is False
