"""Question bank, Q01..Q10: generative models, imbalance, regularization, gradients, init, LR."""

from __future__ import annotations

from deepdojo.answers.bank import Question

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q01",
        title="GANs and their uses",
        question="What are generative adversarial networks (GANs) used for?",
        answer=(
            "A GAN trains two networks against each other: a generator turns random noise, "
            "optionally with a condition such as a class label or a text prompt, into a sample, "
            "and a discriminator learns to tell real samples from generated ones. The generator "
            "improves by fooling the discriminator, so at equilibrium its samples look like they "
            "came from the training data. That makes GANs useful wherever new, realistic data is "
            "needed: synthesising images, generating from a label or a prompt, translating one "
            "image domain into another (paired like pix2pix, or unpaired with a cycle-consistency "
            "loss), super-resolution with sharper textures than pixel losses give, style transfer, "
            "extra minority-class samples for data augmentation, and candidate molecules in drug "
            "discovery. They are notoriously unstable to train and can collapse onto a few modes, "
            "so their output has to be measured: a feature-space distance such as FID, a "
            "classifier's accuracy on conditional samples, PSNR/SSIM against ground truth, or "
            "validity, uniqueness and novelty for molecules."
        ),
        key_points=(
            "Two-player game: generator G(z) versus discriminator D(x); G minimises what D "
            "maximises.",
            "Conditioning (label, text, an input image) turns a sampler into a controllable "
            "generator: text-to-image, image-to-image, super-resolution.",
            "Unpaired translation needs a cycle-consistency loss: translating there and back "
            "must return the input.",
            "Failure modes: mode collapse, oscillation, a discriminator that wins too early.",
            "Judge samples by measurement (FID-style distance, conditional accuracy, PSNR/SSIM, "
            "molecule validity and novelty), never by a few hand-picked pictures.",
        ),
        api=("deepdojo.models.gan",),
    ),
    Question(
        id="Q02",
        title="Imbalanced data",
        question="How would you handle a dataset where one class is much rarer than the others?",
        answer=(
            "First fix the measurement: with a 1:100 ratio a model that always predicts the "
            "majority class is 99% accurate and useless, so report minority-class F1, PR-AUC, "
            "balanced accuracy or MCC, and tune the decision threshold on validation data instead "
            "of using 0.5. Then there are three places to act. On the data: oversample the "
            "minority (randomly or with SMOTE-style interpolation), undersample the majority, "
            "augment the minority class, or add features that separate the classes. On the loss: "
            "weight classes by inverse or effective frequency, or use a focal loss that "
            "down-weights easy examples. On the model: ensembles trained on balanced resamples, "
            "transfer from a related balanced task, or, when the minority is tiny, treat it as "
            "anomaly detection trained on the majority alone. Resample only the training split, "
            "and compare techniques on the same splits and seeds, because none wins everywhere."
        ),
        key_points=(
            "Accuracy misleads; use PR-AUC, minority F1, balanced accuracy, MCC.",
            "Threshold tuning on validation is cheap and often the biggest single gain.",
            "Resampling (over, under, SMOTE) touches only the training split.",
            "Class weights and focal loss change the loss instead of the data.",
            "Ensembles of balanced resamples, transfer learning and anomaly-detection framing "
            "help when the minority is very small.",
        ),
        api=(
            "deepdojo.data.imbalance.make_imbalanced",
            "deepdojo.data.imbalance.BalancedSampler",
            "deepdojo.data.imbalance.ResampledDataset",
            "deepdojo.data.imbalance.class_weights",
            "deepdojo.nn.losses.FocalLoss",
            "deepdojo.metrics.classification_report",
            "deepdojo.metrics.tune_threshold",
        ),
    ),
    Question(
        id="Q03",
        title="L1 and L2 regularization",
        question="What are L1 and L2 regularization?",
        answer=(
            "Both add a penalty on the size of the weights to the training loss. L1 adds "
            "lambda times the sum of absolute values, L2 adds lambda times the sum of squares. "
            "Their gradients differ in a way that explains their behaviour: L1 contributes "
            "lambda times sign(w), the same push towards zero whatever the weight's size, so "
            "weights that matter little end at or very near zero and the model becomes "
            "sparse; L2 contributes 2 lambda w, a pull proportional to the weight, so weights "
            "shrink smoothly but rarely reach zero. Elastic net mixes "
            "the two. The penalty is normally applied to weights only, not to biases or "
            "normalization parameters. With plain SGD an L2 penalty is the same as weight decay, "
            "but with Adam it is not, because the adaptive scaling also rescales the penalty's "
            "gradient; AdamW therefore applies weight decay directly to the weights, decoupled "
            "from the gradient."
        ),
        key_points=(
            "L1: lambda * sum |w|, gradient lambda * sign(w), drives weights to (near) zero: "
            "sparsity.",
            "L2: lambda * sum w^2, gradient 2 * lambda * w, shrinks proportionally.",
            "Elastic net = a weighted mix of both.",
            "Exclude biases and normalization parameters by default.",
            "L2 penalty equals weight decay for SGD but not for Adam; AdamW decouples it.",
            "Bayesian reading: L2 is a Gaussian prior on the weights, L1 a Laplace prior.",
        ),
        api=(
            "deepdojo.nn.regularization.l1_penalty",
            "deepdojo.nn.regularization.l2_penalty",
            "deepdojo.nn.regularization.Regularizer",
            "deepdojo.train.make_optimizer",
        ),
    ),
    Question(
        id="Q04",
        title="Why penalize weights",
        question="Why are L1 and L2 penalties used when training deep networks?",
        answer=(
            "A deep network usually has far more parameters than training examples, so it can "
            "fit the training set, noise included, and do worse on new data; the penalty limits "
            "how far it can go. L2 keeps weights small, which makes the learned function smoother "
            "and less sensitive to small input changes, and it usually narrows the gap between "
            "training and test accuracy. L1 pushes many weights to zero, which acts as feature "
            "selection and makes the model easier to compress or inspect. The strength is a "
            "hyperparameter with a sweet spot: too weak does nothing, too strong underfits, so it "
            "is chosen on validation data. In practice deep learning relies mostly on L2 or "
            "decoupled weight decay, alongside dropout, data augmentation and early stopping."
        ),
        key_points=(
            "Over-parameterized networks memorize; penalties restrict effective capacity.",
            "Measure the train/test gap as a function of penalty strength.",
            "L2 shrinks weights smoothly; L1 gives many near-zero weights.",
            "Too strong a penalty underfits: pick the strength on validation data.",
            "Used together with dropout, augmentation and early stopping.",
        ),
        api=(
            "deepdojo.nn.regularization.Regularizer",
            "deepdojo.train.Trainer",
        ),
    ),
    Question(
        id="Q05",
        title="Autoencoders and their uses",
        question="What are autoencoders used for?",
        answer=(
            "An autoencoder is an encoder that compresses the input into a small code and a "
            "decoder that rebuilds the input from that code, trained only on reconstruction "
            "error, so it needs no labels. A bottleneck, added noise or a sparsity penalty stops "
            "it from learning the identity, so the code has to capture the structure of the data. "
            "That code serves as non-linear dimensionality reduction (a linear autoencoder with "
            "squared error spans the same subspace as PCA) and as learned features for a "
            "downstream classifier. Reconstruction error doubles as an anomaly score, because "
            "unusual inputs rebuild badly. A denoising autoencoder learns to map corrupted inputs "
            "to clean ones, which also covers imputing missing values; a variational autoencoder "
            "regularizes the code towards a prior so that new samples can be generated. "
            "Recommenders use them to reconstruct a user's full ratings vector from the few "
            "known ratings, and drug discovery uses autoencoders over SMILES strings to get a "
            "continuous space of molecules to search."
        ),
        key_points=(
            "Encoder -> bottleneck code -> decoder, trained on reconstruction loss.",
            "Something must stop the identity map: bottleneck, noise, sparsity or a prior.",
            "Uses: dimensionality reduction, features, anomaly scores, denoising, imputation.",
            "VAE: the code follows a prior, so sampling it generates new data.",
            "Recommenders (AutoRec-style) and molecule design reuse the same idea.",
        ),
        api=("deepdojo.models.autoencoder",),
    ),
    Question(
        id="Q06",
        title="Vanishing and exploding gradients",
        question="What are vanishing and exploding gradients?",
        answer=(
            "Backpropagation multiplies the gradient by one Jacobian per layer (or per time step "
            "in a recurrent network): the layer's weights times the derivative of its activation. "
            "When those factors are typically smaller than one the gradient shrinks geometrically "
            "on its way back, so the first layers barely change: that is vanishing. When they are "
            "larger than one it grows geometrically, giving huge updates, loss spikes and "
            "eventually NaN: that is exploding. The usual causes are saturating activations (the "
            "sigmoid's derivative is at most 0.25), a badly scaled initialization, sheer depth, "
            "and recurrent networks that apply the same weight matrix at every step. You diagnose "
            "both by measuring gradient norms per layer: a first-to-last ratio many orders of "
            "magnitude below one means vanishing, norms growing towards the input or non-finite "
            "values mean exploding."
        ),
        key_points=(
            "The gradient at layer 1 is a product of per-layer factors; products of many "
            "numbers drift to 0 or infinity.",
            "Sigmoid derivative <= 0.25, so deep sigmoid stacks vanish.",
            "Recurrent nets multiply by the same matrix each step: its spectral radius decides.",
            "Symptoms: early layers frozen (vanishing); loss spikes, NaN (exploding).",
            "Diagnose with per-layer gradient norms, not with the loss alone.",
        ),
        api=(
            "deepdojo.diagnose.GradientMonitor",
            "deepdojo.diagnose.ActivationMonitor",
            "deepdojo.diagnose.diagnose",
        ),
    ),
    Question(
        id="Q07",
        title="Fixing unstable gradients",
        question="How do you fix vanishing and exploding gradients?",
        answer=(
            "For vanishing gradients, keep the signal's scale constant through depth: a "
            "variance-preserving initialization (Xavier for tanh, He for ReLU), non-saturating "
            "activations such as ReLU and its variants, batch or layer normalization, and "
            "residual connections that give the gradient an identity path around each block; in "
            "recurrent networks, gated cells like the GRU and LSTM do the same job over time. For "
            "exploding gradients, limit the step: clip the gradient by its global norm (or by "
            "value), lower the learning rate or use warmup and decay, add weight regularization, "
            "or normalize the gradient. Clipping only shrinks large gradients; it cannot enlarge "
            "tiny ones, so it does not cure vanishing. Whatever the remedy, check it by "
            "measuring per-layer gradient norms before and after instead of trusting the recipe."
        ),
        key_points=(
            "Vanishing: He/Xavier init, ReLU-family activations, batch norm, skip connections, "
            "gated recurrent cells.",
            "Exploding: gradient clipping, smaller learning rate or warmup/decay, weight "
            "regularization, gradient normalization.",
            "Clipping does not fix vanishing gradients.",
            "Verify every remedy with a gradient-flow measurement.",
        ),
        api=(
            "deepdojo.diagnose.Doctor",
            "deepdojo.train.ClipGrad",
            "deepdojo.nn.ResidualBlock",
            "deepdojo.nn.init.initialize",
            "deepdojo.train.schedules",
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
            "start. Good schemes pick the variance from the layer's fan-in and fan-out so that "
            "it stays roughly constant with depth, which makes deep networks converge faster and "
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
        api=("deepdojo.nn.init.initialize",),
    ),
    Question(
        id="Q09",
        title="Initialization methods",
        question="Which weight initialization methods exist, and when do you use each?",
        answer=(
            "Zero or constant initialization is fine for biases but fails for weights, because "
            "identical units never become different. Plain random initialization from a normal "
            "or uniform distribution with a fixed scale breaks the symmetry but ignores layer "
            "size: with std 0.01 the signal dies out in a deep network, and with std 1 it "
            "explodes or saturates tanh. Xavier (Glorot) initialization uses variance "
            "2 / (fan_in + fan_out), derived for tanh-like and linear layers (a gain of 5/3 is "
            "often applied for tanh to make up for its squashing); the uniform version draws "
            "from +-sqrt(6 / (fan_in + fan_out)). He (Kaiming) initialization uses "
            "variance 2 / fan_in, doubling the variance to make up for ReLU zeroing half of its "
            "inputs; the uniform bound is sqrt(6 / fan_in). Normal and uniform versions with the "
            "same variance behave alike. Other options include orthogonal matrices for recurrent "
            "weights and zero-initializing the last layer of each residual branch so that every "
            "block starts as the identity."
        ),
        key_points=(
            "Zeros: symmetry never breaks (fine for biases only).",
            "Fixed-scale random N(0, sigma^2) or U(-a, a): ignores fan-in, vanishes or explodes "
            "with depth.",
            "Xavier/Glorot: Var = 2 / (fan_in + fan_out), for tanh and linear layers; deep tanh "
            "stacks also need the tanh gain 5/3, or the signal still fades with depth.",
            "He/Kaiming: Var = 2 / fan_in, for ReLU.",
            "Uniform vs normal: same variance, similar behaviour.",
            "Also: orthogonal (RNNs), zero-init of residual branches.",
        ),
        api=("deepdojo.nn.init.initialize",),
    ),
    Question(
        id="Q10",
        title="Learning rate",
        question="What role does the learning rate play in training?",
        answer=(
            "The learning rate is the step size of each update, theta <- theta - lr * gradient, "
            "and it is usually the hyperparameter that matters most. Too small and training "
            "crawls or stalls on plateaus; too large and the loss oscillates or diverges: on a "
            "quadratic, gradient descent diverges once the rate exceeds 2 divided by the largest "
            "curvature. A good rate is close to the largest one that is still stable, and the "
            "noise of large steps can help the optimizer leave sharp or poor minima. Adaptive "
            "methods such as Adagrad, RMSprop and Adam scale each parameter's step by its "
            "gradient history, which helps on badly conditioned problems but still needs a base "
            "rate. Schedules change the rate over time: warmup at the start, then step, cosine or "
            "one-cycle decay to settle into a minimum. An LR range test, which raises the rate "
            "exponentially over a short run and watches the loss, finds a good starting value "
            "quickly."
        ),
        key_points=(
            "Update: theta <- theta - lr * grad; the rate sets the step size.",
            "Too small: slow; too large: oscillation or divergence (lr > 2 / max curvature on a "
            "quadratic).",
            "Adaptive optimizers (Adagrad, RMSprop, Adam) rescale per parameter.",
            "Schedules: warmup, then step/cosine/one-cycle decay.",
            "LR range test: sweep exponentially, pick a rate below where the loss blows up.",
            "Interacts with batch size: larger batches tolerate larger rates.",
        ),
        api=(
            "deepdojo.train.lr_find",
            "deepdojo.train.make_optimizer",
            "deepdojo.train.schedules",
        ),
    ),
)
