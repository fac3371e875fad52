/* Exercises in the style of Kleene's "Introduction to Metamathematics" (propositional part). */
theorem imp_self : [('A : prop) -> 'A -> 'A].
theorem and_comm : [('A : prop) -> ('B : prop) -> (and 'A 'B) -> (and 'B 'A)].
theorem or_comm : [('A : prop) -> ('B : prop) -> (or 'A 'B) -> (or 'B 'A)].
theorem k_comb : [('A : prop) -> ('B : prop) -> 'A -> 'B -> 'A].
theorem imp_trans : [('A : prop) -> ('B : prop) -> ('C : prop) -> ['A -> 'B] -> ['B -> 'C] -> 'A -> 'C].
theorem s_comb : [('A : prop) -> ('B : prop) -> ('C : prop) -> ['A -> 'B -> 'C] -> ['A -> 'B] -> 'A -> 'C].
theorem and_assoc : [('A : prop) -> ('B : prop) -> ('C : prop) -> (and (and 'A 'B) 'C) -> (and 'A (and 'B 'C))].
theorem or_intro_and : [('A : prop) -> ('B : prop) -> (and 'A 'B) -> (or 'A 'B)].
theorem dni : [('A : prop) -> 'A -> (not (not 'A))].
theorem contrapositive : [('A : prop) -> ('B : prop) -> ['A -> 'B] -> (not 'B) -> (not 'A)].
theorem explosion : [('A : prop) -> ('B : prop) -> (and 'A (not 'A)) -> 'B].
theorem iff_refl : [('A : prop) -> (iff 'A 'A)].
theorem iff_symm : [('A : prop) -> ('B : prop) -> (iff 'A 'B) -> (iff 'B 'A)].
theorem curry : [('A : prop) -> ('B : prop) -> ('C : prop) -> [(and 'A 'B) -> 'C] -> 'A -> 'B -> 'C].
theorem uncurry : [('A : prop) -> ('B : prop) -> ('C : prop) -> ['A -> 'B -> 'C] -> (and 'A 'B) -> 'C].
theorem de_morgan_or : [('A : prop) -> ('B : prop) -> (not (or 'A 'B)) -> (and (not 'A) (not 'B))].
theorem or_elim_imp : [('A : prop) -> ('B : prop) -> ('C : prop) -> ['A -> 'C] -> ['B -> 'C] -> (or 'A 'B) -> 'C].
theorem dne : [('A : prop) -> (not (not 'A)) -> 'A].
theorem peirce_em : [('A : prop) -> (or 'A (not 'A))].
theorem and_or_distrib : [('A : prop) -> ('B : prop) -> ('C : prop) -> (and 'A (or 'B 'C)) -> (or (and 'A 'B) (and 'A 'C))].
