"""Assertions shared by the API tests."""


def assert_error(response, status: int) -> dict:
    """The one error shape: {"message": str, "extra": {...}}."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"message", "extra"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["extra"], dict)
    return body
