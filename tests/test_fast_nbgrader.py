"""The worker's cached cell-metadata validation (:mod:`course_lib.instructor.grading.fast_nbgrader`)
accepts and refuses exactly what nbgrader's own does."""
from __future__ import annotations

import jsonschema
import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import CheckCellMetadata

from course_lib.instructor.grading import fast_nbgrader

GOOD = {"grade": True, "grade_id": "a", "locked": False, "points": 1, "schema_version": 3, "solution": True}
BAD = [dict(GOOD, points="one"), dict(GOOD, grade="yes"), {k: v for k, v in GOOD.items() if k != "locked"},
       dict(GOOD, grade_id=3)]


@pytest.mark.parametrize("meta", BAD)
def test_a_bad_cell_is_refused_with_jsonschemas_own_error(meta):
    schema = MetadataValidator().schema
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(meta, schema)
    validate = fast_nbgrader._validate_with_cached_validators()
    for _ in range(2):  # the second time from the cached validator
        with pytest.raises(jsonschema.ValidationError) as ours:
            validate(meta, schema)
        assert ours.value.message == theirs.value.message and ours.value.path == theirs.value.path


def test_a_good_cell_passes_and_the_schema_is_checked_once(monkeypatch):
    schema = MetadataValidator().schema
    checked = []
    cls = jsonschema.validators.validator_for(schema)
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, **k: checked.append(1)))
    validate = fast_nbgrader._validate_with_cached_validators()
    for _ in range(5):
        validate(dict(GOOD), MetadataValidator().schema)
    assert checked == [1]


def test_nbgraders_check_still_fails_a_corrupted_notebook_once_installed():
    fast_nbgrader.install()
    fast_nbgrader.install()  # twice is once
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": dict(GOOD)})])
    CheckCellMetadata().preprocess(nb, {})
    nb.cells[0].metadata.nbgrader["points"] = "one"
    with pytest.raises(ValidationError, match="metadata may be corrupted"):
        CheckCellMetadata().preprocess(nb, {})


def test_gradebooks_share_one_engine_and_still_read_and_write(tmp_path):
    from nbgrader.api import Gradebook

    from course_lib.instructor.grading import course

    course.alembic_on_path()  # a new gradebook runs alembic
    fast_nbgrader.install()
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_student("ann")
        first = gb.engine
    with Gradebook(url) as gb:  # a closed gradebook's engine serves the next one
        assert gb.engine is first and [s.id for s in gb.students] == ["ann"]
        gb.add_student("ben")
    with Gradebook(f"sqlite:///{tmp_path / 'other.db'}") as gb:
        assert gb.engine is not first and gb.students == []
    with Gradebook(url) as gb:
        assert sorted(s.id for s in gb.students) == ["ann", "ben"]
