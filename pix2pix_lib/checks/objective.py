"""Checks for 04 · the objective: D's loss and G's loss, computed from D's logits.

Each check runs the learner's loss and the library's (`reference`) on a set of cases chosen
so that the classic mistakes show: constant logits (D unsure, sure and right, fooled),
random logits, logits of +-30 and +-200 (a D that is very sure: where the cross-entropy of
sigmoid(logits) saturates at 16.1 or becomes infinite, while the one from logits stays
exact), patch maps of two sizes (a sum instead of a mean), and for G two values of lambda.
When the learner's numbers differ, the check tries the known mistakes one by one (each a
formula in numpy) and names the one that reproduces them; otherwise it gives the first
case and the two numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pix2pix_lib.checks import reference
from pix2pix_lib.checks.core import CheckFailed, call_learner, passed
from pix2pix_lib.checks.mistakes import planted_in

__all__ = ["MISTAKES", "discriminator_loss", "generator_loss"]

D_PIECE = "D's loss (discriminator_loss)"
G_PIECE = "G's loss (generator_loss)"
RTOL, ATOL = 1e-5, 1e-6  # float32 arithmetic in another order: a few ulps
MATCH = 2e-3  # how close a known mistake's formula must come to count as the cause


def _logits(shape, value=None, *, seed=None, scale=3.0):
    if value is not None:
        return np.full(shape, value, dtype=np.float32)
    return np.random.default_rng(seed).normal(0.0, scale, shape).astype(np.float32)


def _images(seed, shape=(2, 16, 16, 3)):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Numpy forms of the right answer and of the classic mistakes (float64)
# ---------------------------------------------------------------------------------------------


def _softplus(x):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _bce(label: int, logits):
    """Mean binary cross-entropy from logits against a constant label (exact)."""
    return float(np.mean(_softplus(-logits if label == 1 else logits)))


def _bce_of_sigmoid(label: int, logits):
    """What Keras' BCE gives on sigmoid(logits) in float32: clipped to [1e-7, 1 - 1e-7]."""
    p = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float32).astype(np.float64)))
    p = np.clip(p.astype(np.float32), 1e-7, 1 - 1e-7).astype(np.float64)
    return float(np.mean(-np.log(p) if label == 1 else -np.log(1 - p)))


def _scalar(piece: str, what: str, value) -> float:
    array = np.asarray(value)
    if array.size != 1:
        raise CheckFailed(piece, f"{what} should be one number (a scalar: the mean over the "
                                 f"batch and every patch), found shape {array.shape}")
    return float(array.reshape(()))


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    if not (np.isfinite(a) and np.isfinite(b)):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def _diagnose(piece: str, yours: list, cases: list, library: list,
              known: list[tuple[Callable, str]], describe: Callable) -> None:
    """Fail with the first known mistake that reproduces `yours` on every case, else with the
    first case where yours differs from the library's."""
    for formula, message in known:
        candidate = [formula(*case) for case in cases]
        if all(np.allclose(y, c, rtol=MATCH, atol=MATCH) for y, c in zip(yours, candidate,
                                                                          strict=True)):
            first = next(i for i, (y, lib) in enumerate(zip(yours, library, strict=True))
                         if not np.allclose(y, lib, rtol=RTOL, atol=ATOL))
            raise CheckFailed(piece, f"{message} ({describe(first, yours, library)})")
    first = next(i for i, (y, lib) in enumerate(zip(yours, library, strict=True))
                 if not np.allclose(y, lib, rtol=RTOL, atol=ATOL))
    raise CheckFailed(piece, describe(first, yours, library))


# ---------------------------------------------------------------------------------------------
# D's loss
# ---------------------------------------------------------------------------------------------

_D_CASES = (  # (what the case is, real logits, fake logits)
    ("D cannot tell (every logit 0)", _logits((2, 30, 30, 1), 0.0), _logits((2, 30, 30, 1), 0.0)),
    ("D sure and right (real 4, fake -4)", _logits((1, 6, 6, 1), 4.0), _logits((1, 6, 6, 1), -4.0)),
    ("D fooled (real -4, fake 4)", _logits((1, 6, 6, 1), -4.0), _logits((1, 6, 6, 1), 4.0)),
    ("random logits on a 30x30 map", _logits((2, 30, 30, 1), seed=1),
     _logits((2, 30, 30, 1), seed=2)),
    ("random logits on a 4x4 map", _logits((1, 4, 4, 1), seed=3), _logits((1, 4, 4, 1), seed=4)),
    ("D sure and wrong (real -30, fake 30)", _logits((1, 6, 6, 1), -30.0),
     _logits((1, 6, 6, 1), 30.0)),
    ("D sure and wrong (real -200, fake 200)", _logits((1, 6, 6, 1), -200.0),
     _logits((1, 6, 6, 1), 200.0)),
)

_D_MISTAKES = (
    (lambda r, f: _bce(1, r) + _bce(0, f),
     "it is twice the library's: halve it, 0.5 x (real term + fake term), as the paper does "
     "(section 3.3)"),
    (lambda r, f: 0.5 * (_bce(0, r) + _bce(1, f)),
     "real pairs must be labelled 1 (\"real\") and generated pairs 0 (\"fake\"); yours has "
     "the labels the other way round"),
    (lambda r, f: 0.5 * (_bce(0, r) + _bce(0, f)),
     "real pairs must be scored against the label 1 (\"real\"); yours scores them against 0"),
    (lambda r, f: 0.5 * (_bce_of_sigmoid(1, r) + _bce_of_sigmoid(0, f)),
     "it stops at 16.1 when D is very sure: you compute the cross-entropy of sigmoid(logits), "
     "which rounds to 0 or 1 and is clipped; compute it from the logits "
     "(BinaryCrossentropy(from_logits=True))"),
    (lambda r, f: _bce_of_sigmoid(1, r) + _bce_of_sigmoid(0, f),
     "it stops at 16.1 when D is very sure (the cross-entropy of sigmoid(logits): use "
     "from_logits=True) and it is not halved"),
    (lambda r, f: 0.5 * _bce(1, r), "the fake term is missing: D must also score the generated "
                                    "pairs against 0"),
    (lambda r, f: 0.5 * _bce(0, f), "the real term is missing: D must also score the real pairs "
                                    "against 1"),
    (lambda r, f: 0.5 * (r.size * _bce(1, r) + f.size * _bce(0, f)),
     "it grows with the number of patches: take the mean over the batch and every patch, not "
     "the sum"),
)


def _describe_d(index: int, yours: list, library: list) -> str:
    what = _D_CASES[index][0]
    return f"{what}: yours is {yours[index]:.6g}, the library's {library[index]:.6g}"


def discriminator_loss(learner: Callable) -> None:
    """Check `discriminator_loss(real_logits, fake_logits)` against the library's."""
    yours, library = [], []
    for what, real, fake in _D_CASES:
        value = call_learner(D_PIECE, learner, real, fake)
        yours.append(_scalar(D_PIECE, f"for {what}, the loss", value))
        library.append(float(reference.discriminator_loss(real, fake)))
    if not all(_close(y, lib) for y, lib in zip(yours, library, strict=True)):
        if any(not np.isfinite(y) for y in yours):
            index = next(i for i, y in enumerate(yours) if not np.isfinite(y))
            raise CheckFailed(D_PIECE, f"{_describe_d(index, yours, library)}: log(sigmoid(z)) "
                                       "becomes -inf once sigmoid(z) rounds to 0; compute the "
                                       "cross-entropy from the logits (from_logits=True)")
        cases = [(real, fake) for _, real, fake in _D_CASES]
        _diagnose(D_PIECE, yours, cases, library, list(_D_MISTAKES), _describe_d)
    passed(D_PIECE, f"equals the library's in all {len(_D_CASES)} cases, from D unsure to "
                    "logits of +-200")


# ---------------------------------------------------------------------------------------------
# G's loss
# ---------------------------------------------------------------------------------------------

_G_CASES = (  # (what, fake logits, generated, target, l1_weight)
    ("D unsure (logits 0), every pixel 0.1 off, l1_weight 100", _logits((1, 6, 6, 1), 0.0),
     np.zeros((1, 8, 8, 3), np.float32), np.full((1, 8, 8, 3), 0.1, np.float32), 100.0),
    ("random logits and images, l1_weight 100", _logits((2, 30, 30, 1), seed=5), _images(6),
     _images(7), 100.0),
    ("random logits and images, l1_weight 10", _logits((2, 30, 30, 1), seed=8), _images(9),
     _images(10), 10.0),
    ("random logits on a 4x4 map and 8x8 images, l1_weight 1", _logits((1, 4, 4, 1), seed=11),
     _images(12, (1, 8, 8, 3)), _images(13, (1, 8, 8, 3)), 1.0),
    ("D sure the fakes are fake (logits -30), l1_weight 100", _logits((1, 6, 6, 1), -30.0),
     _images(14), _images(15), 100.0),
    ("D sure the fakes are fake (logits -200), l1_weight 100", _logits((1, 6, 6, 1), -200.0),
     _images(16), _images(17), 100.0),
)
_PARTS = ("total", "gan (the adversarial term)", "l1 (the unweighted L1 distance)")


def _l1(generated, target):
    return float(np.mean(np.abs(np.asarray(target, np.float64) - generated)))


def _right(z, g, t, lam, gan=None, l1=None):
    gan = _bce(1, z) if gan is None else gan
    l1 = _l1(g, t) if l1 is None else l1
    return (gan + lam * l1, gan, l1)


_G_MISTAKES = (
    (lambda z, g, t, lam: _right(z, g, t, 100.0)[:1] + _right(z, g, t, lam)[1:],
     "l1_weight is not used: your total is the one for lambda = 100 whatever l1_weight is"),
    (lambda z, g, t, lam: _right(z, g, t, lam, gan=-_softplus(z).mean()),
     "you minimise log(1 - D(x, G(x))), the minimax form of equation 1; the paper's G "
     "minimises -log D(x, G(x)) (non-saturating, section 3.3): the BCE of the fake logits "
     "against the label 1"),
    (lambda z, g, t, lam: _right(z, g, t, lam, gan=_bce(0, z)),
     "G's adversarial term must score its fakes against the label 1 (\"real\": G wants D to "
     "call them real), not 0"),
    (lambda z, g, t, lam: _right(z, g, t, lam, gan=_bce_of_sigmoid(1, z)),
     "the adversarial term stops at 16.1 when D is very sure: you compute the cross-entropy "
     "of sigmoid(logits); compute it from the logits (from_logits=True)"),
    (lambda z, g, t, lam: _right(z, g, t, lam, l1=float(np.mean(
        np.square(np.asarray(t, np.float64) - g)))),
     "the L1 term is the mean absolute difference |target - generated|; yours squares it (L2)"),
    (lambda z, g, t, lam: _right(z, g, t, lam, l1=float(np.sum(
        np.abs(np.asarray(t, np.float64) - g)))),
     "the L1 term grows with the image size: take the mean over every pixel and channel, not "
     "the sum"),
    (lambda z, g, t, lam: (_bce(1, z) + _l1(g, t), _bce(1, z), _l1(g, t)),
     "the total is adversarial + L1: multiply the L1 term by l1_weight (lambda)"),
    (lambda z, g, t, lam: (lam * _bce(1, z) + _l1(g, t), _bce(1, z), _l1(g, t)),
     "l1_weight multiplies the adversarial term instead of the L1 term"),
    (lambda z, g, t, lam: _right(z, g, t, lam)[1:] + _right(z, g, t, lam)[:1],
     "return (total, gan, l1) in this order; yours returns (gan, l1, total)"),
)


def _describe_g(index: int, yours: list, library: list) -> str:
    what = _G_CASES[index][0]
    part = next(i for i in range(3)
                if not _close(yours[index][i], library[index][i]))
    return (f"{what}: your {_PARTS[part]} is {yours[index][part]:.6g}, the library's "
            f"{library[index][part]:.6g}")


def generator_loss(learner: Callable) -> None:
    """Check `generator_loss(fake_logits, generated, target, l1_weight)` -> (total, gan, l1)."""
    yours, library = [], []
    for what, logits, generated, target, weight in _G_CASES:
        value = call_learner(G_PIECE, learner, logits, generated, target, l1_weight=weight)
        if not isinstance(value, tuple | list) or len(value) != 3:
            raise CheckFailed(G_PIECE, "it should return three numbers, (total, gan, l1); "
                                       f"it returned {type(value).__name__}")
        yours.append(tuple(_scalar(G_PIECE, f"for {what}, {part}", v)
                           for part, v in zip(_PARTS, value, strict=True)))
        library.append(tuple(float(v) for v in reference.generator_loss(
            logits, generated, target, l1_weight=weight)))
    if not all(_close(a, b) for y, lib in zip(yours, library, strict=True)
               for a, b in zip(y, lib, strict=True)):
        if any(not np.isfinite(v) for y in yours for v in y):
            index = next(i for i, y in enumerate(yours) if not all(np.isfinite(y)))
            raise CheckFailed(G_PIECE, f"{_describe_g(index, yours, library)}: log(sigmoid(z)) "
                                       "becomes -inf once sigmoid(z) rounds to 0; compute the "
                                       "cross-entropy from the logits (from_logits=True)")
        cases = [case[1:] for case in _G_CASES]
        _diagnose(G_PIECE, yours, cases, library, list(_G_MISTAKES), _describe_g)
    passed(G_PIECE, f"total, gan and l1 equal the library's in all {len(_G_CASES)} cases, "
                    "for lambda 1, 10 and 100 and logits down to -200")


# ---------------------------------------------------------------------------------------------
# The mistakes these checks must catch, planted in notebook 04's solutions
# ---------------------------------------------------------------------------------------------

_NB = "04_combined_loss"
_d = planted_in(_NB, "discriminator_loss", "check_discriminator_loss")
_g = planted_in(_NB, "generator_loss", "check_generator_loss")


MISTAKES = (
    _d("D's loss not halved", "return 0.5 * (real_term + fake_term)",
       "return real_term + fake_term", "halve it"),
    _d("labels swapped: real pairs scored against 0, generated against 1",
       "real_term = bce(tf.ones_like(real_logits), real_logits)\n"
       "    fake_term = bce(tf.zeros_like(fake_logits), fake_logits)",
       "real_term = bce(tf.zeros_like(real_logits), real_logits)\n"
       "    fake_term = bce(tf.ones_like(fake_logits), fake_logits)", "the other way round"),
    _d("real pairs scored against 0 as well",
       "real_term = bce(tf.ones_like(real_logits), real_logits)",
       "real_term = bce(tf.zeros_like(real_logits), real_logits)", "against the label 1"),
    _d("BCE on sigmoid(logits) without from_logits",
       "real_term = bce(tf.ones_like(real_logits), real_logits)\n"
       "    fake_term = bce(tf.zeros_like(fake_logits), fake_logits)",
       "real_term = keras.losses.binary_crossentropy(tf.ones_like(real_logits), "
       "tf.sigmoid(real_logits))\n    real_term = tf.reduce_mean(real_term)\n"
       "    fake_term = tf.reduce_mean(keras.losses.binary_crossentropy("
       "tf.zeros_like(fake_logits), tf.sigmoid(fake_logits)))", "from_logits=True"),
    _d("the log of the sigmoid by hand",
       "real_term = bce(tf.ones_like(real_logits), real_logits)",
       "real_term = -tf.reduce_mean(tf.math.log(tf.sigmoid(real_logits)))", "-inf"),
    _d("the fake term forgotten", "return 0.5 * (real_term + fake_term)",
       "return 0.5 * real_term", "the fake term is missing"),
    _d("the sum over patches instead of the mean",
       "real_term = bce(tf.ones_like(real_logits), real_logits)\n"
       "    fake_term = bce(tf.zeros_like(fake_logits), fake_logits)",
       "real_term = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits("
       "tf.ones_like(real_logits), real_logits))\n"
       "    fake_term = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits("
       "tf.zeros_like(fake_logits), fake_logits))", "not the sum"),
    _g("lambda hard-coded to 100", "return gan + l1_weight * l1, gan, l1",
       "return gan + 100 * l1, gan, l1", "l1_weight is not used"),
    _g("the minimax G loss log(1 - D)",
       "gan = bce(tf.ones_like(fake_logits), fake_logits)",
       "gan = -bce(tf.zeros_like(fake_logits), fake_logits)", "minimax"),
    _g("G's fakes scored against 0", "gan = bce(tf.ones_like(fake_logits), fake_logits)",
       "gan = bce(tf.zeros_like(fake_logits), fake_logits)", "not 0"),
    _g("G's BCE on sigmoid(logits) without from_logits",
       "gan = bce(tf.ones_like(fake_logits), fake_logits)",
       "gan = tf.reduce_mean(keras.losses.binary_crossentropy(tf.ones_like(fake_logits), "
       "tf.sigmoid(fake_logits)))", "from_logits=True"),
    _g("L2 instead of L1", "l1 = tf.reduce_mean(tf.abs(target - generated))",
       "l1 = tf.reduce_mean(tf.square(target - generated))", "squares it"),
    _g("the L1 term not weighted", "return gan + l1_weight * l1, gan, l1",
       "return gan + l1, gan, l1", "multiply the L1 term by l1_weight"),
    _g("lambda on the wrong term", "return gan + l1_weight * l1, gan, l1",
       "return l1_weight * gan + l1, gan, l1", "instead of the L1 term"),
    _g("the parts returned in another order", "return gan + l1_weight * l1, gan, l1",
       "return gan, l1, gan + l1_weight * l1", "in this order"),
)
