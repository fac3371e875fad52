/* Groups: an associative operation with a two-sided identity and two-sided inverses. */

G : type.
op : [G -> G -> G].
id : G.
inv : [G -> G].

op_assoc : [('a : G) -> ('b : G) -> ('c : G) -> (= (op (op 'a 'b) 'c) (op 'a (op 'b 'c)))].
id_l : [('a : G) -> (= (op id 'a) 'a)].
id_r : [('a : G) -> (= (op 'a id) 'a)].
inv_l : [('a : G) -> (= (op (inv 'a) 'a) id)].
inv_r : [('a : G) -> (= (op 'a (inv 'a)) id)].
#rewrite op_assoc id_l id_r inv_l inv_r.

#conjecture G.
