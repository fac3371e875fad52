"""The one model's three heads, its training step, and the conjecturer's well-formedness."""

import numpy as np
import pytest
import torch

from aether.minimo.conjecture import CompletionEngine, detokenize, sample_conjecture
from aether.minimo.domain import load_domain
from aether.minimo.hindsight import conjecture_tokens
from aether.minimo.model import TAGS, Batch, MinimoModel, ModelScorer, new_model

SIZES = {"d_model": 32, "n_layers": 1, "n_heads": 2, "context": 64}
GOAL = "A : prop, h : A |- (and A A)"
ACTIONS = ["apply and_i", "apply exfalso", "have (or A (not A)) by em A"]


@pytest.fixture(scope="module")
def engine():
    return CompletionEngine(load_domain("propositional_logic"), 4)


def test_three_heads_are_well_formed(engine):
    torch.manual_seed(0)
    model = new_model(engine, seed=1, **SIZES)
    for head in (model.policy_head, model.value_head):  # a non-zero head, to test shapes
        torch.nn.init.normal_(head.weight)
    scorer = ModelScorer(model)
    prior = scorer.policy(GOAL, ACTIONS)
    assert prior.shape == (3,) and np.all(prior > 0) and prior.sum() == pytest.approx(1.0)
    assert 0.0 < scorer.value(GOAL) < 1.0
    assert scorer.value(GOAL) == pytest.approx(float(model.value([GOAL]).detach()[0]), abs=1e-6)
    for tag in TAGS:
        logits = model.next_token(tag)([])
        assert logits.shape == (len(engine.vocabulary),) and np.isfinite(logits).all()


def test_untrained_model_is_the_uniform_scorer(engine):
    scorer = ModelScorer(new_model(engine, seed=0, **SIZES))
    assert np.allclose(scorer.policy(GOAL, ACTIONS), 1 / 3)
    assert scorer.value(GOAL) == pytest.approx(0.5)


@pytest.mark.parametrize("domain", ["propositional_logic", "arithmetic", "groups"])
def test_conjecturer_emits_only_well_formed_conjectures(domain):
    dom = load_domain(domain)
    eng = CompletionEngine(dom, 4)
    model = new_model(eng, seed=3, **SIZES)
    rng = np.random.default_rng(0)
    for tag in TAGS:
        for _ in range(3):
            text = sample_conjecture(eng, model.next_token(tag), rng)
            stmt = dom.proposition(text)  # parses and type-checks as a proposition, or raises
            # and reads back in the conjecturer's tokens (what its training data is made of)
            assert detokenize(conjecture_tokens(eng, stmt)) == text


def test_a_training_step_lowers_the_loss_on_a_fixed_batch(engine):
    model = new_model(engine, seed=0, **SIZES)
    tok = model.tok
    batch = Batch(
        conjectures=[tok.conjecture("hard", ["(", "and", "false", "false", ")"])],
        policy=[(GOAL, ACTIONS, 0)],
        value=[(GOAL, 1), ("|- false", 0)],
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = {k: v.item() for k, v in model.loss(batch).items()}
    for _ in range(5):
        opt.zero_grad()
        model.loss(batch)["total"].backward()
        opt.step()
    after = {k: v.item() for k, v in model.loss(batch).items()}
    for head in ("conjecture", "policy", "value", "total"):
        assert after[head] < before[head]


def test_state_round_trip_gives_the_same_model(engine):
    model = new_model(engine, seed=5, **SIZES)
    torch.nn.init.normal_(model.policy_head.weight)
    copy = MinimoModel.from_state(model.state())
    assert np.array_equal(
        ModelScorer(model).policy(GOAL, ACTIONS), ModelScorer(copy).policy(GOAL, ACTIONS)
    )


def test_scorer_can_flatten_the_prior_and_ignore_the_value(engine):
    model = new_model(engine, seed=2, **SIZES)
    for head in (model.policy_head, model.value_head):
        torch.nn.init.normal_(head.weight, std=5.0)
    sharp = ModelScorer(model).policy(GOAL, ACTIONS)
    flat = ModelScorer(model, temperature=2.0, mix=0.5).policy(GOAL, ACTIONS)
    assert flat.sum() == pytest.approx(1.0) and flat.min() >= 0.5 / 3
    assert flat.max() - flat.min() < sharp.max() - sharp.min()
    assert np.allclose(ModelScorer(model, mix=1.0).policy(GOAL, ACTIONS), 1 / 3)
    blind = ModelScorer(model, value_weight=0.0)
    blind.policy(GOAL, ACTIONS)
    assert blind.value(GOAL) == 0.5


def test_cached_prefix_scoring_matches_the_full_sequences(engine):
    """The search's one-pass scoring (goal encoded once, actions against its cached keys and
    values) gives the numbers of reading every action after the whole goal."""
    model = new_model(engine, seed=4, **{**SIZES, "context": 24, "action_context": 12})
    for head in (model.policy_head, model.value_head):
        torch.nn.init.normal_(head.weight)
    long_goal = "A : prop, B : prop, h : A, k : B |- (and (and A B) (or A B))"  # truncated
    acts = [*ACTIONS, "x", "have (and A B) by and_i h k and more than twelve characters"]
    with torch.no_grad():
        logits, value = model.policy_value(long_goal, acts)
        assert torch.allclose(logits, model.policy_logits(long_goal, acts), atol=1e-5)
        assert torch.allclose(torch.sigmoid(value), model.value([long_goal])[0], atol=1e-6)
    scorer = ModelScorer(model)
    prior = scorer.policy(long_goal, acts)
    assert np.allclose(prior, torch.softmax(logits.double(), 0).numpy())
    assert scorer.value(long_goal) == pytest.approx(float(torch.sigmoid(value)), abs=1e-6)


def test_a_single_action_skips_the_model_only_when_no_value_is_wanted(engine):
    model = new_model(engine, seed=6, **SIZES)
    torch.nn.init.normal_(model.value_head.weight, std=5.0)
    blind = ModelScorer(model, value_weight=0.0)
    assert blind.policy(GOAL, ACTIONS[:1]).tolist() == [1.0] and blind.value(GOAL) == 0.5
    seeing = ModelScorer(model, value_weight=1.0)
    assert seeing.policy(GOAL, ACTIONS[:1]).tolist() == [1.0]
    assert seeing.value(GOAL) == pytest.approx(float(model.value([GOAL]).detach()[0]), abs=1e-6)
