"""The kernel: syntax round trips, type checking, equality rules, and soundness against false
statements and tampered proofs."""

import pytest

from aether.minimo import terms as T
from aether.minimo.domain import DOMAINS, load_domain, load_evalset
from aether.minimo.kernel import KernelError
from aether.minimo.syntax import ParseError, parse, show

PL = load_domain("propositional_logic")
NAT = load_domain("arithmetic")
GRP = load_domain("groups")


@pytest.mark.parametrize("domain", DOMAINS)
def test_round_trip_every_statement_and_axiom(domain):
    dom = load_domain(domain)
    terms = [th.statement for th in load_evalset(domain)] + list(dom.signature.values())
    for t in terms:
        text = dom.show(t)
        back = dom.parse(text)
        assert back.sk is t.sk  # same term up to binder names
        assert dom.show(back) == text  # and the text is a fixed point


def test_round_trip_keeps_names_numerals_and_lambdas():
    src = "(lambda ('x : nat) (+ 'x 3))"
    assert NAT.show(NAT.parse(src)) == src
    assert NAT.parse("2") is NAT.parse("(s (s z))")
    inner = "[('a : nat) -> ('b : nat) -> (= 'a 'b)]"
    assert show(parse(inner, NAT.signature)) == inner
    # a binder shadowing another of the same name is printed apart
    t = T.pi("'a", T.const("nat"), T.pi("'a", T.const("nat"), T.app(T.EQ, T.bvar(1), T.bvar(0))))
    assert parse(show(t), NAT.signature).sk is t.sk


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("(= z", "unclosed .*column 1"),
        ("(= z z))", "column 8"),
        ("[nat -> ]", "column 9"),
        ("(foo z)", "column 2"),
        ("('x : nat)", "column 1"),
        ("", "empty"),
    ],
)
def test_parse_errors_name_the_position(text, where):
    with pytest.raises(ParseError, match=where):
        NAT.parse(text)


def test_unknown_constant_is_named():
    with pytest.raises(ParseError, match=r"unknown constant 'mul'.*column 5"):
        NAT.parse("(= (mul z z) z)")


@pytest.mark.parametrize(
    "text",
    [
        "(= z prop)",  # sides of different types
        "(s prop)",  # argument of the wrong type
        "(s z z)",  # too many arguments
        "(+ z)",  # a function, not a proposition
        "[('n : nat) -> (s 'n)]",  # an arrow into a term
        "(= type type)",
    ],
)
def test_ill_typed_statements_are_rejected(text):
    with pytest.raises(KernelError, match=r"ill-typed|not a proposition"):
        NAT.proposition(text)


def test_ill_typed_statement_error_points_at_the_argument():
    with pytest.raises(KernelError, match=r"column 9.*argument prop has type type"):
        NAT.proposition("(= z (s prop))")


def test_type_checker_rejects_ill_typed_terms():
    c = PL.checker()
    for bad in [
        "(and_i false false false)",
        "(not_e false false)",
        "(and false false false)",
        "(eq_refl)",
    ]:
        with pytest.raises(KernelError):
            c.infer(PL.parse(bad))
    with pytest.raises(KernelError, match="universe"):
        c.infer(T.TYPE)


KNOWN = {
    ("propositional_logic", "imp_self"): "(lambda ('A : prop) (lambda ('h : 'A) 'h))",
    ("propositional_logic", "and_comm"): (
        "(lambda ('A : prop) (lambda ('B : prop) (lambda ('h : (and 'A 'B)) "
        "(and_i 'B 'A (and_er 'A 'B 'h) (and_el 'A 'B 'h)))))"
    ),
    ("arithmetic", "two_add_two"): "(eval (+ 2 2))",
    ("arithmetic", "zero_add"): (
        "(nat_ind (lambda ('k : nat) (= (+ 0 'k) 'k)) (+_z 0)"
        " (lambda ('n : nat) (lambda ('ih : (= (+ 0 'n) 'n))"
        " (rewrite 'ih (lambda ('y : nat) (= (+ 0 (s 'n)) (s 'y))) (+_s 0 'n)))))"
    ),
    ("groups", "mul_id"): "(lambda ('a : G) (id_r 'a))",
}


@pytest.mark.parametrize(("domain", "name"), sorted(KNOWN))
def test_known_proofs_check(domain, name):
    dom = load_domain(domain)
    stmt = next(th.statement for th in load_evalset(domain) if th.name == name)
    assert dom.check_proof(stmt, dom.parse(KNOWN[domain, name]))


@pytest.mark.parametrize(
    ("domain", "name", "tampered"),
    [
        ("propositional_logic", "imp_self", "(lambda ('A : prop) (lambda ('h : 'A) 'A))"),
        (
            "propositional_logic",
            "and_comm",
            "(lambda ('A : prop) (lambda ('B : prop) (lambda ('h : (and 'A 'B)) "
            "(and_i 'B 'A (and_el 'A 'B 'h) (and_el 'A 'B 'h)))))",
        ),
        ("arithmetic", "two_add_two", "(eval (+ 2 1))"),
        ("arithmetic", "two_add_two", "(eq_refl (+ 2 2))"),
        (
            "arithmetic",
            "zero_add",
            "(nat_ind (lambda ('k : nat) (= (+ 0 'k) 'k)) (+_z 0)"
            " (lambda ('n : nat) (lambda ('ih : (= (+ 0 'n) 'n))"
            " (rewrite 'ih (lambda ('y : nat) (= (+ 0 (s 'n)) 'y)) (+_s 0 'n)))))",
        ),
        ("groups", "mul_id", "(lambda ('a : G) (id_l 'a))"),
    ],
)
def test_tampered_proofs_fail(domain, name, tampered):
    dom = load_domain(domain)
    stmt = next(th.statement for th in load_evalset(domain) if th.name == name)
    assert not dom.check_proof(stmt, dom.parse(tampered))


@pytest.mark.parametrize(
    ("domain", "false_statement", "proof"),
    [
        ("arithmetic", "(= (+ 2 2) 5)", "(eval (+ 2 2))"),
        ("arithmetic", "(= 0 1)", "(eq_refl 0)"),
        ("arithmetic", "[('n : nat) -> (= (+ 0 'n) 0)]", "(lambda ('n : nat) (+_z 0))"),
        ("propositional_logic", "[('A : prop) -> 'A]", "(lambda ('A : prop) (exfalso 'A))"),
        ("propositional_logic", "false", "(em false)"),
        ("groups", "(= (inv id) (op id id))", "(rewrite (inv_r id) (lambda ('x : G) 'x) id)"),
    ],
)
def test_false_statements_are_never_accepted(domain, false_statement, proof):
    dom = load_domain(domain)
    stmt = dom.proposition(false_statement)
    assert not dom.check_proof(stmt, dom.parse(proof))


def test_equality_rules():
    c = NAT.checker()
    eq = NAT.parse("(eq_symm (+_z 3))")
    assert NAT.show(c.infer(eq)) == "(= 3 (+ 3 0))"
    assert NAT.show(c.evaluate(NAT.parse("(* (+ 1 1) 3)"))) == "6"
    assert NAT.show(c.infer(NAT.parse("(eval (* 2 2))"))) == "(= (* 2 2) 4)"
    with pytest.raises(KernelError, match="not a predicate"):
        c.infer(NAT.parse("(rewrite (+_z 0) (lambda ('x : nat) 'x) (eq_refl 0))"))
    with pytest.raises(KernelError, match="no #eval"):
        GRP.checker().infer(GRP.parse("(eval id)"))
