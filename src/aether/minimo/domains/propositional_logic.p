/* Propositional logic: natural deduction with excluded middle (classical).
   Implication is the arrow [P -> Q]; hypotheses are applied like functions. */

false : prop.
not : [prop -> prop].
and : [prop -> prop -> prop].
or : [prop -> prop -> prop].
iff : [prop -> prop -> prop].

/* conjunction */
and_i : [('A : prop) -> ('B : prop) -> 'A -> 'B -> (and 'A 'B)].
and_el : [('A : prop) -> ('B : prop) -> (and 'A 'B) -> 'A].
and_er : [('A : prop) -> ('B : prop) -> (and 'A 'B) -> 'B].
#backward and_i.
#forward and_el and_er.

/* disjunction: introduction on the goal, case analysis on a hypothesis */
or_il : [('A : prop) -> ('B : prop) -> 'A -> (or 'A 'B)].
or_ir : [('A : prop) -> ('B : prop) -> 'B -> (or 'A 'B)].
or_e : [('A : prop) -> ('B : prop) -> ('C : prop) ->
        (or 'A 'B) -> ['A -> 'C] -> ['B -> 'C] -> 'C].
#backward or_il or_ir or_e.

/* negation and falsity */
not_i : [('A : prop) -> ['A -> false] -> (not 'A)].
not_e : [('A : prop) -> (not 'A) -> 'A -> false].
exfalso : [('A : prop) -> false -> 'A].
#backward not_i not_e exfalso.

/* equivalence */
iff_i : [('A : prop) -> ('B : prop) -> ['A -> 'B] -> ['B -> 'A] -> (iff 'A 'B)].
iff_el : [('A : prop) -> ('B : prop) -> (iff 'A 'B) -> ['A -> 'B]].
iff_er : [('A : prop) -> ('B : prop) -> (iff 'A 'B) -> ['B -> 'A]].
#backward iff_i.
#forward iff_el iff_er.

/* excluded middle, instantiated with the propositions in scope */
em : [('A : prop) -> (or 'A (not 'A))].
#forward em.

#conjecture prop.
