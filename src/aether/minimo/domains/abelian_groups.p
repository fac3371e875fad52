/* Abelian groups, axiomatised as in the Minimo paper: associativity, commutativity, a left
   identity and left inverses (the right-hand versions follow by commutativity). */

G : type.
op : [G -> G -> G].
id : G.
inv : [G -> G].

op_assoc : [('a : G) -> ('b : G) -> ('c : G) -> (= (op (op 'a 'b) 'c) (op 'a (op 'b 'c)))].
op_comm : [('a : G) -> ('b : G) -> (= (op 'a 'b) (op 'b 'a))].
id_l : [('a : G) -> (= (op id 'a) 'a)].
inv_l : [('a : G) -> (= (op (inv 'a) 'a) id)].
#rewrite op_assoc op_comm id_l inv_l.

#conjecture G.
