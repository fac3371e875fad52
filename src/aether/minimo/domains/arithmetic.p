/* Peano arithmetic: zero, successor, addition and multiplication by their defining
   equations (recursion on the second argument), induction, and the two Peano axioms
   that make successor injective and never zero. */

nat : type.
z : nat.
s : [nat -> nat].
+ : [nat -> nat -> nat].
* : [nat -> nat -> nat].
false : prop.

+_z : [('n : nat) -> (= (+ 'n z) 'n)].
+_s : [('n : nat) -> ('m : nat) -> (= (+ 'n (s 'm)) (s (+ 'n 'm)))].
*_z : [('n : nat) -> (= (* 'n z) z)].
*_s : [('n : nat) -> ('m : nat) -> (= (* 'n (s 'm)) (+ (* 'n 'm) 'n))].
#rewrite +_z +_s *_z *_s.
#eval +_z +_s *_z *_s.

s_inj : [('a : nat) -> ('b : nat) -> (= (s 'a) (s 'b)) -> (= 'a 'b)].
z_ne_s : [('a : nat) -> (= z (s 'a)) -> false].
#forward s_inj.
#backward z_ne_s.

nat_ind : [('p : [nat -> prop]) -> ('p z) -> [('n : nat) -> ('p 'n) -> ('p (s 'n))] ->
           [('n : nat) -> ('p 'n)]].
#backward nat_ind.

#numerals z s.
#conjecture nat.
