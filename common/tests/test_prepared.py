"""common/prepared: a queryset compiled once per process loads what the ORM loads."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db.models.sql.compiler import SQLCompiler
from knox.models import AuthToken

from accounts.models import User
from common.prepared import PreparedQuery

pytestmark = pytest.mark.django_db


def tokens_with_key():
    return PreparedQuery(
        lambda token_key: AuthToken.objects.filter(token_key=token_key).select_related("user"),
        token_key=AuthToken._meta.get_field("token_key"))


@pytest.fixture
def user():
    return User.objects.create_user("prepared@example.com", "x-Strong-Pass-99")


def test_it_loads_what_the_orm_loads_with_the_related_object_in_the_same_query(
        user, django_assert_num_queries):
    token, _ = AuthToken.objects.create(user)
    AuthToken.objects.create(user)  # another key: not found
    expected = AuthToken.objects.select_related("user").get(pk=token.pk)
    lookup = tokens_with_key()
    lookup(token_key=token.token_key)  # compiled on first use
    with django_assert_num_queries(1):
        [found] = lookup(token_key=token.token_key)
        assert found.user.email == user.email
    assert found.pk == expected.pk and found.digest == expected.digest
    assert found.created == expected.created and found.created.tzinfo is not None
    assert found.user.date_joined == expected.user.date_joined
    assert found.user.is_active is True
    assert found._state.adding is False and found._state.db == "default"


def test_the_sql_is_compiled_once_and_each_call_runs_with_its_own_values(user):
    first, _ = AuthToken.objects.create(user)
    second, _ = AuthToken.objects.create(user)
    lookup = tokens_with_key()
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True,
                           side_effect=SQLCompiler.as_sql) as as_sql:
        assert [t.pk for t in lookup(token_key=first.token_key)] == [first.pk]
        assert [t.pk for t in lookup(token_key=second.token_key)] == [second.pk]
        assert lookup(token_key="nothere1") == []
    assert as_sql.call_count == 1


def test_values_are_turned_into_database_values_as_the_orm_does(user):
    by_id = PreparedQuery(lambda pk: User.objects.filter(pk=pk), pk=User._meta.pk)
    assert [u.email for u in by_id(pk=str(user.pk))] == [user.email]  # "12" as the ORM takes it
    with pytest.raises((ValueError, TypeError, ValidationError)):
        by_id(pk="not a number")


def test_values_must_match_what_it_was_declared_with():
    lookup = tokens_with_key()
    with pytest.raises(TypeError, match="token_key"):
        lookup(key="x")


def test_a_declared_value_the_queryset_never_uses_is_refused(user):
    unused = PreparedQuery(lambda email: User.objects.filter(is_active=True),
                           email=User._meta.get_field("email"))
    with pytest.raises(ValueError, match="email"):
        unused(email=user.email)
