"""Prompt rendering and robust parsing of (malformed) LM outputs."""

import pytest

from aether.mipro.lm import ScriptedLM
from aether.mipro.metrics import exact_match, f1, field_metric, label_match, number_match
from aether.mipro.program import ChainOfThought, Env, Predict, Signature


def test_render_puts_instruction_demos_and_query_in_order():
    p = Predict(
        Signature.parse("context, question -> answer", "Answer briefly.", answer="a few words")
    )
    p.demos = [{"context": "sky  is\nblue", "question": "colour?", "answer": "blue"}]
    prompt = p.render({"context": "grass", "question": "colour?"})
    assert prompt == (
        "Answer briefly. The answer is a few words.\n\n"
        "Context: sky is blue\nQuestion: colour?\nAnswer: blue\n\n"
        "Context: grass\nQuestion: colour?\nAnswer:"
    )
    assert "\nContext:" in p.stops()


@pytest.mark.parametrize(
    "text, answer, ok",
    [
        (" blue", "blue", True),
        (" **blue**\nQuestion: next?", "blue", True),
        ("\n\n  blue  \nmore text", "blue", True),
        ("", "", False),
        ("   \n", "", False),
    ],
)
def test_predict_parses_malformed_single_field(text, answer, ok):
    prediction = Predict("question -> answer").parse(text)
    assert prediction["answer"] == answer and prediction.ok is ok


@pytest.mark.parametrize(
    "text, label, ok",
    [
        (" NOT_SUPPORTED", "NOT_SUPPORTED", True),
        # SmolLM2 on HoVer restates the field's description: it scored 0 before.
        (" The claim is one of: NOT_SUPPORTED.", "NOT_SUPPORTED", True),
        (" supported, since the context says so", "SUPPORTED", True),
        (" The claim is SUPPORTED", "SUPPORTED", True),
        # Both labels named, neither first: no choice is made, the answer stays wrong.
        (
            " The claim is one of: SUPPORTED, NOT_SUPPORTED.",
            "The claim is one of: SUPPORTED, NOT_SUPPORTED.",
            False,
        ),
        (" unclear", "unclear", False),
    ],
)
def test_a_closed_field_parses_to_the_label_its_answer_names(text, label, ok):
    sig = Signature.parse("claim -> label", "Verify.", label=("SUPPORTED", "NOT_SUPPORTED"))
    assert sig.outputs[0].desc == "one of: SUPPORTED, NOT_SUPPORTED"
    prediction = Predict(sig).parse(text)
    assert (prediction["label"], prediction.ok) == (label, ok)


@pytest.mark.parametrize(
    "text, reasoning, answer, ok",
    [
        (" 2 and 2.\nAnswer: 4", "2 and 2.", "4", True),
        (" two lines\nof thought\n**Answer:** 4", "two lines\nof thought", "4", True),
        (" think\nANSWER : 4", "think", "4", True),
        # No `Answer:` field: the answer is the reasoning's last line, and the parse not ok.
        (" no answer given", "no answer given", "no answer given", False),
        (" 38.\n\nThe answer is 38.", "38.\n\nThe answer is 38.", "The answer is 38.", False),
        ("", "", "", False),
        ("Reasoning: doubled\nAnswer: 4\nAnswer: 5", "doubled", "4", True),
    ],
)
def test_chain_of_thought_parses_reasoning_then_answer(text, reasoning, answer, ok):
    prediction = ChainOfThought("question -> answer").parse(text)
    assert (prediction["reasoning"], prediction["answer"], prediction.ok) == (reasoning, answer, ok)


def test_chain_of_thought_answer_stated_in_the_reasoning_scores():
    # What SmolLM2 wrote zero-shot on a GSM8K test question (gold 38): it scored 0 before.
    cot = ChainOfThought(Signature.parse("question -> answer", "Solve.", answer="a number"))
    prediction = cot.parse(" 16 + 22 = 38, which is the discount.\n\nThe answer is 38.")
    assert field_metric("answer", number_match)({"answer": "38.0"}, prediction) == 1.0
    assert not prediction.ok


def test_predict_call_traces_and_state_roundtrip():
    lm = ScriptedLM(lambda prompt, d, r: " 4")
    p = Predict("question -> answer")
    trace: list = []
    out = p(Env(lm, trace=trace), question="2+2")
    assert out == {"answer": "4"} and trace[0][1] == {"question": "2+2"}
    p.demos = [{"question": "1+1", "answer": "2"}]
    state = p.dump_state()
    fresh = Predict("question -> answer").load_state(state)
    assert fresh.demos == p.demos and fresh.render({"question": "x"}) == p.render({"question": "x"})
    with pytest.raises(KeyError, match="missing inputs"):
        p(Env(lm), query="2+2")


def test_signature_rejects_bad_specs():
    for bad in ("question answer", "-> answer", "q -> q"):
        with pytest.raises(ValueError):
            Signature.parse(bad)


def test_metrics():
    assert exact_match("The Eiffel Tower", "eiffel tower.") == 1.0
    assert 0 < f1("barack obama", "obama") < 1
    assert label_match("positive", "Positive, clearly") == 1.0
    assert label_match("pos", "positive") == 0.0
    assert number_match("1,200", "so the total is 1200.") == 1.0
    assert number_match("3", "no number") == 0.0


def test_zero_shot_prompt_shows_descriptions_as_sentences_not_as_filled_fields():
    # `Label: one of: yes, no` above the query reads to a small model as an example whose
    # label is the text "one of: yes, no"; SmolLM2 copied it verbatim (0 accuracy).
    sig = Signature.parse("premise, hypothesis -> label", "Decide.", label="one of: yes, no.")
    prompt = Predict(sig).render({"premise": "p", "hypothesis": "h"})
    assert prompt == "Decide. The label is one of: yes, no.\n\nPremise: p\nHypothesis: h\nLabel:"
    assert [ln for ln in prompt.splitlines() if ln.startswith("Label:")] == ["Label:"]
    cot = ChainOfThought(Signature.parse("question -> answer", "Solve.", answer="a number"))
    first = cot.render({"question": "1+1"}).split("\n\n")[0]
    assert first == "Solve. The reasoning is step-by-step thinking. The answer is a number."
