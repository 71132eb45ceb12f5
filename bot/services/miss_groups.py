"""Groups of similar missed messages (the clustering of `posbot review` and of the console)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

MAX_EXAMPLES_PER_GROUP: Final = 8


class Miss(Protocol):
    """What the clustering reads of a missed message (``bot.store.models.NluMiss``)."""

    text: str
    guess: str | None
    sender_id: str


@dataclass(frozen=True)
class MissGroup:
    """Similar missed messages with the intent most often guessed for them."""

    size: int
    suggested_intent: str
    examples: tuple[str, ...]
    conversations: int


def group_misses(misses: Sequence[Miss], max_groups: int | None = None) -> list[MissGroup]:
    """Clusters the messages (jieba tokens + char n-grams, TF-IDF, agglomerative clustering)."""
    texts = [m.text for m in misses]
    if not texts:
        return []
    if len(texts) == 1:
        labels = [0]
    else:
        import jieba
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            tokenizer=lambda text: (
                [t for t in jieba.lcut(text) if t.strip()]
                + [text[i : i + 2] for i in range(len(text) - 1)]
            ),
            token_pattern=None,
            lowercase=True,
        )
        vectors = vectorizer.fit_transform(texts).toarray()
        clusters = max_groups or max(1, round(math.sqrt(len(texts))))
        labels = AgglomerativeClustering(
            n_clusters=min(clusters, len(texts)), affinity="cosine", linkage="average"
        ).fit_predict(vectors)
    groups: dict[int, list[Miss]] = {}
    for label, miss in zip(labels, misses, strict=True):
        groups.setdefault(int(label), []).append(miss)
    result = []
    for members in groups.values():
        guesses = Counter(m.guess or "?" for m in members)
        unique = list(dict.fromkeys(m.text for m in members))
        result.append(
            MissGroup(
                size=len(members),
                suggested_intent=guesses.most_common(1)[0][0],
                examples=tuple(unique[:MAX_EXAMPLES_PER_GROUP]),
                conversations=len({m.sender_id for m in members}),
            )
        )
    return sorted(result, key=lambda g: (-g.size, g.suggested_intent))
