/* Basic facts of abelian groups, from the paper's axioms (left identity and inverse). */
theorem mul_id : [('a : G) -> (= (op 'a id) 'a)].
theorem id_mul_id : (= (op id id) id).
theorem mul_inv : [('a : G) -> (= (op 'a (inv 'a)) id)].
theorem comm_left : [('a : G) -> ('b : G) -> ('c : G) -> (= (op 'a (op 'b 'c)) (op 'b (op 'a 'c)))].
theorem left_cancel : [('a : G) -> ('b : G) -> ('c : G) -> (= (op 'a 'b) (op 'a 'c)) -> (= 'b 'c)].
theorem id_unique : [('f : G) -> [('a : G) -> (= (op 'f 'a) 'a)] -> (= 'f id)].
theorem inv_id : (= (inv id) id).
theorem inv_unique : [('a : G) -> ('b : G) -> (= (op 'a 'b) id) -> (= 'b (inv 'a))].
theorem inv_inv : [('a : G) -> (= (inv (inv 'a)) 'a)].
theorem inv_op : [('a : G) -> ('b : G) -> (= (inv (op 'a 'b)) (op (inv 'a) (inv 'b)))].
