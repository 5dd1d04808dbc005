"""The FLAN-T5 path end to end with a tiny T5 built here (no hub, no real weights).

A word-level tokenizer is trained on the spot with ``tokenizers``; a 2-layer, d_model=32 T5 is
briefly trained to answer two prompts correctly; both are saved with ``save_pretrained`` and
loaded back through the planner's own offline resolution (``make_planner(..., model=dir)``).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.cli import main
from perception.captions import grasp_caption, on_top_caption
from planner import FlanT5Planner, PlanParseError, build_prompt, format_plan, make_planner

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

PLANS = {
    "grasp the blue object": [grasp_caption("blue")],
    "put the green block on the red block": [grasp_caption("green"), on_top_caption("green", "red")],
}


def _tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _tiny_t5(out_dir: Path, train_steps: int) -> Path:
    """Save a tiny T5 (+ tokenizer) trained for up to ``train_steps`` to answer ``PLANS``."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    prompts = [build_prompt(i) for i in PLANS]
    targets = [format_plan(p) for p in PLANS.values()]
    tokenizer = _tokenizer(prompts + targets)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2,
        num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, dropout_rate=0.0,
    )
    model = T5ForConditionalGeneration(config)
    enc = tokenizer(prompts, return_tensors="pt", padding=True)  # (2, T_in)
    labels = tokenizer(targets, return_tensors="pt", padding=True)["input_ids"]  # (2, T_out)
    labels[labels == tokenizer.pad_token_id] = -100
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(1, train_steps + 1):
        loss = model(**enc, labels=labels).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 20 == 0 and _answers(model, tokenizer, enc) == [t.replace(" ", "") for t in targets]:
            break
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _answers(model, tokenizer, enc) -> list[str]:
    model.eval()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=40, do_sample=False, num_beams=1)
    model.train()
    return [tokenizer.decode(o, skip_special_tokens=True).replace(" ", "") for o in out]


@pytest.fixture(scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory, one_thread) -> str:
    return str(_tiny_t5(tmp_path_factory.mktemp("tiny_t5_trained"), train_steps=400))


@pytest.fixture(scope="module")
def untrained_dir(tmp_path_factory: pytest.TempPathFactory, one_thread) -> str:
    return str(_tiny_t5(tmp_path_factory.mktemp("tiny_t5_untrained"), train_steps=0))


def test_prompt_generate_parse_validate_and_cache(trained_dir: str) -> None:
    planner = make_planner("flan-t5", model=trained_dir)
    assert isinstance(planner, FlanT5Planner) and planner.name == "flan-t5"
    prompts: list[str] = []
    generate = planner.generate
    planner.generate = lambda prompt: prompts.append(prompt) or generate(prompt)  # type: ignore[method-assign]
    for instruction, captions in PLANS.items():
        assert planner.plan(instruction) == captions
    assert prompts == [build_prompt(i) for i in PLANS]
    for instruction, captions in PLANS.items():  # second time: from the cache, no generate
        assert planner.plan(f" {instruction} ") == captions
    assert len(prompts) == len(PLANS)


def test_untrained_model_output_is_refused_clearly(untrained_dir: str) -> None:
    planner = make_planner("flan-t5", model=untrained_dir)
    with pytest.raises(PlanParseError, match=r"could not plan 'grasp the blue object': .*(sub-goal|no sub-goals)"):
        planner.plan("grasp the blue object")


class _Garbage(FlanT5Planner):
    """A 'model' that starts well, then emits something that is not a caption."""

    calls = 0

    def generate(self, prompt: str) -> str:
        self.calls += 1
        return format_plan([grasp_caption("red")]) + "; 2. the robot is making a sandwich"


def test_partly_valid_output_is_never_shortened() -> None:
    planner = _Garbage(tokenizer=None, model=None, model_id="stub-model")
    for _ in range(2):  # failures are not cached
        with pytest.raises(PlanParseError) as info:
            planner.plan("make me a sandwich")
        assert "stub-model could not plan 'make me a sandwich'" in str(info.value)
        assert "(item 2 of 2): sub-goal 'the robot is making a sandwich' is not a caption" in str(info.value)
    assert planner.calls == 2
    with pytest.raises(ValueError, match="empty"):
        planner.plan("  ")


def test_auto_uses_flan_t5_when_weights_are_present(trained_dir: str) -> None:
    said: list[str] = []
    planner = make_planner("auto", model=trained_dir, announce=said.append)
    assert planner.name == "flan-t5"
    assert said == [f"planner: flan-t5 ({trained_dir})"]


def test_cli_plans_with_a_local_model_dir(trained_dir: str, untrained_dir: str, capsys) -> None:
    argv = ["plan", "put the green block on the red block", "--planner", "flan-t5", "--model", trained_dir]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == {"planner": "flan-t5", "subgoals": PLANS["put the green block on the red block"]}
    assert main(["plan", "grasp the blue object", "--planner", "flan-t5", "--model", untrained_dir]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not plan" in err and "Traceback" not in err
