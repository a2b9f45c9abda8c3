"""The documented Gemini API rules the fake server enforces, one function per rule family.

Each rule names its source. Sources, cited by the short names used in the comments below:
- [EMB2]  Vertex AI model card "Gemini Embedding 2",
          https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/embedding-2
          (images: <= 6 per prompt, image/png + image/jpeg; documents: 1 file, <= 6 pages, application/pdf;
          video: 1 per prompt, video/mpeg + video/mp4, <= 120 s without audio, <= 80 s with audio;
          8,192 input tokens; output up to 3,072 with MRL).
- [EMB2-3P] Third-party model summaries (vercel.com/ai-gateway/models/gemini-embedding-2/faq,
          docs.litellm.ai/blog/gemini_embedding_2_ga): video MP4 *and MOV*, audio MP3/WAV up to 80 s, output
          128-3,072. Not found on a Google page in our search corpus: MOV, the 80 s audio cap and the 128 floor
          are taken from these and from the issue.
- [AUDIO] Gemini API "Audio understanding", https://ai.google.dev/gemini-api/docs/audio: the MIME strings are
          `audio/mp3` and `audio/wav` (not audio/mpeg).
- [FILES] Gemini API file input methods (inline data, 100 MB per request payload), as in /work/shared/DESIGN.md
          section 4; the 100-request batch cap is the SDK/REST `BatchEmbedContentsRequest` limit.
- [DEPR]  Gemini deprecations, https://ai.google.dev/gemini-api/docs/deprecations (2.0 and 2.5 Flash/Pro
          retired; gemini-3.5-flash, gemini-3.6-flash, gemini-3.5-flash-lite, gemini-3.1-flash-lite GA).
- [TSIG]  Gemini API "Thought signatures", https://ai.google.dev/gemini-api/docs/thought-signatures, and the
          400 text users report (e.g. github.com/langgenius/dify-official-plugins/issues/2088): Gemini 3
          function-call parts carry `thoughtSignature`; the current turn's calls must echo it back.
- [ERR]   Error shapes seen from the real API: `{"error": {"code", "message", "status", "details"}}`; 429
          details `google.rpc.QuotaFailure` (violations: quotaMetric, quotaId, quotaDimensions, quotaValue),
          `google.rpc.Help`, `google.rpc.RetryInfo` {"retryDelay": "26s"} (github.com/RooCodeInc/Roo-Code
          issues/3883); 404 "models/X is not found for API version v1beta, or is not supported for
          generateContent"; protobuf JSON `Unknown name "x" at 'y': Cannot find field.`
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from typing import Any

from rag.testing.fake_vectors import InvalidRequest

# [DEPR] + [EMB2]: the models the fake serves. gemini-embedding-001 is text-only.
EMBED_MODELS = frozenset({"gemini-embedding-2", "gemini-embedding-2-preview", "gemini-embedding-001"})
TEXT_ONLY_EMBED_MODELS = frozenset({"gemini-embedding-001"})
CHAT_MODELS = frozenset({
    "gemini-3.5-flash", "gemini-3.6-flash", "gemini-3.7-flash", "gemini-3.8-flash", "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite", "gemini-3.1-pro-preview", "gemini-3-flash-preview", "gemini-2.5-flash-lite",
})
# [DEPR]: shut down; the API answers 404 NOT_FOUND for them.
RETIRED_MODELS = frozenset({
    "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-2.0-flash-001", "gemini-2.0-flash-lite",
    "gemini-1.5-flash", "gemini-1.5-pro", "gemini-3-pro-preview",
})

# [EMB2] images, PDF, video; [EMB2-3P] MOV; [AUDIO] the audio MIME strings.
IMAGE_MIMES = frozenset({"image/png", "image/jpeg"})
PDF_MIMES = frozenset({"application/pdf"})
VIDEO_MIMES = frozenset({"video/mp4", "video/mpeg", "video/quicktime"})
AUDIO_MIMES = frozenset({"audio/mp3", "audio/wav"})
MAX_IMAGES, MAX_PDFS, MAX_VIDEOS = 6, 1, 1  # per Content [EMB2]
MAX_PDF_PAGES = 6  # [EMB2]
MAX_VIDEO_S, MAX_VIDEO_WITH_AUDIO_VERTEX_S = 120.0, 80.0  # [EMB2]
MAX_AUDIO_S = 80.0  # [EMB2-3P], the stricter figure
MAX_TEXT_TOKENS = 8192  # [EMB2]
CHARS_PER_TOKEN = 3.0  # conservative estimate (English averages ~4): the fake rejects before the real API would
MIN_DIM, MAX_DIM = 128, 3072  # [EMB2] max; [EMB2-3P] min
MAX_BATCH_REQUESTS = 100  # [FILES]
MAX_REQUEST_BYTES = 100 * 1024 * 1024  # [FILES]
SKIP_SIGNATURE = "skip_thought_signature_validator"  # [TSIG] documented bypass; refused unless allowed

# [ERR] protobuf JSON rejects fields the message does not have. Names are compared in camelCase; the SDK
# sends some keys in snake_case (inline_data, mime_type), which the real API accepts too.
_EMBED_REQUEST_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality", "autoTruncate"}
_CONTENT_FIELDS = {"parts", "role"}
_PART_FIELDS = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "thought",
                "thoughtSignature", "executableCode", "codeExecutionResult", "videoMetadata", "partMetadata",
                "mediaResolution"}
_BLOB_FIELDS = {"mimeType", "data", "displayName"}
_GENERATE_FIELDS = {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
                    "safetySettings", "cachedContent", "model"}
_GENERATION_CONFIG_FIELDS = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences", "responseMimeType",
    "responseSchema", "responseJsonSchema", "presencePenalty", "frequencyPenalty", "seed", "responseLogprobs",
    "logprobs", "thinkingConfig", "mediaResolution", "responseModalities", "speechConfig", "imageConfig",
    "enableEnhancedCivicAnswers",
}
_THINKING_FIELDS = {"thinkingBudget", "thinkingLevel", "includeThoughts"}


def camel(name: str) -> str:
    """snake_case -> camelCase (protobuf JSON accepts both)."""
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def get(obj: dict[str, Any], name: str) -> Any:
    """A field by its camelCase name, whichever spelling the client used."""
    if name in obj:
        return obj[name]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)
    return obj.get(snake)


def unknown_fields(obj: Any, allowed: set[str], where: str) -> None:
    """[ERR] 400 `Unknown name` for a field the message does not define."""
    if not isinstance(obj, dict):
        raise InvalidRequest(f"Invalid value at '{where}': expected an object")
    for key in obj:
        if camel(key) not in allowed:
            raise InvalidRequest(f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                                 "Cannot find field.")


def model_error(model: str, action: str, version: str) -> str | None:
    """[DEPR] + [ERR]: the 404 message when `model` cannot serve `action`, else None."""
    serves = EMBED_MODELS if action in ("batchEmbedContents", "embedContent") else CHAT_MODELS
    if model in serves:
        return None
    return (f"models/{model} is not found for API version {version}, or is not supported for {action}. "
            "Call ListModels to see the list of available models and their supported methods.")


# --- embeddings ------------------------------------------------------------------------------------------


def check_embed_request(model: str, req: dict[str, Any], where: str, *, vertex: bool = False) -> None:
    """Every documented limit of one EmbedContentRequest (raises InvalidRequest -> 400)."""
    unknown_fields(req, _EMBED_REQUEST_FIELDS, where)
    dim = get(req, "outputDimensionality")
    if dim is not None and not (isinstance(dim, int) and MIN_DIM <= dim <= MAX_DIM):  # [EMB2], [EMB2-3P]
        raise InvalidRequest(f"* {where}.output_dimensionality: must be between {MIN_DIM} and {MAX_DIM}, got {dim}")
    content: dict[str, Any] = req.get("content") or {}
    unknown_fields(content, _CONTENT_FIELDS, f"{where}.content")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise InvalidRequest(f"* {where}.content.parts: must not be empty")
    counts = {"image": 0, "pdf": 0, "video": 0, "audio": 0}
    chars = 0
    for i, part in enumerate(parts):
        at = f"{where}.content.parts[{i}]"
        unknown_fields(part, _PART_FIELDS, at)
        if isinstance(part.get("text"), str):
            chars += len(part["text"])
            continue
        blob = get(part, "inlineData")
        if blob is None:
            continue
        unknown_fields(blob, _BLOB_FIELDS, f"{at}.inline_data")
        kind = check_media(str(get(blob, "mimeType") or ""), decode_blob(blob, at), vertex=vertex)
        if model in TEXT_ONLY_EMBED_MODELS:
            raise InvalidRequest(f"{model} only supports text input, got {get(blob, 'mimeType')}")
        counts[kind] += 1
    if chars / CHARS_PER_TOKEN > MAX_TEXT_TOKENS:  # [EMB2]
        raise InvalidRequest(f"The input token count ({int(chars / CHARS_PER_TOKEN)}) exceeds the maximum number "
                             f"of tokens allowed ({MAX_TEXT_TOKENS}).")
    for kind, most in (("image", MAX_IMAGES), ("pdf", MAX_PDFS), ("video", MAX_VIDEOS)):  # [EMB2]
        if counts[kind] > most:
            raise InvalidRequest(f"At most {most} {kind} input(s) per content, got {counts[kind]}.")


def decode_blob(blob: dict[str, Any], where: str) -> bytes:
    """The base64 data of an inline blob (google-genai sends URL-safe base64; both alphabets are accepted)."""
    try:
        return base64.b64decode(str(blob.get("data") or "").translate(str.maketrans("-_", "+/")), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidRequest(f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES), Base64 decoding failed") from e


def check_media(mime: str, data: bytes, *, vertex: bool = False) -> str:
    """The modality of one inline blob after checking its MIME type and decoding it; 400 otherwise."""
    if mime in IMAGE_MIMES:
        _check_image(mime, data)
        return "image"
    if mime in PDF_MIMES:
        _check_pdf(data)
        return "pdf"
    if mime in VIDEO_MIMES:
        seconds, has_audio = _av_probe(data, "video")
        limit = MAX_VIDEO_WITH_AUDIO_VERTEX_S if vertex and has_audio else MAX_VIDEO_S  # [EMB2]
        if seconds > limit + 0.5:
            raise InvalidRequest(f"Video is {seconds:.1f} s long; the maximum is {limit:g} s.")
        return "video"
    if mime in AUDIO_MIMES:
        seconds, _ = _av_probe(data, "audio", expect="mp3" if mime == "audio/mp3" else "wav")
        if seconds > MAX_AUDIO_S + 0.5:  # [EMB2-3P]
            raise InvalidRequest(f"Audio is {seconds:.1f} s long; the maximum is {MAX_AUDIO_S:g} s.")
        return "audio"
    raise InvalidRequest(f"Unsupported MIME type: {mime or '(none)'}")  # [EMB2], [AUDIO]


def _check_image(mime: str, data: bytes) -> None:
    magic_ok = data.startswith(b"\x89PNG\r\n\x1a\n") if mime == "image/png" else data.startswith(b"\xff\xd8\xff")
    if not magic_ok:
        raise InvalidRequest(f"Unable to process input image: the bytes are not {mime}.")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as e:  # noqa: BLE001 - any decoder failure is the API's 400
        raise InvalidRequest(f"Unable to process input image: {type(e).__name__}.") from e


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader

    try:
        pages = len(PdfReader(io.BytesIO(data)).pages)
    except Exception as e:  # noqa: BLE001
        raise InvalidRequest(f"The document has no pages or could not be read ({type(e).__name__}).") from e
    if not 1 <= pages <= MAX_PDF_PAGES:  # [EMB2]
        raise InvalidRequest(f"The document has {pages} pages; at most {MAX_PDF_PAGES} pages are supported.")


def _av_probe(data: bytes, kind: str, expect: str | None = None) -> tuple[float, bool]:
    """(duration in s, has an audio stream), decoding the packets; 400 when PyAV cannot read the bytes."""
    import av

    try:
        with av.open(io.BytesIO(data), "r") as c:
            if expect and expect not in c.format.name:
                raise InvalidRequest(f"The audio bytes are {c.format.name}, not {expect}.")
            streams = c.streams.video if kind == "video" else c.streams.audio
            if not streams:
                raise InvalidRequest(f"The {kind} has no {kind} stream.")
            end = 0.0
            for packet in c.demux(streams[0]):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            return end, bool(c.streams.audio)
    except InvalidRequest:
        raise
    except Exception as e:  # noqa: BLE001 - undecodable media is a 400, never a vector
        raise InvalidRequest(f"Unable to process input {kind}: {type(e).__name__}.") from e


# --- chat --------------------------------------------------------------------------------------------------


def check_generate_request(body: dict[str, Any]) -> None:
    """[ERR] field names of a GenerateContentRequest."""
    unknown_fields(body, _GENERATE_FIELDS, "")
    config = get(body, "generationConfig")
    if config is not None:
        unknown_fields(config, _GENERATION_CONFIG_FIELDS, "generation_config")
        thinking = get(config, "thinkingConfig")
        if thinking is not None:
            unknown_fields(thinking, _THINKING_FIELDS, "generation_config.thinking_config")
    for i, content in enumerate(body.get("contents") or []):
        unknown_fields(content, _CONTENT_FIELDS, f"contents[{i}]")
        for j, part in enumerate(content.get("parts") or []):
            unknown_fields(part, _PART_FIELDS, f"contents[{i}].parts[{j}]")
            blob = get(part, "inlineData")
            if blob is not None:
                mime = str(get(blob, "mimeType") or "")
                if not mime.startswith(("image/", "video/", "audio/", "application/pdf", "text/")):
                    raise InvalidRequest(f"Unsupported MIME type: {mime}")


def check_thought_signatures(contents: list[dict[str, Any]], issued: set[str], *, allow_skip: bool) -> None:
    """[TSIG] every function call of the current turn carries the signature the server issued with it."""
    start = 0  # the current turn starts at the last user content that is not a function response
    for i, c in enumerate(contents):
        if c.get("role", "user") == "user" and any(
                "text" in p or get(p, "inlineData") is not None for p in c.get("parts") or []):
            start = i
    for i in range(start, len(contents)):
        c = contents[i]
        if c.get("role") != "model":
            continue
        for j, part in enumerate(c.get("parts") or []):
            call = get(part, "functionCall")
            if call is None:
                continue
            sig = get(part, "thoughtSignature")
            if not sig:
                raise InvalidRequest(
                    "Function call is missing a thought_signature in functionCall parts. This is required for "
                    "tools to work correctly, and missing thought_signature may lead to degraded model "
                    f"performance. Additional data, function call `default_api:{call.get('name')}` , position "
                    f"{j + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more "
                    "details.")
            if _b64text(sig) == SKIP_SIGNATURE and allow_skip:
                continue
            if _b64text(sig) not in issued:
                raise InvalidRequest(f"Thought signature is not valid (contents[{i}].parts[{j}]).")


def _b64text(sig: str) -> str:
    try:
        return base64.b64decode(sig.translate(str.maketrans("-_", "+/")) + "==").decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return ""


# --- reply and error shapes [ERR] ---------------------------------------------------------------------------


def candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    """One response candidate (no `content` when there are no parts, as for a safety stop)."""
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0} if parts else {"index": 0}
    if finish:
        cand["finishReason"] = finish
    return cand


def usage(contents: list[Any], parts: list[dict[str, Any]]) -> dict[str, int]:
    """usageMetadata: ~4 characters per token."""
    prompt, out = len(json.dumps(contents)) // 4 + 1, len(json.dumps(parts)) // 4 + 1
    return {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out}


def error_message(status: int) -> str:
    """The message of a scripted error (429: the real quota text)."""
    if status == 429:
        return ("You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.")
    return f"Scripted failure {status}."


def quota_details(model: str, quota: str, delay: str | None = None) -> list[dict[str, Any]]:
    """429 details as the real API sends them (rules [ERR]): QuotaFailure, Help, RetryInfo."""
    embed = "embed" in model
    metric = "embed_content_requests" if embed else "generate_content_requests"
    per = "PerDay" if quota == "day" else "PerMinute"
    quota_id = f"{'EmbedContent' if embed else 'GenerateContent'}Requests{per}PerProjectPerModel"
    delay = delay or ("43200s" if quota == "day" else "1s")
    return [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": f"generativelanguage.googleapis.com/{metric}", "quotaId": quota_id,
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": "1000" if quota == "day" else "100"}]},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
