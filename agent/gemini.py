"""The Gemini answerer: a LangChain agent over ChatGoogleGenerativeAI with the course search tool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rag.errors import ConfigError
from rag.gemini_provider import GeminiProvider
from rag.settings import Settings

SYSTEM_PROMPT = """You answer students' questions about one course using only its material.
Always call search_course first. Answer in at most five sentences, and put the label of the result
that supports each sentence right after it, like [S1]. If the results do not contain the answer,
reply exactly: "This is not covered in this course's material." Do not use outside knowledge."""


def provider_for(settings: Settings, embedder: Any = None) -> GeminiProvider:
    """The embedder's Gemini provider when it has one, else one built from the settings."""
    found = getattr(embedder, "gemini", None)
    if isinstance(found, GeminiProvider):
        return found
    key = settings.api_key()
    if key is None:
        raise ConfigError("Gemini answers need GEMINI_API_KEY or GOOGLE_API_KEY. Export one, or use the offline "
                          "answerer (embedding.provider: local).")
    return GeminiProvider(settings.gemini, key)


def make_chat_model(settings: Settings, embedder: Any = None) -> Any:
    """ChatGoogleGenerativeAI built by the one Gemini provider (same endpoint, version, key, retries)."""
    return provider_for(settings, embedder).chat_model()


def run_agent(chat_model: Any, tools: list, question: str, history: Sequence[tuple[str, str]] = (),
              on_token: Callable[[str], None] | None = None) -> str:
    """Run the tool-calling loop and return the model's final text; `history` holds the chat's earlier
    (question, answer) pairs, so a follow-up ("and the next slide?") is read in context. With `on_token`,
    the model's answer text is streamed to it as it is generated."""
    from langchain.agents import create_agent

    agent = create_agent(model=chat_model, tools=tools, system_prompt=SYSTEM_PROMPT)
    messages = [m for q, a in history for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]
    inputs: Any = {"messages": [*messages, {"role": "user", "content": question}]}  # the agent state
    if on_token is None:
        return _text(agent.invoke(inputs)["messages"][-1].content)
    answer = ""
    stream: Any = agent.stream(inputs, stream_mode="messages")  # (message chunk, metadata) pairs
    for chunk, meta in stream:
        if meta.get("langgraph_node") != "model":
            continue  # tool results are evidence, not answer text
        if getattr(chunk, "tool_call_chunks", None):
            answer = ""  # text before a tool call is not the answer
            continue
        delta = _text(chunk.content)
        if delta:
            answer += delta
            on_token(delta)
    return answer


def _text(content: Any) -> str:
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)
