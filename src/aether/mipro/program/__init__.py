"""Signatures, predictors (Predict, ChainOfThought) and multi-module programs."""

from aether.mipro.program.module import Env, Module, Prediction
from aether.mipro.program.predict import ChainOfThought, Predict
from aether.mipro.program.signature import Field, Signature

__all__ = ["ChainOfThought", "Env", "Field", "Module", "Predict", "Prediction", "Signature"]
