"""Adam with TensorFlow's fused update kernel: the same maths as Keras' Adam, fewer passes.

Keras 3's Adam updates each variable with about a dozen separate element-wise ops (m, v,
their square root, the division, three assignments), each a full pass over memory. For the
paper's 54 M + 2.8 M parameters that is gigabytes of memory traffic per step, which on a CPU
costs as much as a sizeable share of the convolutions. TensorFlow's `ResourceApplyAdam`
does the same update in one pass per variable:

    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
    m <- m + (g - m) * (1 - beta1)
    v <- v + (g * g - v) * (1 - beta2)
    var <- var - lr_t * m / (sqrt(v) + epsilon)

which is exactly Keras' `Adam.update_step` (epsilon outside the square root, as Keras puts
it). Anything the fused kernel does not cover (AMSGrad, sparse gradients, non-TensorFlow
variables) falls back to Keras' own update. Clipping, weight decay, EMA and loss scaling
stay Keras' (they live outside `update_step`).
"""

from __future__ import annotations

from pix2pix_lib.tf_quiet import keras, tf


@keras.saving.register_keras_serializable(package="pix2pix")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose per-variable update is one fused TensorFlow kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices) \
                or not hasattr(variable, "handle"):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
