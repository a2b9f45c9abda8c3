"""A chat follow-up ("tell me more about that") prefers places the previous answer did not cite, as long as they
are about the question as much as the cited ones; when there are none it says the course has nothing more."""

from __future__ import annotations

import pytest

from agent.conversation import NOTHING_MORE, Conversation, answer_stream

pytestmark = pytest.mark.slow  # the sample course index (built once per session)


def _chat(services, *messages: str) -> list:
    conv = Conversation()
    for msg in messages:
        conv.turns.append(list(answer_stream(services, conv, msg))[-1])
    return conv.turns


def _places(turn) -> set[tuple[str, str]]:
    return {(s.citation.source, s.citation.display) for s in turn.sources}


def test_tell_me_more_quotes_a_place_not_cited_before(sample_index):
    first, more = _chat(sample_index["services"], "Which direction does gradient descent move the weights?",
                        "tell me more about that")
    assert not first.declined and not more.declined and "gradient descent" in more.query
    new = _places(more) - _places(first)
    assert new, (first.text, more.text)  # before: the same two places again, and "That is all the course says"
    assert all("gradient" in s.preview.lower() for s in more.sources if (s.citation.source, s.citation.display)
               in new)
    assert NOTHING_MORE not in more.text


def test_tell_me_more_without_another_place_on_it_says_so(sample_index):
    first, more = _chat(sample_index["services"], "What is the difference between regression and classification?",
                        "tell me more about that")
    assert not first.declined and _places(more) <= _places(first) and NOTHING_MORE in more.text
