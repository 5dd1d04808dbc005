"""A deterministic grammar planner for the instructions users actually type.

"grasp X" -> [grasp X]; "stack X on Y" -> [grasp X, X on Y]; "stack all three objects" -> the
tower blue (bottom), green, red (top); steps joined by "then", "and", commas, "first ... then ...".
A grasp immediately followed by stacking the same object is not repeated. Anything else is
refused with an ``InstructionError`` that says what is understood.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import get_close_matches

from perception.captions import COLORS, grasp_caption, on_top_caption
from planner.base import TOWER_BOTTOM_TO_TOP, UNDERSTOOD, InstructionError
from planner.lexicon import VERB_KINDS, Tok, tag, tokenize

Action = tuple[str, ...]  # ("grasp", x) or ("stack", x, y)


@dataclass
class _State:
    """What earlier steps tell later ones: "it", "on top", "the other one", ellipsis."""

    last_subject: str | None = None
    stack_top: str | None = None
    last_kind: str | None = None
    mentioned: list[str] = field(default_factory=list)
    after_triple: bool = False  # the previous step built the tower ("stack all, one on another")


@dataclass
class _Clause:
    """One step of an instruction, as tagged tokens."""

    toks: list[Tok]
    sequential: bool  # introduced by "then" / "next" / "after that" (not a bare "and" or comma)

    @property
    def text(self) -> str:
        return " ".join(t.word for t in self.toks)


class GrammarPlanner:
    """Rule-based instruction -> sub-goal captions (no model, fully deterministic)."""

    name = "grammar"

    def plan(self, instruction: str) -> list[str]:
        """Sub-goal captions for ``instruction``; raises ``InstructionError`` if not understood."""
        text = instruction.strip()
        if not text:
            raise _refuse(instruction, "the instruction is empty")
        toks = tag(tokenize(text))
        _check_words(instruction, toks)
        state, actions = _State(), []
        for clause in _split(instruction, toks):
            actions += _interpret(instruction, clause, state)
        if not actions:
            raise _refuse(instruction, "it asks for nothing the robot can do")
        return _emit(instruction, actions)


def _refuse(instruction: str, reason: str, step: _Clause | None = None) -> InstructionError:
    """The error for ``instruction``; names the step when the instruction has several."""
    if step is not None and step.text != " ".join(tokenize(instruction)).strip(" ,;.!?"):
        reason = f"in the step {step.text!r}, {reason}"
    return InstructionError(f"cannot plan {instruction.strip()!r}: {reason}; {UNDERSTOOD}")


_WORD_ERRORS = {
    "BADCOLOR": "unknown colour {w!r} (the colours are " + ", ".join(COLORS) + ")",
    "BADOBJ": "unknown object {w!r} (the objects are the red, green and blue blocks)",
    "NEG": "the word {w!r} (negation, alternatives or reordering) is not understood",
    "AMBIGUOUS": "{w!r} does not say which objects; name each one by its colour",
    "SPATIAL": "the placement {w!r} is not a sub-goal (only grasping and stacking are)",
    "UNKNOWN": "unknown word {w!r}{hint}",
}
_KNOWN = [*COLORS, "object", "block", "cube", "grasp", "stack", "place"]


def _check_words(instruction: str, toks: list[Tok]) -> None:
    """Refuse words that would change the meaning if ignored (naming the first one)."""
    for t in toks:
        if t.kind in _WORD_ERRORS:
            guess = get_close_matches(t.word, _KNOWN, 1) if t.kind == "UNKNOWN" else []
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise _refuse(instruction, _WORD_ERRORS[t.kind].format(w=t.word, hint=hint))


def _split(instruction: str, toks: list[Tok]) -> list[_Clause]:
    """Clauses separated by punctuation, "and", sequence words, or a second complete command."""
    clauses: list[_Clause] = []
    cur: list[Tok] = []
    sequential = False

    def close(next_sequential: bool) -> None:
        nonlocal cur, sequential
        if cur:
            clauses.append(_Clause(cur, sequential))
            cur, sequential = [], False
        sequential = sequential or next_sequential

    skip_next = False
    for i, t in enumerate(toks):
        if skip_next:
            skip_next = False
            continue
        if t.kind in ("SEP", "AND"):
            close(False)
        elif t.kind == "SEQ":
            if t.word == "after":
                if cur:
                    raise _refuse(instruction, "'after' in the middle of a step is not understood; "
                                  "list the steps in order")
                skip_next = i + 1 < len(toks) and toks[i + 1].word in {"that", "this", "which"}
            close(True)
        elif t.kind in VERB_KINDS and _complete(cur):
            close(True)
            cur.append(t)
        else:
            cur.append(t)
    close(False)
    return clauses


def _complete(toks: list[Tok]) -> bool:
    """A clause that already says a whole command ("grab red", "put red on blue")."""
    kinds = [t.kind for t in toks]
    refs = sum(k in ("COLOR", "PRONOUN", "REMAINING") for k in kinds)
    if "VERB_GRASP" in kinds and refs >= 1:
        return True
    return any(k in VERB_KINDS for k in kinds) and refs >= 2 and ("ON" in kinds or "UNDER" in kinds)


Item = tuple[str, str]  # ("ref", colour), ("rel", "on" | "under" | "from" | "to") or ("table", word)


def _items(instruction: str, clause: _Clause, state: _State) -> tuple[list[Item], set[str], bool]:
    """Resolve references into items; also the markers seen and whether a noun had no colour."""
    items: list[Item] = []
    markers: set[str] = set()
    bare_noun = False
    attached = False  # a noun right after a colour / pronoun belongs to it
    for t in clause.toks:
        if t.kind == "COLOR":
            items.append(("ref", t.word))
            state.mentioned.append(t.word)
        elif t.kind == "PRONOUN":
            if state.last_subject is None:
                raise _refuse(instruction, f"{t.word!r} refers to no object named before it", clause)
            items.append(("ref", state.last_subject))
        elif t.kind == "REMAINING":
            left = [c for c in COLORS if c not in state.mentioned]
            if len(left) != 1:
                raise _refuse(instruction, f"'the {t.word} one' is ambiguous; name its colour",
                              clause)
            items.append(("ref", left[0]))
            state.mentioned.append(left[0])
        elif t.kind in ("ON", "UNDER", "FROM") or (t.word == "to" and "ref" in dict(items)):
            rel = {"ON": "on", "UNDER": "under", "FROM": "from"}.get(t.kind, "to")
            if items and items[-1][0] == "rel":
                prev = items[-1][1]
                rel = prev if prev != "to" else rel
                items[-1] = ("rel", rel)
            else:
                items.append(("rel", rel))
            markers |= {"top"} if t.word == "top" else set()
        elif t.kind == "TABLE":
            items.append(("table", t.word))
        elif t.kind in ("TRIPLE", "TOWER", "NOUNS"):
            markers.add("them" if t.word == "them" else t.kind)
        elif t.kind == "NOUN" and not attached and t.word != "one":
            bare_noun = True
        if t.kind not in ("FILLER", "NOUN") or t.word in {"to", "of"}:
            attached = t.kind in ("COLOR", "PRONOUN", "REMAINING")
    while items and items[0] == ("rel", "to"):
        items.pop(0)
    while items and items[-1] == ("rel", "to"):
        items.pop()
    return items, markers, bare_noun


def _interpret(instruction: str, clause: _Clause, state: _State) -> list[Action]:
    """The actions one clause asks for, updating ``state``."""
    if all(t.kind == "FILLER" for t in clause.toks):
        return []  # "robot,", "please.", "ok, ..."
    verbs = {VERB_KINDS[t.kind] for t in clause.toks if t.kind in VERB_KINDS}
    restating, state.after_triple = state.after_triple, False
    items, markers, bare_noun = _items(instruction, clause, state)
    if len(items) >= 3 and items[1] == ("rel", "from") and items[2][0] in ("ref", "table"):
        del items[1:3]  # "take red off blue", "move red from the table onto blue": source implied
    shape = [k if k != "rel" else v for k, v in items]
    refs = [v for k, v in items if k == "ref"]

    def refuse(reason: str) -> InstructionError:
        return _refuse(instruction, reason, clause)

    if "table" in shape:
        raise refuse("the table is not a sub-goal (objects are only grasped or stacked on each other)")
    if not refs:
        return _triple(refuse, verbs, markers, bare_noun, "on" in shape, restating, state)
    if markers & {"TRIPLE", "TOWER"} and shape != ["ref", "on", "ref", "on", "ref"]:
        b, m, t = TOWER_BOTTOM_TO_TOP
        raise refuse(f"a tower of all three objects is always built {b} (bottom), {m}, {t} (top); "
                     "for another order list the steps, e.g. 'stack red on green, then blue on red'")
    x = refs[0]
    if shape == ["ref"]:
        if "grasp" in verbs or (not verbs and clause.sequential and state.last_kind == "grasp"):
            return _do(state, ("grasp", x))
        if not verbs and clause.sequential and state.last_kind == "stack":  # "...blue, then green"
            return _do(state, ("stack", x, state.stack_top or x))
        if verbs:
            other = next(c for c in COLORS if c != x)
            raise refuse(f"it does not say where the {x} object goes "
                         f"(e.g. 'stack the {x} object on the {other} object')")
        raise refuse(f"it does not say what to do with the {x} object")
    if shape == ["ref", "on"]:
        if "top" not in markers or state.stack_top is None:
            raise refuse(f"it does not say which object the {x} object goes on")
        return _do(state, ("stack", x, state.stack_top))
    if shape == ["on", "ref"]:
        if state.last_subject is None:
            raise refuse(f"it does not say which object goes on the {x} object")
        return _do(state, ("stack", state.last_subject, x))
    if shape in (["ref", "on", "ref"], ["ref", "to", "ref"]):
        return _do(state, ("stack", x, refs[1]))
    if shape == ["ref", "under", "ref"]:
        return _do(state, ("stack", refs[1], x))
    if shape == ["ref", "on", "ref", "on", "ref"]:
        return _do(state, ("stack", refs[1], refs[2]), ("stack", x, refs[1]))
    if len(refs) >= 2 and "rel" not in (k for k, _ in items):
        raise refuse("it does not say which object goes on which (say 'X on Y')")
    raise refuse("the step is not understood")


def _triple(refuse: Callable[[str], InstructionError], verbs: set[str], markers: set[str],
            bare_noun: bool, stacked: bool, restating: bool, state: _State) -> list[Action]:
    """A clause that names no colour: the Triple Stack (once), or a refusal."""
    if not markers & {"TRIPLE", "TOWER", "NOUNS", "them"}:
        raise refuse("which object? name its colour" if bare_noun or verbs else "nothing to do")
    if verbs == {"grasp"} and "TOWER" not in markers:
        raise refuse("the robot can grasp only one object at a time")
    described = stacked and markers & {"TRIPLE", "them"}  # "(all three) on top of each other"
    if not (verbs - {"grasp"} or "TOWER" in markers or described):
        raise refuse("it does not say what to do with the objects")
    state.after_triple = True
    if restating:  # "stack all the blocks, one on top of the other": the same tower, said twice
        return []
    b, m, t = TOWER_BOTTOM_TO_TOP
    return _do(state, ("stack", m, b), ("stack", t, m))


def _do(state: _State, *actions: Action) -> list[Action]:
    """Record ``actions`` in ``state`` (for "it", "on top", ellipsis) and return them."""
    for a in actions:
        state.last_subject, state.last_kind = a[1], a[0]
        if a[0] == "stack":
            state.stack_top = a[1]
        state.mentioned += list(a[1:])
    return list(actions)


def _emit(instruction: str, actions: list[Action]) -> list[str]:
    """Captions, checked against a simulated table (everything starts on the table).

    "grasp X" is not repeated when the previous sub-goal already grasped X.
    """
    below: dict[str, str] = {}  # object -> the object it rests on
    out: list[str] = []
    for a in actions:
        x = a[1]
        if a[0] == "stack" and x == a[2]:
            raise _refuse(instruction, f"the {x} object cannot be placed on itself")
        if out and out[-1] == grasp_caption(x):
            if a[0] == "grasp":
                continue
        else:
            _check_free(instruction, below, x, "grasp")
            below.pop(x, None)
            out.append(grasp_caption(x))
        if a[0] == "stack":
            _check_free(instruction, below, a[2], f"put the {x} object on")
            below[x] = a[2]
            out.append(on_top_caption(x, a[2]))
    return out


def _check_free(instruction: str, below: dict[str, str], x: str, what: str) -> None:
    """Refuse to grasp an object, or to stack onto one, that has another object on top."""
    above = [o for o, under in below.items() if under == x]
    if above:
        raise _refuse(instruction, f"the robot cannot {what} the {x} object while the {above[0]} "
                      "object is on top of it")
