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
