import pytest

from {{ cookiecutter.package_name }} import chunked


def test_chunked_splits_into_batches_of_the_given_size() -> None:
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_chunked_accepts_any_iterable_and_consumes_it_lazily() -> None:
    batches = chunked(iter("abcd"), 2)
    assert next(batches) == ["a", "b"]
    assert next(batches) == ["c", "d"]
    assert next(batches, None) is None


def test_chunked_of_nothing_yields_nothing() -> None:
    assert list(chunked([], 3)) == []


@pytest.mark.parametrize("size", [0, -1])
def test_chunked_rejects_a_size_below_one(size: int) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        list(chunked([1, 2], size))
