"""Declining neighbouring topics: distinctive terms (names, rare words, named compounds) must be in the
evidence; paraphrases keep their answer through near-synonyms. wordfreq works offline (data in its wheel)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from rag.confidence import assess
from rag.terms import Evidence, WordSimilarity, asked_term, descriptive, missing_words, question_terms, zipf
from rag.types import Chunk, Hit, PageSpan

SAMPLING = ("Importance sampling\n• Accuracy of the normal approximation can be improved by importance sampling\n"
            "• Pareto-k diagnostic of the importance weights tells when it works\n• drawbacks: high variance")
VPN = ("MP-BGP extension\n• BGP routers add VPN-IPv4 routes with a route distinguisher\n"
       "• the best path is chosen by the decision process")


def _hits(text: str, dense: float = 0.45) -> list[Hit]:
    chunk = Chunk(id="c", source="deck.pdf", source_sha256="x", kind="pdf", title="deck",
                  locator=PageSpan(first=1, last=1), text=text, page_texts=(text,))
    return [Hit(chunk=chunk, score=1.0, dense_rank=1, dense_score=dense, lexical_rank=1, lexical_score=3.0)]


class FakeSimilarity(WordSimilarity):
    """Word vectors from a table: synonyms share a direction, everything else is orthogonal."""

    GROUPS = [{"downsides", "drawbacks"}, {"quicker", "faster"}]

    def __init__(self):
        super().__init__(encode=self._encode_words)
        self._axis: dict[str, int] = {}

    def _encode_words(self, words):
        out = np.zeros((len(words), 256), dtype=np.float32)
        for i, w in enumerate(words):
            g = next((j for j, grp in enumerate(self.GROUPS) if w in grp), None)
            out[i, g if g is not None else self._axis.setdefault(w, len(self.GROUPS) + len(self._axis))] = 1.0
        return out


def test_wordfreq_reads_its_bundled_data_without_network():
    code = "from wordfreq import zipf_frequency as z; print(z('the', 'en') > 7, z('posterior', 'en') < 4)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY":
                              "http://127.0.0.1:9", "NO_PROXY": ""})
    assert out.stdout.split() == ["True", "True"]
    assert zipf("gibbs") < 4.0 < zipf("update")


def test_terms_are_names_rare_words_and_compounds():
    terms = {t.text: t for t in question_terms("How does Gibbs sampling update each parameter in turn?")}
    assert "Gibbs sampling" in terms and terms["Gibbs sampling"].named
    assert not any("update" in t for t in terms)  # a common word is not a term
    words = [m.word for m in missing_words("What is the BGP ADD-PATH capability?", Evidence([VPN]))]
    assert words == ["ADD-PATH"]  # "add" and "path" are there, never as the named compound
    assert missing_words("How do IP-based VPNs work?", Evidence(["VPN: MPLS-based and IP tunnels"])) == []


def test_a_neighbouring_named_method_is_declined_and_the_covered_one_answered():
    sim = FakeSimilarity()
    near = assess("How does Gibbs sampling update each parameter?", _hits(SAMPLING), similarity=sim)
    assert not near.answerable and near.lacking == ("Gibbs",)
    assert "Gibbs" in near.reason()
    covered = assess("How does importance sampling improve the normal approximation?", _hits(SAMPLING),
                     similarity=sim)
    assert covered.answerable and covered.lacking == ()


def test_a_rare_missing_word_declines_only_without_a_synonym_and_with_loose_evidence():
    sim = FakeSimilarity()
    q = "How does stratified sampling decide how many draws each part gets?"
    assert not assess(q, _hits(SAMPLING, dense=0.40), similarity=sim).answerable
    assert assess(q, _hits(SAMPLING, dense=0.70), similarity=sim).answerable  # the evidence is close in meaning
    para = "What are the downsides of importance sampling?"
    assert assess(para, _hits(SAMPLING, dense=0.40), similarity=sim).answerable  # "drawbacks" is a synonym


def test_words_read_from_a_picture_skip_the_term_test():
    ocr = "Importance sampling Pxrqeto-k diagnostic weights"
    assert assess(ocr, _hits(SAMPLING, dense=0.6), terms=False).answerable
    assert not assess(ocr, _hits(SAMPLING, dense=0.6), similarity=FakeSimilarity()).answerable


def test_long_compounds_are_terms_and_relatives_are_not_synonyms():
    ev = Evidence(["Cross-validation predictive checking: leave out a group, predict it, repeat for one group"])
    gone = missing_words("How does leave-one-out cross-validation estimate accuracy?", ev)
    assert [(m.word, m.named, m.phrase) for m in gone] == [("leave-one-out", True, True)]
    sim = FakeSimilarity()
    sim.GROUPS = [{"reroute", "route", "routes"}]  # related forms embed close together ...
    assert sim.best("reroute", ["route", "routes", "mesh"]) < 0.5  # ... but a relative is not a synonym
    assert sim.best("downsides", ["drawbacks"]) == 0.0  # (this table has no such group)
    assert [m.word for m in missing_words("How does IS-IS flood packets?", Evidence(["OSPF floods packets"]))] \
        == ["IS-IS"]
    assert missing_words("How does IS-IS flood packets?", Evidence(["IS-IS and OSPF flood packets"])) == []


def test_an_acronym_inside_a_compound_token_counts():
    assert missing_words("How big are the DNA inserts?", Evidence(["pool indexed cDNA libraries; inserts"])) == []
    assert [m.word for m in missing_words("How big are the DNA inserts?", Evidence(["DNASE inserts"]))] == ["DNA"]


def test_a_describing_word_is_no_topic_of_its_own():
    assert descriptive("What goes wrong when the prior is very diffuse?", "diffuse")
    assert descriptive("When are paired reads preferable to one-sided reads?", "preferable")
    assert not descriptive("How does rejection sampling decide?", "rejection")
    sim = FakeSimilarity()
    q = "When is importance sampling preferable to other approaches?"
    assert assess(q, _hits(SAMPLING, dense=0.40), similarity=sim).answerable


def test_the_term_a_question_is_about_must_be_there_as_a_phrase():
    assert asked_term("What is split tunneling on a VPN client?") == ("split", "tunneling")
    assert asked_term("How do you compute the continuous ranked probability score?") == \
        ("continuous", "ranked", "probability", "score")
    assert asked_term("How does 454 pyrosequencing work?") == ("454", "pyrosequencing")
    assert asked_term("How does segment routing steer packets?") == ()  # where X ends is a guess: no frame
    assert asked_term("What is the aim of mapping reads?") == ()  # one word: the rare-word test's business
    sim = FakeSimilarity()
    # every word of "split tunneling" is in the evidence, never together, and no evidence phrase is close
    ev = "VPN client\n• traffic is split across two paths\n• tunneling protocols such as GRE"
    near = assess("What is split tunneling on a VPN client?", _hits(ev, dense=0.45), similarity=sim)
    assert not near.answerable and near.lacking == ("split tunneling",)
    assert assess("What is split tunneling on a VPN client?", _hits(ev, dense=0.6), similarity=sim).answerable
    covered = "VPN client\n• split tunneling sends only company traffic through the tunnel"
    assert assess("What is split tunneling on a VPN client?", _hits(covered, dense=0.45), similarity=sim).answerable
