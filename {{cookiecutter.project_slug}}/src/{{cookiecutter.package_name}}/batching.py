"""Split work into batches, e.g. for bulk API calls or database writes."""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield successive lists of at most ``size`` items from ``items``.

    >>> list(chunked(range(5), 2))
    [[0, 1], [2, 3], [4]]

    Raises:
        ValueError: if ``size`` is not a positive integer.
    """
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
