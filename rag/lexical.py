"""Lexical search: Okapi BM25 over view texts, plus the tokenizer the rest of rag shares."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
or other our ours out over own same she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom
why will with would you your yours lecture lectures slide slides course explain explained explains show
shows shown tell talk talks say says said does discuss discussed discusses define defined definition
work works happen happens
""".split())


def stem(word: str) -> str:
    """A light suffix stripper: enough to match plural/verb forms, cheap and predictable."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: len(word) - len(suffix)] + repl
    return word


def tokens(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Normalised, stemmed word tokens (NFKC folds math italics and ligatures)."""
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for w in _WORD.findall(text):
        if not keep_stopwords and (w in STOPWORDS or (len(w) < 2 and w.isascii() and not w.isdigit())):
            continue
        out.append(stem(w))
    return out


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75) over a fixed list of documents."""

    def __init__(self, docs: Sequence[str], k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.doc_tokens = [Counter(tokens(d)) for d in docs]
        self.lengths = np.array([sum(c.values()) for c in self.doc_tokens], dtype=np.float64)
        self.avgdl = float(self.lengths.mean()) if len(docs) else 0.0
        df: Counter[str] = Counter()
        for c in self.doc_tokens:
            df.update(c.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, c in enumerate(self.doc_tokens):
            for t, f in c.items():
                self.postings.setdefault(t, []).append((i, f))

    def idf_of(self, term: str) -> float:
        """IDF of a (tokenized) term; a term the corpus never uses gets the highest possible IDF."""
        n = len(self.doc_tokens)
        return self.idf.get(term, math.log(1 + (n + 0.5) / 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query."""
        s = np.zeros(len(self.doc_tokens))
        if not self.avgdl:
            return s
        for t in set(tokens(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, f in self.postings[t]:
                denom = f + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avgdl)
                s[i] += idf * f * (self.k1 + 1) / denom
        return s

    def top(self, query: str, n: int) -> list[tuple[int, float]]:
        """Indices and scores of the best n documents with a positive score."""
        s = self.scores(query)
        idx = np.argsort(-s)[:n]
        return [(int(i), float(s[i])) for i in idx if s[i] > 0]
