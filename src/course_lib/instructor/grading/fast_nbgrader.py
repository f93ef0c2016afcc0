"""nbgrader's own work per notebook, without repeating what never changes (the worker calls :func:`install`).

nbgrader checks every cell's metadata with ``jsonschema.validate(metadata, schema)``
(:mod:`nbgrader.nbgraderformat.common`), and ``jsonschema.validate`` first checks the
*schema* against the JSON-Schema meta-schema, on every call: about 470 times per student,
most of nbgrader's time outside the kernels. Here the schema is checked once and one
validator per schema is kept; each cell is validated exactly as before and a bad one
raises the same ``jsonschema.ValidationError``.

Only the grading worker (a trusted process of its own) installs this; the name
``jsonschema`` is replaced in that one nbgrader module, not in jsonschema.
"""
from __future__ import annotations

import types


def _validate_with_cached_validators():
    import json

    import jsonschema

    validators: dict[str, object] = {}  # the schema as JSON -> its validator (nbgrader reads one schema file)

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:  # not how nbgrader calls it: jsonschema's own, unchanged
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))  # as jsonschema.validate
        if error is not None:
            raise error

    return validate


def install() -> None:
    """Make nbgrader's cell-metadata checks in this process validate with cached validators."""
    import jsonschema
    from nbgrader.nbgraderformat import common

    if isinstance(common.jsonschema, types.SimpleNamespace):
        return
    common.jsonschema = types.SimpleNamespace(validate=_validate_with_cached_validators(),
                                              ValidationError=jsonschema.ValidationError)
