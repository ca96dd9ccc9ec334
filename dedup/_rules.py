"""Every constant of the detection rules, named once: each stage, and the compiled kernels, read them here.

Settings a user chooses (threshold, ``min_gain``, ...) are :class:`dedup._options.Options`;
the values below are fixed parts of the rules.  Sizes that only shape the work (chunks,
thread thresholds, buffer limits) stay, named, beside the code they tune.  The compiled
verification kernels receive these values from Python (:data:`dedup._verify.batch.KERNEL_RULES`),
never restated: ``tests/test_rules.py`` changes each value here and checks that every
implementation of the rule follows it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALSO_RESTATES",
    "DOC_KEY_MIX",
    "EDGE_SLACK_DIVISOR",
    "EDGE_SLACK_MIN",
    "EDGE_WORDS",
    "ENTITY_WEIGHT",
    "GAP_RATIO",
    "INDEX_MAX_BUCKET",
    "LINK_FLOOR",
    "LSH_MAX_BUCKET",
    "LSH_MAX_PER_ROW",
    "MAX_EXACT",
    "MAX_PER_SENTENCE",
    "MAX_POOL",
    "MIN_NEW_WORDS",
    "MIN_SHARED_BANDS",
    "PASSAGE_ADJACENT",
    "PASSAGE_GAP",
    "PASSAGE_OVERLAP",
    "POOL_RATIO",
    "RATIO_ZERO",
    "SHRINK",
    "SPREAD",
    "STRONG_FIRST",
    "TOPIC_SENTENCES",
    "WHOLE_SHARE",
]

# --- Sketch: which sentence pairs become candidates (dedup._sketch) -----------------------

#: Band buckets holding more sentences than this are skipped: they gather template and
#: boilerplate sentences sharing common words (exact copies are chained apart from LSH).
LSH_MAX_BUCKET: Final = 256
#: Candidates each sentence keeps, those it shares most bands with (same reason: templates).
LSH_MAX_PER_ROW: Final = 64
#: Across documents a pair must share this many bands: one shared band is mostly common
#: words (on 10k paragraphs of prose, 8x more candidates for 3.5% more links; see
#: ``dedup._sketch.lsh.lsh_candidates``).
MIN_SHARED_BANDS: Final = 2
#: Within-document band keys are XORed with ``(document + 1) * DOC_KEY_MIX``, so that only
#: sentences of the same document collide in that family.
DOC_KEY_MIX: Final = 0xD6E8FEB86659FD93

# --- Text: what a document's words say (dedup._text) -------------------------------------

#: A name or figure written as one (capitalised or numeric) in more than this many sentences
#: of its document is that document's topic, not what one sentence states: there it weighs
#: as an ordinary content word and is no evidence of substitution (``segment`` clears its
#: entity flag).  On the tune halves (news restatements, CNN highlights), direct-link
#: precision +0.06 at the default threshold; see the README, "How a pair is scored".
TOPIC_SENTENCES: Final = 3

# --- Verify: the pair score (dedup._verify) ------------------------------------------------

#: Content weight of a name or figure; other content words weigh 1.  Names and figures
#: carry the statement ("weigh double", README).  Keep weights integers or halves: the
#: batch paths sum them in another order and rely on the sums being exact.
ENTITY_WEIGHT: Final = 2.0
#: Added to a sentence's content weight in the containment denominator: shrinks the
#: containment of very short sentences (2 of 2 content words is weaker evidence than 9 of 10).
SHRINK: Final = 1.0
#: Character ratio (rapidfuzz ``ratio`` / 100) rescaled to 0 here and 1 at equal texts:
#: unrelated prose scores about 0.5.  Also the ``score_cutoff`` (x 100) of rapidfuzz.
RATIO_ZERO: Final = 0.5
#: A restatement inside a longer sentence spans at most this many times the restated
#: sentence's length; beyond, the shared words count proportionally less (the locality factor).
SPREAD: Final = 1.5

# --- Verify: the greedy (fusion) cover ---------------------------------------------------

#: Partners with less than this share of a sentence's content weight cannot restate it:
#: they take their own turn as the contained side.
POOL_RATIO: Final = 0.5
#: Partners considered per sentence by the greedy cover (the closest ones).
MAX_POOL: Final = 32
#: A first partner covering this share of a sentence needs no co-sources.
STRONG_FIRST: Final = 0.7
#: Every other partner whose containment of a sentence alone reaches this restates it too (a
#: fact told in a bullet, the body and a caption), and is linked to it besides the cover's
#: picks.  news_restatements tune half F1 0.640 -> 0.656 (0.670 at 0.7, which adds CleanPortalEval
#: false lines past its precision bound of 0.99; held-out 0.495 -> 0.502).
ALSO_RESTATES: Final = 0.8
#: A further source must add more than one word of new content (besides ``min_gain`` of it).
MIN_NEW_WORDS: Final = 2

# --- Verify: aligned spans ----------------------------------------------------------------

#: An aligned stretch covering this share of a sentence's tokens is reported as all of it.
WHOLE_SHARE: Final = 0.6
#: An aligned stretch is widened to a sentence edge when at most
#: ``max(EDGE_SLACK_MIN, n_tokens // EDGE_SLACK_DIVISOR)`` tokens are left out there.
EDGE_SLACK_MIN: Final = 3
EDGE_SLACK_DIVISOR: Final = 5

# --- Verify: links kept -------------------------------------------------------------------

#: Links scoring below this are dropped even before thresholding; results keep everything
#: above it so that they can be re-thresholded without re-indexing.
LINK_FLOOR: Final = 0.3

# --- Cluster: passages (dedup._cluster) ---------------------------------------------------

#: Across documents, aligned stretches of the same two documents at most this many
#: characters apart (spaces, a paragraph break, a short line) are one run, and two links in
#: the same run in both documents are one match: one copied passage, reported once, however
#: its sentences are shuffled (see ``dedup._cluster.chain``).
PASSAGE_ADJACENT: Final = 60
#: Across documents, a match is extended over the words right before its start and right
#: after its end while the two texts agree word for word (case aside), when at least this
#: many agree: a passage copied from mid-sentence is reported from where the copy starts,
#: not from its first whole sentence.  Fewer agreeing words are chance ("The", "He said").
EDGE_WORDS: Final = 3
#: Across documents, two matches of the same two documents that follow each other in both,
#: at most this many characters apart on each side (a sentence or two), are one match when
#: the texts between them are alike (:data:`GAP_RATIO`): a copied passage in which an edited
#: sentence no longer scores as a link is still one passage, not two.
PASSAGE_GAP: Final = 300
#: The rapidfuzz ``ratio`` / 100 the two texts between such matches reach at least: an edited
#: copy scores 0.8 and more, unrelated prose about 0.5 (:data:`RATIO_ZERO`), so a page
#: template's lines around a different line of content on each page stay apart.
GAP_RATIO: Final = 0.7
#: Sides of matches in one document overlapping by at least this share of the shorter
#: one are one passage.
PASSAGE_OVERLAP: Final = 0.5

# --- Index: candidates of an ``add`` (dedup._index) ---------------------------------------

#: Band buckets holding more stored sentences than this are skipped: they gather sentences
#: sharing common words, not copies (exact copies are looked up by their own key).
INDEX_MAX_BUCKET: Final = 64
#: Stored sentences kept per new sentence, those sharing most bands first (as in the detector).
MAX_PER_SENTENCE: Final = 32
#: Exact copies of one sentence looked at (the newest ones).
MAX_EXACT: Final = 8
