"""Question bank, Q06..Q10: unstable gradients, weight initialization, learning rate."""

from __future__ import annotations

from deepdojo.answers.bank import Question

_GLOROT = ("Glorot, X., Bengio, Y. (2010). Understanding the Difficulty of Training Deep "
           "Feedforward Neural Networks. AISTATS.")  # fmt: skip
_HE = ("He, K., Zhang, X., Ren, S., Sun, J. (2015). Delving Deep into Rectifiers: Surpassing "
       "Human-Level Performance on ImageNet Classification. ICCV.")  # fmt: skip
_PASCANU = ("Pascanu, R., Mikolov, T., Bengio, Y. (2013). On the Difficulty of Training "
            "Recurrent Neural Networks. ICML.")  # fmt: skip
_GOYAL = ("Goyal, P. et al. (2017). Accurate, Large Minibatch SGD: Training ImageNet in 1 "
          "Hour. arXiv:1706.02677.")  # fmt: skip

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q06",
        title="Vanishing and exploding gradients",
        question="What are vanishing and exploding gradients?",
        answer=(
            "Backpropagation multiplies the gradient by one Jacobian per layer, or per time step "
            "in a recurrent network: the layer's weights times the derivative of its activation. "
            "When those factors typically shrink vectors, the gradient shrinks geometrically on "
            "its way back and the first layers barely change: that is vanishing. When they "
            "typically stretch them, it grows geometrically, giving huge updates, loss spikes and "
            "eventually NaN: that is exploding. For a recurrent step the Jacobian is diag(f'(a)) "
            "W, so its norm is at most the largest singular value of W times the bound on the "
            "activation's derivative (1 for tanh, 0.25 for the sigmoid); when that product is "
            "below one the gradient must vanish over long spans, and when the largest singular "
            "value is well above one it can explode, though nothing forces it to. The usual causes "
            "are saturating activations, a badly scaled initialization, sheer depth, and recurrent "
            "networks that reuse the same matrix at every step. You diagnose both by measuring "
            "gradient norms per layer: a first-to-last ratio many orders of magnitude below one "
            "means vanishing, while norms growing towards the input or non-finite values mean "
            "exploding."
        ),
        key_points=(
            "The gradient at layer 1 is a product of per-layer Jacobians; products of many "
            "factors drift to 0 or infinity.",
            "Sigmoid derivative <= 0.25, so deep sigmoid stacks vanish.",
            "Bound per step: ||J|| <= sigma_max(W) * max|f'|; below 1 it must vanish, "
            "sigma_max well above 1 makes explosion possible, not certain.",
            "Symptoms: early layers frozen (vanishing); loss spikes, NaN (exploding).",
            "Diagnose with per-layer gradient norms, not with the loss alone.",
        ),
        api=(
            "deepdojo.diagnose.GradientMonitor",
            "deepdojo.diagnose.ActivationMonitor",
            "deepdojo.diagnose.diagnose",
            "deepdojo.diagnose.plot_gradient_flow",
        ),
        references=(
            "Hochreiter, S. (1991). Untersuchungen zu dynamischen neuronalen Netzen. Diploma "
            "thesis, TU Munich.",
            "Bengio, Y., Simard, P., Frasconi, P. (1994). Learning Long-Term Dependencies with "
            "Gradient Descent is Difficult. IEEE Transactions on Neural Networks 5(2).",
            _GLOROT,
            _PASCANU,
        ),
    ),
    Question(
        id="Q07",
        title="Fixing unstable gradients",
        question="How do you fix vanishing and exploding gradients?",
        answer=(
            "For vanishing gradients, keep the signal's scale constant through depth: a "
            "variance-preserving initialization (Xavier for tanh, He for ReLU), non-saturating "
            "activations such as ReLU and its variants, residual connections that give the "
            "gradient an identity path around each block, and, over time steps, gated cells like "
            "the GRU and LSTM. Normalization layers keep pre-activations out of saturation, but "
            "they do not by themselves guarantee gradient flow: in a deep plain network with batch "
            "norm the gradients explode at initialization, so normalization works best together "
            "with skip connections. For exploding gradients, fix the cause first: an init scale "
            "that is too large, missing normalization or skips, or a learning rate that is too "
            "high, where warmup and decay help. Then clip the gradient by its global norm as a "
            "safety net, because that rescales all gradients together and keeps the update's "
            "direction, whereas clipping each value separately changes the direction. Clipping "
            "only shrinks large gradients and cannot enlarge tiny ones, so it does nothing for "
            "vanishing gradients. Weight regularization is an unreliable cure for explosions: a "
            "penalty mild enough not to hurt accuracy rarely bounds the Jacobians, and behind "
            "normalization layers it does not constrain the function at all. Whatever the remedy, "
            "check it by measuring per-layer gradient norms before and after instead of trusting "
            "the recipe."
        ),
        key_points=(
            "Vanishing: He/Xavier init, ReLU-family activations, skip connections, gated "
            "recurrent cells.",
            "Normalization prevents saturation but does not guarantee gradient flow: deep "
            "plain nets with batch norm explode at init.",
            "Exploding: fix the cause (init scale, missing norm or skips, learning rate, "
            "warmup), then clip by global norm, which keeps the direction.",
            "Clipping does not fix vanishing gradients; weight penalties are an unreliable "
            "cure for explosions.",
            "Verify every remedy with a gradient-flow measurement.",
        ),
        api=(
            "deepdojo.diagnose.Doctor",
            "deepdojo.train.ClipGrad",
            "deepdojo.nn.ResidualBlock",
            "deepdojo.nn.init.initialize",
            "deepdojo.train.schedules",
            "deepdojo.train.warmup_cosine",
        ),
        references=(
            _GLOROT,
            _HE,
            _PASCANU,
            "Ioffe, S., Szegedy, C. (2015). Batch Normalization: Accelerating Deep Network "
            "Training by Reducing Internal Covariate Shift. ICML.",
            "He, K., Zhang, X., Ren, S., Sun, J. (2016). Deep Residual Learning for Image "
            "Recognition. CVPR.",
            _GOYAL,
            "Yang, G., Pennington, J., Rao, V., Sohl-Dickstein, J., Schoenholz, S. S. (2019). "
            "A Mean Field Theory of Batch Normalization. ICLR.",
        ),
    ),
    Question(
        id="Q08",
        title="Weight initialization",
        question="What is weight initialization, and why does it matter?",
        answer=(
            "Weight initialization is the choice of the network's starting weights, and it sets "
            "the scale of activations going forward and of gradients going back before any "
            "learning happens. If every weight in a layer starts equal, for example at zero, every "
            "unit computes the same output and receives the same gradient, so the units stay "
            "identical forever and the layer behaves like a single unit. If the random scale is "
            "too small, activations and gradients shrink layer after layer; if it is too large, "
            "they blow up or saturate the activation. Either way training is slow or does not "
            "start. Good schemes pick the variance from the layer's fan-in and fan-out so that it "
            "stays roughly constant with depth, which makes deep networks converge faster and "
            "often to a better result. Normalization layers and residual connections reduce this "
            "sensitivity but do not remove it."
        ),
        key_points=(
            "Initialization sets the scale of forward signals and backward gradients.",
            "Equal weights never break symmetry: identical units stay identical.",
            "Too small vanishes, too large explodes or saturates, compounding with depth.",
            "Scale the variance by fan-in/fan-out to keep it constant across layers.",
            "Measured effect: epochs to reach a target accuracy, and final accuracy.",
        ),
        api=("deepdojo.nn.init.initialize", "deepdojo.nn.init.expected_std"),
        references=(
            "LeCun, Y., Bottou, L., Orr, G. B., Müller, K.-R. (1998). Efficient BackProp. In "
            "Neural Networks: Tricks of the Trade, Springer.",
            _GLOROT,
            _HE,
            "Sutskever, I., Martens, J., Dahl, G., Hinton, G. (2013). On the Importance of "
            "Initialization and Momentum in Deep Learning. ICML.",
            "Mishkin, D., Matas, J. (2016). All You Need Is a Good Init. ICLR.",
        ),
    ),
    Question(
        id="Q09",
        title="Initialization methods",
        question="Which weight initialization methods exist, and when do you use each?",
        answer=(
            "Zero or constant initialization is fine for biases but fails for hidden-layer "
            "weights, because units that start identical get identical gradients and never become "
            "different. Zeros are fine where no symmetry has to be broken: the output layer of a "
            "network whose hidden layers are random, and the last layer of each residual branch, "
            "so that every block starts as the identity, which helps very deep residual networks "
            "train. Plain random initialization with a fixed scale breaks symmetry but ignores "
            "layer size: with std 0.01 the signal dies out in a deep network, and with std 1 it "
            "explodes or saturates tanh. Xavier (Glorot) initialization uses variance 2 / (fan_in "
            "+ fan_out), derived for tanh-like and linear layers (a gain of 5/3 is often applied "
            "for tanh), and its uniform version draws from +-sqrt(6 / (fan_in + fan_out)). He "
            "(Kaiming) initialization uses variance 2 / fan_in, doubling it to make up for ReLU "
            "zeroing half of its inputs, with uniform bound sqrt(6 / fan_in); normal and uniform "
            "versions with the same variance behave alike. Orthogonal initialization draws a "
            "random orthogonal matrix, which (when square) preserves the norm of every vector and "
            "suits recurrent weights and deep linear stacks. PyTorch's own default for linear and "
            "convolution layers is neither He nor Xavier: a uniform draw with variance 1 / (3 "
            "fan_in), a third of LeCun's 1 / fan_in, so deep ReLU networks left at the default "
            "shrink their signal with depth and usually want an explicit He init."
        ),
        key_points=(
            "Zeros fail for hidden weights (symmetry never breaks); fine for biases, output "
            "layers and the last layer of residual branches.",
            "Xavier/Glorot: Var = 2 / (fan_in + fan_out), for tanh and linear layers (gain "
            "5/3 for deep tanh stacks).",
            "He/Kaiming: Var = 2 / fan_in, for ReLU; uniform and normal with equal variance "
            "behave alike.",
            "Orthogonal: W W^T = g^2 I, for recurrent weights and deep linear stacks.",
            "PyTorch's default (kaiming_uniform with a = sqrt(5)) gives Var = 1 / (3 fan_in): "
            "neither He nor Xavier.",
        ),
        api=(
            "deepdojo.nn.init.initialize",
            "deepdojo.nn.init.zero_residual_branches",
            "deepdojo.nn.init.expected_std",
            "deepdojo.models.init_weights",
        ),
        references=(
            "LeCun, Y., Bottou, L., Orr, G. B., Müller, K.-R. (1998). Efficient BackProp. In "
            "Neural Networks: Tricks of the Trade, Springer.",
            _GLOROT,
            _HE,
            "Saxe, A. M., McClelland, J. L., Ganguli, S. (2014). Exact Solutions to the "
            "Nonlinear Dynamics of Learning in Deep Linear Neural Networks. ICLR.",
            _GOYAL,
            "Zhang, H., Dauphin, Y. N., Ma, T. (2019). Fixup Initialization: Residual Learning "
            "Without Normalization. ICLR.",
            "PyTorch contributors (2026). torch.nn.Linear: weights drawn from "
            "U(-1/sqrt(in_features), 1/sqrt(in_features)). PyTorch documentation. "
            "https://pytorch.org/docs/stable/generated/torch.nn.Linear.html",
        ),
    ),
    Question(
        id="Q10",
        title="Learning rate",
        question="What role does the learning rate play in training?",
        answer=(
            "The learning rate is the step size of each update, theta <- theta - lr * gradient, "
            "and it is usually the hyperparameter that matters most. Too small and training crawls "
            "or stalls on plateaus; too large and the loss oscillates or diverges: on a quadratic, "
            "gradient descent diverges once the rate exceeds 2 divided by the largest curvature. "
            "Real networks do not simply stay below that limit: under full-batch gradient descent "
            "the sharpness rises until it hovers near 2 / lr, the edge of stability, where the "
            "loss still falls over the long run while oscillating in the short run, so the rate "
            "also decides how flat a region training ends in, and larger or noisier steps help "
            "leave sharp or poor minima. Adaptive methods such as Adagrad, RMSprop and Adam scale "
            "each parameter's step by its gradient history, which helps on badly conditioned "
            "problems and is the default for Transformers, but they still need a base rate. "
            "Whether Adam generalizes worse than well-tuned SGD with momentum has been debated: "
            "gaps reported on image classification shrink or vanish when both get the same tuning "
            "effort and Adam's weight decay is decoupled. Schedules change the rate over time: "
            "warmup at the start, then step, cosine or one-cycle decay to settle into a minimum. "
            "An LR range test, which raises the rate exponentially over a short run and watches "
            "the loss, finds a good starting value quickly."
        ),
        key_points=(
            "Update: theta <- theta - lr * grad; the rate sets the step size.",
            "Too small: slow; too large: oscillation or divergence (lr > 2 / max curvature on a "
            "quadratic).",
            "Edge of stability: in practice sharpness settles near 2 / lr while the loss "
            "keeps falling.",
            "Adaptive optimizers (Adagrad, RMSprop, Adam) rescale per parameter; the Adam vs "
            "SGD generalization gap largely closes with equal tuning.",
            "Schedules: warmup, then step/cosine/one-cycle decay; an LR range test picks the "
            "start.",
            "Interacts with batch size: larger batches tolerate larger rates.",
        ),
        api=(
            "deepdojo.train.lr_find",
            "deepdojo.train.make_optimizer",
            "deepdojo.train.schedules",
            "deepdojo.train.warmup_cosine",
        ),
        references=(
            "Kingma, D. P., Ba, J. (2015). Adam: A Method for Stochastic Optimization. ICLR.",
            "Smith, L. N. (2017). Cyclical Learning Rates for Training Neural Networks. WACV.",
            "Loshchilov, I., Hutter, F. (2017). SGDR: Stochastic Gradient Descent with Warm "
            "Restarts. ICLR.",
            "Wilson, A. C., Roelofs, R., Stern, M., Srebro, N., Recht, B. (2017). The Marginal "
            "Value of Adaptive Gradient Methods in Machine Learning. NeurIPS.",
            "Choi, D. et al. (2019). On Empirical Comparisons of Optimizers for Deep Learning. "
            "arXiv:1910.05446.",
            "Loshchilov, I., Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR.",
            "Cohen, J. M., Kaur, S., Li, Y., Kolter, J. Z., Talwalkar, A. (2021). Gradient "
            "Descent on Neural Networks Typically Occurs at the Edge of Stability. ICLR.",
        ),
    ),
)
