"""The chat in Gemini mode against the fake server: tokens stream into the turn, and a follow-up's agent
call carries the conversation so far (without the earlier answer's [S n] labels)."""

from __future__ import annotations

import json

import pytest

from agent.conversation import Conversation, answer_stream
from tests.test_gemini_e2e import gemini_services  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def _chat_requests(server):
    return [r for r in server.requests if r.action in ("generateContent", "streamGenerateContent")]


def test_gemini_chat_streams_tokens_and_sees_history(gemini_services, fake_gemini):  # noqa: F811
    fake_gemini.reply_function_call("search_course", {"query": "discount factor gamma"})
    fake_gemini.reply_text("Gamma weights future rewards against immediate ones [S1]. "
                           "A smaller gamma makes the agent short-sighted, caring mostly about the next reward [S1].")
    conv = Conversation()
    turns = list(answer_stream(gemini_services, conv, "What does the discount factor gamma do?"))
    partial = [t.text for t in turns if not t.done and t.text]
    assert len(partial) >= 2 and partial[0] != partial[-1]  # the text grew token by token
    assert all("[S" not in p for p in partial)  # labels appear once resolved, as clickable markers
    final = turns[-1]
    assert final.done and final.mode == "gemini" and "[S1]" in final.text
    assert final.sources and final.sources[0].key == "t1:S1"
    assert any(r.action == "streamGenerateContent" for r in _chat_requests(fake_gemini))
    conv.turns.append(final)

    fake_gemini.reply_function_call("search_course", {"query": "discount factor 0.5"})
    fake_gemini.reply_text("With gamma = 0.5 a reward two steps ahead counts a quarter [S1].")
    turns = list(answer_stream(gemini_services, conv, "and what if it is 0.5?"))
    assert turns[-1].done and not turns[-1].error, turns[-1].text
    first_call = _chat_requests(fake_gemini)[-2].body["contents"]
    said = [" ".join(p.get("text", "") for p in c["parts"]) for c in first_call]
    assert said[0] == "What does the discount factor gamma do?"
    assert said[1].startswith("Gamma weights future rewards") and "[S1]" not in said[1]
    assert "what if it is 0.5" in said[2]

    # Filters reach the agent's own searches: only deck pages come back as evidence.
    fake_gemini.reply_function_call("search_course", {"query": "discount factor gamma"})
    fake_gemini.reply_text("The deck defines the discount factor [S1].")
    turns = list(answer_stream(gemini_services, Conversation(), "What does the discount factor gamma do?",
                               kinds=["pdf"]))
    evidence = json.dumps(_chat_requests(fake_gemini)[-1].body["contents"])
    assert "ml_basics.pdf p." in evidence and "Lecture 2" not in evidence
    assert turns[-1].sources and all(s.citation.kind == "pdf" for s in turns[-1].sources)
