"""Coalescing reply tokens: the first at once, then by phrase or by window, with given times."""

from __future__ import annotations

from services.agent_worker.token_coalescing import TokenCoalescer, ends_phrase

WINDOW = 0.05


def test_the_first_token_is_never_held() -> None:
    coalescer = TokenCoalescer(WINDOW)
    assert coalescer.add("Our ", now=0.0) == "Our "
    assert coalescer.deadline is None


def test_tokens_are_held_until_a_phrase_ends() -> None:
    coalescer = TokenCoalescer(WINDOW)
    coalescer.add("Our ", now=0.0)
    assert coalescer.add("hours ", now=0.001) is None
    assert coalescer.add("are ", now=0.002) is None
    assert coalescer.add("9 to 5, ", now=0.003) == "hours are 9 to 5, "
    assert coalescer.add("Monday ", now=0.004) is None
    assert coalescer.add("to Friday.", now=0.005) == "Monday to Friday."
    assert coalescer.take() == ""


def test_the_window_sends_what_is_held_when_no_phrase_ends() -> None:
    coalescer = TokenCoalescer(WINDOW)
    coalescer.add("A ", now=0.0)
    assert coalescer.add("very ", now=1.0) is None
    assert coalescer.deadline == 1.0 + WINDOW
    assert coalescer.add("long ", now=1.02) is None
    assert coalescer.add("sentence ", now=1.0 + WINDOW) == "very long sentence "
    assert coalescer.deadline is None
    assert coalescer.add("goes ", now=1.2) is None
    assert coalescer.deadline == 1.2 + WINDOW


def test_what_is_held_is_taken_once() -> None:
    coalescer = TokenCoalescer(WINDOW)
    coalescer.add("Hello ", now=0.0)
    coalescer.add("there ", now=0.01)
    assert coalescer.take() == "there "
    assert coalescer.take() == ""
    assert coalescer.deadline is None


def test_a_zero_window_sends_every_token() -> None:
    coalescer = TokenCoalescer(0.0)
    assert [coalescer.add(t, now=0.0) for t in ("a ", "b ", "c ")] == ["a ", "b ", "c "]


def test_empty_tokens_are_neither_sent_nor_the_first() -> None:
    coalescer = TokenCoalescer(WINDOW)
    assert coalescer.add("", now=0.0) is None
    assert coalescer.add("Hi", now=0.0) == "Hi"


def test_phrase_ends() -> None:
    assert all(ends_phrase(t) for t in ("done.", "really? ", "wait!", "first, ", "a;", "x\n"))
    assert not any(ends_phrase(t) for t in ("word ", "9.5", "e-mail", "", " "))
