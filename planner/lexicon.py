"""Words the grammar planner knows: tokenising and tagging an instruction."""
from __future__ import annotations

import re
from typing import NamedTuple

from perception.captions import COLORS


def _forms(*bases: str) -> set[str]:
    """Over-generous inflections of regular verbs (stack -> stacks, stacking, stacked...)."""
    out: set[str] = set()
    for b in bases:
        out |= {b, b + "s", b + "es", b + "ing", b + "ed", b + "d"}
        out |= {b + b[-1] + "ing", b + b[-1] + "ed"}  # grab -> grabbing, grabbed
        if b.endswith("e"):
            out |= {b[:-1] + "ing"}
        if b.endswith("y"):
            out |= {b[:-1] + "ies", b[:-1] + "ied"}
    return out


GRASP_VERBS = _forms(
    "grasp", "grab", "pick", "pickup", "lift", "hold", "take", "get", "seize", "fetch",
    "retrieve", "collect", "raise", "catch", "snatch", "grip", "clutch",
) | {"took", "taken", "got", "gotten", "held", "caught"}
PLACE_VERBS = _forms(
    "stack", "put", "place", "set", "move", "drop", "lay", "position", "bring", "transfer",
    "carry", "shift", "deposit", "release", "lower", "stick", "pop", "pile", "load", "land",
    "perch", "balance", "mount", "restack", "relocate",
) | {"laid", "brought"}
BUILD_VERBS = _forms(
    "build", "make", "create", "form", "assemble", "construct", "arrange", "erect",
) | {"built", "made"}

NOUNS = {"object", "block", "cube", "one", "thing", "item", "piece", "brick", "box", "cuboid"}
PLURAL_NOUNS = {n + "s" for n in NOUNS if n != "box"} | {"boxes"}
PRONOUNS = {"it", "that", "this"}
REMAINING = {"other", "remaining", "last", "third", "final", "leftover", "spare"}
ON_WORDS = {"on", "onto", "upon", "atop", "over", "above", "top"}
UNDER_WORDS = {"under", "below", "beneath", "underneath"}
FROM_WORDS = {"from", "off"}
TABLE_WORDS = {"table", "tabletop", "floor", "ground"}
TRIPLE_WORDS = {
    "all", "three", "every", "everything", "each", "together", "triple", "them", "another",
}
TOWER_NOUNS = {"tower", "towers", "pile", "heap", "column"}
SEQUENCE_WORDS = {
    "then", "afterwards", "afterward", "subsequently", "finally", "lastly", "next", "first", "firstly",
    "second", "secondly", "thirdly", "fourth", "fourthly", "followed", "after",
}
PUNCT = {",", ";", ".", "!", "?"}
NEGATIONS = {
    "not", "dont", "never", "no", "without", "except", "nor", "instead", "unless", "but", "or",
    "neither", "avoid", "before",
}
"""Words that would change the meaning if ignored (negation, alternatives, reordering)."""
SPATIAL = {
    "beside", "besides", "near", "nearby", "close", "left", "right", "behind", "front", "between",
    "around", "away", "inside", "outside", "across", "side", "corner", "center", "centre", "middle",
    "bottom", "edge", "apart", "far", "opposite", "along", "against",
}
AMBIGUOUS = {"two", "both", "several", "any", "either", "few"}
OTHER_COLORS = {
    "yellow", "orange", "purple", "pink", "black", "white", "gray", "grey", "brown", "cyan", "magenta",
    "violet", "indigo", "gold", "golden", "silver", "turquoise", "teal", "maroon", "navy", "beige",
    "lime", "crimson", "scarlet", "azure",
}
OTHER_OBJECTS = {
    "sphere", "spheres", "ball", "balls", "cylinder", "cylinders", "pyramid", "cone", "cup", "cups",
    "bowl", "bottle", "disk", "disc", "plate", "mug", "toy", "rod", "triangle", "circle",
    "square", "star", "apple", "banana", "sandwich", "shoe", "book", "pen",
}
FILLER = {
    "the", "a", "an", "please", "pls", "plz", "kindly", "could", "would", "will", "shall", "should",
    "must", "may", "might", "you", "your", "robot", "arm", "gripper", "hand", "i", "me", "my", "we",
    "us", "let", "lets", "want", "wanna", "need", "needs", "like", "to", "now", "just", "go", "ahead",
    "so", "ok", "okay", "alright", "hey", "hi", "hello", "yo", "thanks", "thank", "try", "attempt",
    "carefully", "gently", "slowly", "quickly", "is", "are", "be", "being", "been", "was", "were",
    "sit", "sits", "sitting", "rest", "rests", "resting", "lie", "lies", "lying", "stay", "stays",
    "end", "ends", "stand", "stands", "standing", "up", "down", "sure", "of", "with", "using", "in",
    "into", "as", "at", "colored", "coloured", "color", "colour", "have", "has", "had", "do", "does",
    "done", "once", "well", "also", "again", "single", "entire", "whole", "simply", "task", "goal",
    "job", "following", "step", "steps", "some", "very", "correct", "correctly", "for", "by", "start",
    "begin", "when", "finished", "there", "exactly", "completely", "way", "which", "its",
    "their", "gonna", "going", "can", "ready", "neatly", "securely", "firmly", "safely",
    "kind", "enough", "others", "rest", "out", "tall", "big", "small", "little", "nice", "neat",
    "high", "vertical", "straight", "stable", "here", "okay", "great", "cool", "good",
}
"""Words that carry no meaning here; an instruction of only these is refused as 'no action'."""

_CONTRACTIONS = {
    "it's": ["it", "is"], "that's": ["that", "is"], "let's": ["let", "us"],
}
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[,;.!?]")


class Tok(NamedTuple):
    """One tagged token: ``kind`` is one of the tag names below, ``word`` the surface form."""

    kind: str
    word: str


def tokenize(text: str) -> list[str]:
    """Lower-case words and clause punctuation; other characters are separators."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    out: list[str] = []
    for t in _TOKEN.findall(text):
        if t in _CONTRACTIONS:
            out.extend(_CONTRACTIONS[t])
        elif t.endswith("n't"):
            out.append("not")
        elif "'" in t:  # "robot's", "you've", "we'll": keep the word, drop the clitic
            out.append(t.split("'")[0])
        else:
            out.append(t)
    return out


def tag(words: list[str]) -> list[Tok]:
    """Tag each word with its role (COLOR, NOUN, VERB_GRASP, ON, SEP, FILLER, UNKNOWN...)."""
    tags: list[Tok] = []
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i > 0 else ""
        tags.append(Tok(_kind(w, prev, nxt), w))
    return tags


def _kind(w: str, prev: str, nxt: str) -> str:
    if w in PUNCT:
        return "SEP"
    if w == "and":
        return "AND"
    if w in COLORS:
        return "COLOR"
    if w in AMBIGUOUS:
        return "AMBIGUOUS"
    if w.isdigit():  # "3 blocks" counts the objects; "1." / "2)" merely number the steps
        return "TRIPLE" if w == "3" and (nxt in PLURAL_NOUNS or nxt == "of") else "FILLER"
    if w == "next":
        return "SPATIAL" if nxt == "to" else "SEQ"
    if w in {"third", "last", "final"} and nxt not in NOUNS:
        return "SEQ" if w == "third" else "FILLER"
    if w in REMAINING and nxt in NOUNS:
        return "REMAINING"
    if w in {"other", "another"}:
        return "TRIPLE"
    if w in {"stack", "stacks"} and prev in {"a", "one", "single", "triple", "the", "tall"}:
        return "TOWER"
    if w in {"that", "this"}:  # "put that on blue" vs "make sure that the red block ..."
        pronoun = nxt in NOUNS | ON_WORDS | UNDER_WORDS | FROM_WORDS | PUNCT | {"", "and", "then", "up"}
        return "PRONOUN" if pronoun else "FILLER"
    if w in PRONOUNS:
        return "PRONOUN"
    for kind, words in _TABLE:
        if w in words:
            return kind
    return "UNKNOWN"


_TABLE: tuple[tuple[str, set[str]], ...] = (
    ("NOUN", NOUNS), ("NOUNS", PLURAL_NOUNS), ("VERB_GRASP", GRASP_VERBS),
    ("VERB_PLACE", PLACE_VERBS), ("VERB_BUILD", BUILD_VERBS), ("ON", ON_WORDS),
    ("UNDER", UNDER_WORDS), ("FROM", FROM_WORDS), ("TABLE", TABLE_WORDS), ("TRIPLE", TRIPLE_WORDS),
    ("TOWER", TOWER_NOUNS), ("SEQ", SEQUENCE_WORDS), ("NEG", NEGATIONS), ("SPATIAL", SPATIAL),
    ("BADCOLOR", OTHER_COLORS), ("BADOBJ", OTHER_OBJECTS), ("FILLER", FILLER),
)
VERB_KINDS = {"VERB_GRASP": "grasp", "VERB_PLACE": "place", "VERB_BUILD": "build"}
