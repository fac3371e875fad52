/* Lemmas from the Natural Number Game (tutorial, addition and multiplication worlds). */
theorem zero_add_zero : (= (+ 0 0) 0).
theorem two_add_two : (= (+ 2 2) 4).
theorem two_mul_three : (= (* 2 3) 6).
theorem add_zero : [('n : nat) -> (= (+ 'n 0) 'n)].
theorem add_one : [('n : nat) -> (= (+ 'n 1) (s 'n))].
theorem succ_eq : [('a : nat) -> ('b : nat) -> (= 'a 'b) -> (= (s 'a) (s 'b))].
theorem mul_one : [('n : nat) -> (= (* 'n 1) 'n)].
theorem succ_inj_ex : [('a : nat) -> ('b : nat) -> (= (s (s 'a)) (s (s 'b))) -> (= 'a 'b)].
theorem zero_add : [('n : nat) -> (= (+ 0 'n) 'n)].
theorem zero_mul : [('n : nat) -> (= (* 0 'n) 0)].
theorem succ_add : [('a : nat) -> ('b : nat) -> (= (+ (s 'a) 'b) (s (+ 'a 'b)))].
theorem add_assoc : [('a : nat) -> ('b : nat) -> ('c : nat) -> (= (+ (+ 'a 'b) 'c) (+ 'a (+ 'b 'c)))].
theorem add_comm : [('a : nat) -> ('b : nat) -> (= (+ 'a 'b) (+ 'b 'a))].
theorem one_mul : [('n : nat) -> (= (* 1 'n) 'n)].
theorem mul_add : [('a : nat) -> ('b : nat) -> ('c : nat) -> (= (* 'a (+ 'b 'c)) (+ (* 'a 'b) (* 'a 'c)))].
theorem mul_comm : [('a : nat) -> ('b : nat) -> (= (* 'a 'b) (* 'b 'a))].
theorem succ_ne_zero : [('a : nat) -> (= z (s 'a)) -> false].
