"""A queryset compiled to SQL once per process, then run again with new values.

Django builds and compiles a queryset's SQL on every evaluation. For the lookups made on every
API call (the caller's token, a job by id) that cost more CPU than the query itself: in a spike
profile of the web processes, the token check was 14 % of their CPU, ~85 % of it the ORM
building, compiling and loading, ~10 % the query. A PreparedQuery keeps what the compiler
worked out (the SQL, where each value goes, how each column converts, how rows become model
instances with their select_related objects) and each call only executes and loads.

The queryset must have the same SQL whatever the values: equality lookups, select_related,
no annotations. Values are turned into database values as the ORM does (the field's
get_db_prep_value), so a malformed one raises the same ValidationError or ValueError.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet
from django.db.models.query import get_related_populators

_samples = itertools.count(1)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple  # a parameter's name, or a constant of the queryset's own
    converters: tuple
    model: type[Model]
    model_columns: slice
    init_list: tuple[str, ...]
    related_populators: tuple


class PreparedQuery:
    """`build(**values)` returns the queryset; `fields` names the model field each value is
    compared with (it decides how the value is sent to the database)."""

    def __init__(self, build: Callable[..., QuerySet], **fields: Field):
        self.build = build
        self.fields = fields
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def __call__(self, using: str = DEFAULT_DB_ALIAS, **values) -> list[Model]:
        if values.keys() != self.fields.keys():
            raise TypeError(f"expected values for {sorted(self.fields)}, got {sorted(values)}")
        connection = connections[using]
        compiled = self._compiled.get(using) or self._compile(using)
        prepared = {name: field.get_db_prep_value(values[name], connection, prepared=False)
                    for name, field in self.fields.items()}
        params = [prepared[p] if isinstance(p, _Name) else p for p in compiled.params]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        found = []
        for row in rows:
            if compiled.converters:
                row = list(row)
                for position, (converters, expression) in compiled.converters:
                    value = row[position]
                    for converter in converters:
                        value = converter(value, expression, connection)
                    row[position] = value
            instance = compiled.model.from_db(using, compiled.init_list,
                                              row[compiled.model_columns])
            for populator in compiled.related_populators:
                populator.populate(row, instance)
            found.append(instance)
        return found

    def _compile(self, using: str) -> _Compiled:
        with self._lock:
            if using in self._compiled:
                return self._compiled[using]
            connection = connections[using]
            samples = {name: _sample(field) for name, field in self.fields.items()}
            by_db_value = {field.get_db_prep_value(samples[name], connection, prepared=False):
                           _Name(name) for name, field in self.fields.items()}
            compiler = self.build(**samples).query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            if compiler.annotation_col_map:
                raise ValueError("a PreparedQuery cannot carry annotations")
            names = [by_db_value.get(param, param) for param in params]
            missing = set(self.fields) - {str(name) for name in names if isinstance(name, _Name)}
            if missing:
                raise ValueError(f"the queryset does not compare {sorted(missing)} with a field")
            select, klass_info = compiler.select, compiler.klass_info
            columns = klass_info["select_fields"]
            model_columns = slice(columns[0], columns[-1] + 1)
            self._compiled[using] = compiled = _Compiled(
                sql=sql, params=tuple(names),
                converters=tuple(compiler.get_converters(
                    [column[0] for column in select]).items()),
                model=klass_info["model"], model_columns=model_columns,
                init_list=tuple(column[0].target.attname for column in select[model_columns]),
                related_populators=tuple(get_related_populators(klass_info, select, using)))
            return compiled


class _Name(str):
    """Where a call's value goes among the compiled parameters."""


def _sample(field: Field):
    """A value no real row holds, of the field's type, to find it among the parameters."""
    number = next(_samples)
    kind = field.get_internal_type()
    if kind in ("CharField", "TextField", "SlugField", "EmailField"):
        return f"\x00prepared-{number}-{uuid.uuid4().hex}"
    if kind == "UUIDField":
        return uuid.uuid4()
    if kind in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField",
                "PositiveIntegerField", "PositiveBigIntegerField"):
        return -(10 ** 12) - number
    raise TypeError(f"PreparedQuery does not know how to sample a {kind}")
