"""Reading a paged list whole and true.

Buddy's lists are offset pages (``page``, ``per_page``) with no totals, no next link and no documented
largest page. So a list ends on proof only: at an empty page, or at a page shorter than one this run has
already seen the server fill (the server then plainly hands back more than that). One server is taken to
cap every list alike: the largest page seen on any list of the run is the proof.
A short page that could be the server's own cap costs one more request, never a guess.

Offsets shift when someone edits the project during a read: an item added in front of the read part is
seen twice, one removed from it is never seen. Both are caught and the list read again (``SHIFT_READS``
times at most) before giving up with a ``ShiftedReadError``:

* an id seen twice in one read is a shift, never a duplicate;
* a read that must not miss anything (``confirm``) is kept when its answers are known to agree
  (``Listing.checked``). One answer is a consistent snapshot: an empty first page, or a first page
  proven the end by its length. The one more request a short first page costs is chosen to prove the
  end and agreement at once: for a list sorted by id (the pipelines), page 2 asked at one item fewer a
  page, which must start with page 1's last item (``_overlap``); for a pipeline's actions, the
  pipeline's own answer, which holds the whole list in one answer and must list the same ids
  (``whole``; a GET the caller made already serves, and the read is then the list of that moment).
  Otherwise a read of several requests is compared with a second read, and a read of two requests
  with its first page asked again, which must be that page exactly: only a removal from it hides an
  item, and the page shows the removal. A first page of one or two items, too short to overlap, costs
  the empty page and page 1 again.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.buddy.answers import is_id, kind
from reconciler.errors import BadAnswerError, ShiftedReadError

#: items asked for a page: a hint, not an assumption (a server may cap it lower, see the module doc)
PER_PAGE = 100
#: a list longer than this is a server that pages forever, not a project
MAX_LIST_ITEMS = 20_000
#: reads of one list before a list that keeps moving is given up
SHIFT_READS = 3

Exchange = Callable[..., tuple[int, Any]]
Bad = Callable[..., BadAnswerError]


class Listing(list[dict[str, Any]]):
    """The items of a list read, in order; ``pages`` counts the pages it asked for, the empty one that
    ended it too: a full page then an empty one are two answers, and an item removed in front between
    them is never seen. ``checked`` when the answers are known to agree: one answer, two that overlap
    (see ``PageReader._overlap``), or pages that the one answer holding the whole list agrees with."""

    pages: int = 0
    checked: bool = False
    first: int = 0  # items on page 1
    widest: int = 0  # items on its fullest page


class _Shifted(Exception):
    """One read saw the list move; ``detail`` says how, ``ignored_page`` when a whole page repeated."""

    def __init__(self, detail: str, *, ignored_page: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ignored_page = ignored_page


class PageReader:
    """Reads paged lists through ``exchange`` (the client's request loop) and remembers the largest
    page the server has handed back in this run (shared by every thread)."""

    def __init__(self, exchange: Exchange, bad: Bad) -> None:
        self._exchange = exchange
        self._bad = bad
        self._largest = 0
        self._lock = threading.Lock()

    def _saw(self, count: int) -> None:
        with self._lock:
            self._largest = max(self._largest, count)

    def read(
        self,
        path: str,
        key: str,
        *,
        query: str = "",
        confirm: bool = False,
        whole: Callable[[], Any] | None = None,
        ascending: bool = False,
    ) -> Listing:
        """Every item of the ``key`` list at ``path``. With ``confirm``, a read whose answers are not
        known to agree is kept only when a second read agrees (or, for two requests, its page 1).
        ``whole``: gives one answer that holds the whole list under ``key`` (a pipeline and its actions),
        asked to agree with the pages instead of reading them again. ``ascending``: ``query`` sorts the
        list by id, so an item added meanwhile lands at the end (see ``_overlap``). Only a read kept
        teaches the run how many items the server hands back on a page: a page of a read thrown away
        (moved, or not agreeing) may be a bad answer, and would end later lists too soon."""
        listing = self._read(path, key, query, confirm, whole, ascending)
        self._saw(listing.widest)
        return listing

    def _read(
        self, path: str, key: str, query: str, confirm: bool, whole: Callable[[], Any] | None, ascending: bool
    ) -> Listing:
        previous: Listing | None = None
        moved = ""
        ignored = 0
        for _ in range(SHIFT_READS):
            # asked once a read: the answer proves the pages it agrees with whenever it was given
            one = functools.cache(whole) if whole is not None else None
            try:
                current = self._once(path, key, query, one, ascending)
            except _Shifted as exc:
                moved, previous = exc.detail, None
                ignored += exc.ignored_page
                continue
            if not confirm or current.checked:
                return current
            if one is not None and self._whole_agrees(one, key, current):
                current.checked = True
                return current
            if previous is not None:
                moved = difference(previous, current)
                if not moved:
                    return current
            elif current.pages == 2:
                if self._first_page_agrees(path, key, query, current):
                    return current
                moved = "an item left page 1 between the requests for page 1 and page 2"
                continue
            previous = current
        if ignored == SHIFT_READS:  # the same page every time: not an edit, a server that ignores `page`
            raise self._bad("GET", path, 200, f"repeats a page: the server seems to ignore `page` ({moved})")
        raise ShiftedReadError("GET", path, key, moved, SHIFT_READS)

    def _first_page_agrees(self, path: str, key: str, query: str, read: Listing) -> bool:
        """A read of two requests misses an item only when one was removed from its first page between
        them; that page asked again (one request, not a whole read) lacks it then, as ids are never
        reused. True when the first page now is the read's first page, item for item (a shorter one:
        the list lost items since, and ``read`` was never the whole list)."""
        _status, _items, ids = self._page(path, key, query, 1)
        return ids == [item["id"] for item in read[: read.first]]

    @staticmethod
    def _whole_agrees(whole: Callable[[], Any], key: str, read: Sequence[dict[str, Any]]) -> bool:
        """True when the one answer ``whole`` gives lists the ids of ``read``, in order: that answer is
        one moment, and the pages agree with it, whenever it was given. Anything else (a difference, no
        such list) proves nothing."""
        body = whole()
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != len(read):
            return False
        return all(isinstance(a, dict) and a.get("id") == b["id"] for a, b in zip(items, read, strict=True))

    def _overlap(self, path: str, key: str, query: str, ids: list[int]) -> tuple[list[Any], list[int]] | None:
        """A short first page of n ids in ascending order that nothing proves the end (n may be the
        server's own cap): page 2 asked at n - 1 a page starts at that page's last item. The list is
        sorted by id, so an item added since lands after it, and one removed in front of it would have
        moved it to an earlier place: an answer that starts with it, in ascending order, proves page 1
        unchanged. Its other items go on the list (the items and ids returned), read on at n - 1 a page;
        an answer shorter than that is the end, in one request, not an empty page and page 1 again. Any
        other answer (an edit, a server that keeps its own page size or ignores the sort) proves
        nothing: None, and the list is read on as usual."""
        _status, items, more = self._page(path, key, query, 2, len(ids) - 1)
        if not more or more[0] != ids[-1] or more != sorted(set(more)):
            return None
        return items[1:], more

    def _page(
        self, path: str, key: str, query: str, page: int, size: int = PER_PAGE
    ) -> tuple[int, list[Any], list[int]]:
        """One page's status, items and their ids, each item checked."""
        status, body = self._exchange("GET", path, query=f"?page={page}&per_page={size}{query}", page=page)
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            shape = "empty" if body is None else kind(body)
            raise self._bad("GET", path, status, f"has no {key!r} list (it is {shape})", page=page)
        return status, items, [self._item_id(path, status, key, page, index, item) for index, item in enumerate(items)]

    def _once(self, path: str, key: str, query: str, whole: Callable[[], Any] | None, ascending: bool) -> Listing:
        listing = Listing()
        seen: dict[int, int] = {}
        previous: list[int] | None = None
        page, size = 1, PER_PAGE
        while True:
            status, items, ids = self._page(path, key, query, page, size)
            _check_moves(page, ids, previous, seen)
            if len(listing) + len(items) > MAX_LIST_ITEMS:
                raise self._bad(
                    "GET", path, status, f"goes on past {MAX_LIST_ITEMS} {key}: stopped reading the list", page=page
                )
            if not items:
                listing.pages, listing.checked = page, page == 1  # an empty list in one answer
                return listing
            listing.extend(items)
            listing.pages += 1
            listing.first = listing.first or len(items)
            listing.widest = max(listing.widest, len(items))
            if len(items) < size and len(items) < max(self._largest, listing.widest):
                listing.checked = page == 1
                return listing  # shorter than a page the server has filled: the end, proven
            previous, page = ids, page + 1
            short = page == 2 and len(items) < size
            if short and whole is not None and self._whole_agrees(whole, key, listing):
                listing.checked = True
                return listing  # the one answer that holds the whole list is these items: the end
            probe = short and ascending and len(items) >= 3 and ids == sorted(set(ids))
            joined = self._overlap(path, key, query, ids) if probe else None
            if joined is not None:
                rest, previous = joined
                listing.extend(rest)
                listing.pages, page, size = 2, 3, len(ids) - 1
                seen.update(dict.fromkeys(previous[1:], 2))
                if len(previous) < size:  # short of what was asked, and the server filled more: the end
                    listing.checked = True
                    return listing

    def _item_id(self, path: str, status: int, key: str, page: int, index: int, item: Any) -> int:
        if not isinstance(item, dict):
            raise self._bad("GET", path, status, f"has {kind(item)} as item {index + 1} of {key!r}", page=page)
        ident = item.get("id")
        if not is_id(ident):
            got = "no id" if "id" not in item else f"an id that is {kind(ident)}"
            raise self._bad("GET", path, status, f"has {got} in item {index + 1} of {key!r}", page=page)
        name = item.get("name")
        if not isinstance(name, str):  # matched by name: one without would look absent, and be created again
            got = "no name" if "name" not in item else f"a name that is {kind(name)}"
            raise self._bad("GET", path, status, f"has {got} in item {index + 1} of {key!r}", page=page)
        return ident


def _check_moves(page: int, ids: list[int], previous: list[int] | None, seen: dict[int, int]) -> None:
    """Raise ``_Shifted`` when page ``page`` repeats the page before, or an id already seen."""
    if ids and ids == previous:
        raise _Shifted(f"page {page} repeats page {page - 1}", ignored_page=True)
    for ident in ids:
        if ident in seen:
            raise _Shifted(f"#{ident} was on page {seen[ident]} and again on page {page}")
        seen[ident] = page


def difference(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]]) -> str:
    """How two reads of one list differ, in a few words ("" when they list the same ids in order)."""
    first = [item.get("id") for item in before]
    second = [item.get("id") for item in after]
    if first == second:
        return ""
    before_ids, after_ids = set(first), set(second)
    gone = [i for i in first if i not in after_ids]
    new = [i for i in second if i not in before_ids]
    parts = []
    if gone:
        parts.append("gone: " + ", ".join(f"#{i}" for i in gone[:5]))
    if new:
        parts.append("new: " + ", ".join(f"#{i}" for i in new[:5]))
    return "two reads differ (" + ("; ".join(parts) or "the order changed") + ")"
