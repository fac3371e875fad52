"""Constrained conjecturing: every sampled conjecture is well-formed and well-typed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.minimo import terms as T
from aether.minimo.conjecture import (
    EOS,
    CompletionEngine,
    random_logits,
    sample_conjecture,
    sample_conjectures,
    vacuous,
)
from aether.minimo.domain import DOMAINS, load_domain

ENGINES = {d: CompletionEngine(load_domain(d), max_depth=4) for d in DOMAINS}


@settings(max_examples=12, deadline=None)
@given(domain=st.sampled_from(DOMAINS), seed=st.integers(0, 2**31 - 1))
def test_every_masked_sample_typechecks(domain, seed):
    dom, engine = load_domain(domain), ENGINES[domain]
    for logits in (random_logits(engine, seed), None):
        for text in sample_conjectures(dom, 15, seed, logits=logits):
            statement = dom.proposition(text)  # raises on anything ill-formed or ill-typed
            assert dom.checker().is_prop(statement)
            back = dom.parse(dom.show(statement))  # and it round-trips (up to binder names)
            assert back.sk is statement.sk and dom.show(back) == dom.show(statement)


def test_next_tokens_follow_grammar_and_types():
    nat = ENGINES["arithmetic"]
    assert nat.next_tokens("") == {"[", "(", "false"}
    assert nat.next_tokens("(") == {"="}
    assert nat.next_tokens("(= z") == {"z", "("}  # the right side must be a nat too
    assert "'x0" in nat.next_tokens("[(")  # a binder, or an application
    assert nat.next_tokens("[('x0 : nat) -> (= 'x0") == {"z", "'x0", "("}
    assert nat.next_tokens("(= z z)") == {EOS}
    pl = ENGINES["propositional_logic"]
    assert "=" not in pl.next_tokens("(")
    assert pl.next_tokens("(and") == {"false", "(", "["}
    with pytest.raises(ValueError, match="cannot continue"):
        nat.next_tokens("(= z prop")


def test_depth_bound_keeps_completions_finite():
    engine = CompletionEngine(load_domain("arithmetic"), max_depth=1)
    assert engine.next_tokens("(= z") == {"z"}  # (s ...) would exceed the depth


def test_sampling_is_reproducible_and_diverse():
    dom = load_domain("groups")
    a = sample_conjectures(dom, 200, seed=3)
    assert a == sample_conjectures(dom, 200, seed=3)
    assert len(set(a)) > 20


@pytest.mark.parametrize("domain", DOMAINS)
def test_quantified_decoding_opens_every_conjecture_with_a_quantifier(domain):
    dom, engine = load_domain(domain), ENGINES[domain]
    rng = np.random.default_rng(1)
    texts = [
        sample_conjecture(engine, random_logits(engine, 5), rng, quantified=True) for _ in range(30)
    ]
    for text in texts:
        statement = dom.proposition(text)
        assert statement.tag == T.PI and statement.dom in engine.binder_types, text
    assert {tok for states in [engine.start(True)] for tok in engine.valid(states)} == {"["}


def test_vacuous_quantifiers_are_recognised():
    dom, engine = load_domain("groups"), ENGINES["groups"]
    assert vacuous(dom.proposition("[('x0 : G) -> (= id id)]"), engine.binder_types)
    assert vacuous(dom.proposition("[('x0 : G) -> [('x1 : G) -> (= 'x0 id)]]"), engine.binder_types)
    assert not vacuous(
        dom.proposition("[('x0 : G) -> [(= 'x0 id) -> (= (op 'x0 'x0) id)]]"),
        engine.binder_types,
    )
