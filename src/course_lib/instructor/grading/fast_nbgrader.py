"""nbgrader's own work per notebook, without repeating what never changes (the worker calls :func:`install`).

nbgrader checks every cell's metadata with ``jsonschema.validate(metadata, schema)``
(:mod:`nbgrader.nbgraderformat.common`), and ``jsonschema.validate`` first checks the
*schema* against the JSON-Schema meta-schema, on every call: about 470 times per student,
most of nbgrader's time outside the kernels. Here the schema is checked once and one
validator per schema is kept; each cell is validated exactly as before and a bad one
raises the same ``jsonschema.ValidationError``.

Each ``nbgrader.api.Gradebook`` also makes a new SQLAlchemy engine (nine per notebook);
here one engine per database URL serves them all (its pool is disposed as each gradebook
closes, as before, and refills on the next).

Only the grading worker (a trusted process of its own) installs this; the names
``jsonschema`` and ``create_engine`` are replaced in those nbgrader modules only.
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


def _one_engine_per_url():
    import threading

    import sqlalchemy

    engines: dict[tuple, object] = {}
    lock = threading.Lock()

    def create_engine(url, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        with lock:
            if key not in engines:
                engines[key] = sqlalchemy.create_engine(url, **kwargs)
            return engines[key]

    create_engine.cached = True
    return create_engine


def install() -> None:
    """Make nbgrader in this process validate cell metadata with cached validators and share one
    database engine per URL."""
    import jsonschema
    from nbgrader import api
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, types.SimpleNamespace):
        common.jsonschema = types.SimpleNamespace(validate=_validate_with_cached_validators(),
                                                  ValidationError=jsonschema.ValidationError)
    if not getattr(api.create_engine, "cached", False):
        api.create_engine = _one_engine_per_url()
