"""Models of the paper: pedagogical examples, the linear-nonlinear SSM, Yap dengue."""
