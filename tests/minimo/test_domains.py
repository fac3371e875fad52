"""Domains and evaluation sets are project files that load, type-check, and reject bad input."""

import pytest

from aether.minimo.domain import DOMAINS, DomainError, load_domain, load_evalset, parse_domain


@pytest.mark.parametrize("domain", DOMAINS)
def test_domains_declare_usable_axioms_and_evalsets_typecheck(domain):
    dom = load_domain(domain)
    assert dom.axioms("forward") or dom.axioms("backward") or dom.axioms("rewrite")
    assert dom.conjecture_types
    theorems = load_evalset(domain)
    assert len(theorems) >= 8
    checker = dom.checker()
    assert all(checker.is_prop(th.statement) for th in theorems)
    assert len({th.name for th in theorems}) == len(theorems)


def test_arithmetic_has_the_peano_ingredients():
    dom = load_domain("arithmetic")
    assert {"z", "s", "+", "*", "nat_ind", "+_z", "+_s", "*_z", "*_s"} <= set(dom.signature)
    assert "backward" in dom.usage["nat_ind"]
    assert "op_comm" in load_domain("abelian_groups").signature
    assert "op_comm" not in load_domain("groups").signature


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nat : type.\nz : nat\n", "line 2: statement does not end"),
        ("nat : type.\nz : [nat -> foo].\n", "line 2: unknown constant 'foo'"),
        ("nat : type.\n#forward ax.\n", "line 2: #forward ax: declare ax"),
        ("nat : type.\nz : nat.\n#backward z.\n", "not an axiom"),
        ("nat : type.\nnat : type.\n", "declared twice"),
        ("#frobnicate x.\n", "unknown directive"),
        ("eval : prop.\n", "built in"),
        (
            "nat : type.\nz : nat.\nax : [('a : nat) -> ('b : nat) -> (= 'a 'b) -> (= 'b 'a)].\n"
            "#eval ax.\n",
            "has a premise",
        ),
        ("nat : type.\nz : nat.\nax : [('a : nat) -> (= z 'a)].\n#eval ax.\n", "determine"),
    ],
)
def test_bad_domain_files_fail_with_the_line(text, message):
    with pytest.raises(DomainError, match=message):
        parse_domain(text, "bad", "bad.p")


def test_unknown_domain():
    with pytest.raises(DomainError, match="available"):
        load_domain("topology")
