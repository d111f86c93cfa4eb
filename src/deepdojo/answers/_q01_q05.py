"""Question bank, Q01..Q05: GANs, imbalanced data, L1/L2 penalties, autoencoders."""

from __future__ import annotations

from deepdojo.answers.bank import Question

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q01",
        title="GANs and their uses",
        question="What are generative adversarial networks (GANs) used for?",
        answer=(
            "A GAN trains two networks against each other: a generator turns random noise, "
            "optionally with a condition such as a class label, a text prompt or an input image, "
            "into a sample, and a discriminator learns to tell real samples from generated ones. "
            "The generator improves by fooling the discriminator, so at equilibrium its samples "
            "follow the training distribution. GANs have been used to synthesise images, to "
            "generate from a label or a prompt, to translate one image domain into another (paired "
            "like pix2pix, or unpaired with a cycle-consistency loss), for super-resolution, style "
            "transfer, extra minority-class samples and candidate molecules. Since about 2021 "
            "diffusion models lead image and text-to-image synthesis, because they train stably "
            "and cover the modes of the data better. GANs remain in use where a single forward "
            "pass must produce the sample, as in real-time super-resolution, and as an adversarial "
            "loss inside other models: VQGAN's discriminator sharpens the autoencoder behind "
            "latent diffusion, and adversarial diffusion distillation turns a many-step diffusion "
            "model into a one- to four-step sampler. Training is unstable and can collapse onto a "
            "few modes, so samples must be measured: a feature-space distance such as FID, a "
            "classifier's accuracy on conditional samples, PSNR/SSIM against ground truth, or "
            "validity, uniqueness and novelty for molecules."
        ),
        key_points=(
            "Two-player game: generator G(z) versus discriminator D(x); G minimises what D "
            "maximises.",
            "Conditioning (label, text, an input image) turns a sampler into a controllable "
            "generator; unpaired translation needs a cycle-consistency loss.",
            "Diffusion models now lead image synthesis; GANs stay for one-step sampling, "
            "super-resolution and as adversarial losses (VQGAN, adversarial diffusion "
            "distillation).",
            "Failure modes: mode collapse, oscillation, a discriminator that wins too early.",
            "Judge samples by measurement (FID-style distance, conditional accuracy, PSNR/SSIM, "
            "molecule validity and novelty), never by a few hand-picked pictures.",
        ),
        api=(
            "deepdojo.models.gan",
            "deepdojo.models.gan.DCGANGenerator",
            "deepdojo.models.gan.UNetGenerator",
            "deepdojo.nn.losses.gan_loss",
            "deepdojo.nn.losses.gradient_penalty",
            "deepdojo.train.tasks.AdversarialTask",
            "deepdojo.metrics.frechet_distance",
            "deepdojo.metrics.psnr",
            "deepdojo.metrics.ssim",
        ),
        references=(
            "Goodfellow, I. et al. (2014). Generative Adversarial Nets. NeurIPS.",
            "Isola, P., Zhu, J.-Y., Zhou, T., Efros, A. A. (2017). Image-to-Image Translation "
            "with Conditional Adversarial Networks. CVPR.",
            "Zhu, J.-Y., Park, T., Isola, P., Efros, A. A. (2017). Unpaired Image-to-Image "
            "Translation using Cycle-Consistent Adversarial Networks. ICCV.",
            "Heusel, M. et al. (2017). GANs Trained by a Two Time-Scale Update Rule Converge to "
            "a Local Nash Equilibrium (FID). NeurIPS.",
            "Dhariwal, P., Nichol, A. (2021). Diffusion Models Beat GANs on Image Synthesis. "
            "NeurIPS.",
            "Esser, P., Rombach, R., Ommer, B. (2021). Taming Transformers for High-Resolution "
            "Image Synthesis (VQGAN). CVPR.",
            "Rombach, R. et al. (2022). High-Resolution Image Synthesis with Latent Diffusion "
            "Models. CVPR.",
            "Sauer, A., Lorenz, D., Blattmann, A., Rombach, R. (2024). Adversarial Diffusion "
            "Distillation. ECCV. https://arxiv.org/abs/2311.17042",
        ),
    ),
    Question(
        id="Q02",
        title="Imbalanced data",
        question="How would you handle a dataset where one class is much rarer than the others?",
        answer=(
            "First fix the measurement: with a 1:100 ratio a model that always predicts the "
            "majority class is 99% accurate and useless, so report minority-class F1, PR-AUC, "
            "balanced accuracy or MCC, and tune the decision threshold on validation data instead "
            "of using 0.5. On the data, oversample the minority (randomly or with SMOTE-style "
            "interpolation), undersample the majority, augment the minority class, or add features "
            "that separate the classes. On the loss, weight classes by inverse or effective "
            "frequency, use a focal loss that down-weights easy examples, or add the log class "
            "priors to the logits, which targets the balanced error directly. On the model, use "
            "ensembles trained on balanced resamples, transfer from a related task, or, when the "
            "minority is tiny, treat it as anomaly detection trained on the majority alone. Know "
            "what resampling and class weights do to a probabilistic classifier: they mostly shift "
            "its decision threshold, which threshold tuning does more cheaply, and they leave its "
            "probabilities miscalibrated, overestimating the minority. So when probabilities "
            "matter, train on the true distribution and move the threshold, or recalibrate "
            "afterwards. Resample only the training split, and compare techniques on the same "
            "splits and seeds, because none wins everywhere."
        ),
        key_points=(
            "Accuracy misleads; use PR-AUC, minority F1, balanced accuracy, MCC.",
            "Threshold tuning on validation is cheap and often the biggest single gain.",
            "Resampling and class weights mostly move the threshold and hurt calibration; "
            "check calibration (ECE) when probabilities are used.",
            "Losses: class weights, focal, class-balanced, logit adjustment by log priors.",
            "Ensembles of balanced resamples, transfer learning and anomaly-detection framing "
            "help when the minority is very small; resample the training split only.",
        ),
        api=(
            "deepdojo.data.imbalance.make_imbalanced",
            "deepdojo.data.imbalance.BalancedSampler",
            "deepdojo.data.imbalance.ResampledDataset",
            "deepdojo.data.imbalance.class_weights",
            "deepdojo.data.imbalance_models.BalancedBaggingEnsemble",
            "deepdojo.nn.losses.FocalLoss",
            "deepdojo.nn.losses.ClassBalancedLoss",
            "deepdojo.nn.losses.LogitAdjustedLoss",
            "deepdojo.metrics.classification_report",
            "deepdojo.metrics.tune_threshold",
            "deepdojo.metrics.expected_calibration_error",
            "deepdojo.anomaly.AutoEncoderDetector",
        ),
        references=(
            "Chawla, N. V., Bowyer, K. W., Hall, L. O., Kegelmeyer, W. P. (2002). SMOTE: "
            "Synthetic Minority Over-sampling Technique. JAIR 16.",
            "Saito, T., Rehmsmeier, M. (2015). The Precision-Recall Plot Is More Informative "
            "than the ROC Plot When Evaluating Binary Classifiers on Imbalanced Datasets. "
            "PLoS ONE.",
            "Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. (2017). Focal Loss for "
            "Dense Object Detection. ICCV.",
            "Cui, Y., Jia, M., Lin, T.-Y., Song, Y., Belongie, S. (2019). Class-Balanced Loss "
            "Based on Effective Number of Samples. CVPR.",
            "Menon, A. K. et al. (2021). Long-tail Learning via Logit Adjustment. ICLR.",
            "van den Goorbergh, R., van Smeden, M., Timmerman, D., Van Calster, B. (2022). The "
            "harm of class imbalance corrections for risk prediction models. JAMIA 29(9).",
        ),
    ),
    Question(
        id="Q03",
        title="L1 and L2 regularization",
        question="What are L1 and L2 regularization?",
        answer=(
            "Both add a penalty on the size of the weights to the training loss: L1 adds lambda "
            "times the sum of absolute values, L2 adds lambda times the sum of squares. Their "
            "gradients explain their behaviour. L1 contributes lambda times sign(w), the same push "
            "towards zero whatever the weight's size, so its optimum sets weights that matter "
            "little to exactly zero and the model becomes sparse; L2 contributes 2 lambda w, a "
            "pull proportional to the weight, so weights shrink smoothly but rarely reach zero. "
            "Plain SGD on the L1 subgradient does not reach that optimum: a small weight is pushed "
            "back and forth across zero by steps of the learning rate times lambda, so it only "
            "hovers near zero, and exact zeros need a proximal step after each update, the soft "
            "threshold w <- sign(w) max(|w| - lr lambda, 0). Elastic net mixes the two, and the "
            "penalty is normally applied to weights only, not to biases or normalization "
            "parameters. With plain SGD an L2 penalty is the same as weight decay, but with Adam "
            "it is not, because the adaptive scaling also rescales the penalty's gradient; AdamW "
            "therefore applies weight decay directly to the weights, decoupled from the gradient."
        ),
        key_points=(
            "L1: lambda * sum |w|, subgradient lambda * sign(w); its optimum is sparse.",
            "SGD on the L1 subgradient leaves weights near zero; a proximal (soft-threshold) "
            "step gives exact zeros.",
            "L2: lambda * sum w^2, gradient 2 * lambda * w, shrinks proportionally.",
            "Elastic net = a weighted mix; exclude biases and normalization parameters.",
            "L2 penalty equals weight decay for SGD but not for Adam; AdamW decouples it.",
            "Bayesian reading: L2 is a Gaussian prior on the weights, L1 a Laplace prior.",
        ),
        api=(
            "deepdojo.nn.regularization.l1_penalty",
            "deepdojo.nn.regularization.l2_penalty",
            "deepdojo.nn.regularization.prox_l1_",
            "deepdojo.nn.regularization.Regularizer",
            "deepdojo.train.make_optimizer",
        ),
        references=(
            "Tibshirani, R. (1996). Regression Shrinkage and Selection via the Lasso. Journal "
            "of the Royal Statistical Society B 58(1).",
            "Zou, H., Hastie, T. (2005). Regularization and Variable Selection via the Elastic "
            "Net. Journal of the Royal Statistical Society B 67(2).",
            "Tsuruoka, Y., Tsujii, J., Ananiadou, S. (2009). Stochastic Gradient Descent "
            "Training for L1-regularized Log-linear Models with Cumulative Penalty. ACL.",
            "Parikh, N., Boyd, S. (2014). Proximal Algorithms. Foundations and Trends in "
            "Optimization 1(3).",
            "Loshchilov, I., Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR.",
        ),
    ),
    Question(
        id="Q04",
        title="Why penalize weights",
        question="Why are L1 and L2 penalties used when training deep networks?",
        answer=(
            "A deep network usually has far more parameters than training examples, enough to fit "
            "the training set exactly, and the classical reason for a penalty is to limit that "
            "capacity so that the model fits less noise and does better on new data. Modern "
            "networks complicate this story: they can memorize completely random labels even with "
            "weight decay switched on, yet the same architectures generalize well on real labels "
            "with no explicit penalty at all, so a penalty is neither necessary nor sufficient for "
            "generalization. It still helps in measurable ways: L2 or decoupled weight decay "
            "usually brings a small, consistent gain in test accuracy, and L1 pushes many weights "
            "to zero, which acts as feature selection and makes the model easier to compress or "
            "inspect. In a layer followed by batch or layer normalization the output does not "
            "depend on the scale of its weights, so weight decay cannot limit capacity there; what "
            "it does is keep the weight norm small, which raises the effective learning rate of "
            "those weights. The strength is a hyperparameter with a sweet spot, chosen on "
            "validation data, and it works alongside data augmentation, dropout and early "
            "stopping. To judge a penalty, measure the gap between training and test error as its "
            "strength changes, at a point where every setting has converged."
        ),
        key_points=(
            "Classical view: penalties restrict capacity and reduce overfitting.",
            "Networks memorize random labels even with weight decay; they generalize without "
            "penalties too (Zhang et al. 2017).",
            "With normalization layers, weight decay mainly raises the effective learning rate.",
            "L2 gives small consistent gains; L1 gives sparsity; pick the strength on "
            "validation data.",
            "Measure the train/test gap against penalty strength, at convergence.",
        ),
        api=(
            "deepdojo.nn.regularization.Regularizer",
            "deepdojo.nn.regularization.prox_l1_",
            "deepdojo.train.make_optimizer",
            "deepdojo.train.Trainer",
        ),
        references=(
            "Krogh, A., Hertz, J. A. (1992). A Simple Weight Decay Can Improve Generalization. "
            "NeurIPS.",
            "Zhang, C., Bengio, S., Hardt, M., Recht, B., Vinyals, O. (2017). Understanding "
            "Deep Learning Requires Rethinking Generalization. ICLR.",
            "van Laarhoven, T. (2017). L2 Regularization versus Batch and Weight "
            "Normalization. arXiv:1706.05350.",
            "Zhang, G., Wang, C., Xu, B., Grosse, R. (2019). Three Mechanisms of Weight Decay "
            "Regularization. ICLR.",
            "Loshchilov, I., Hutter, F. (2019). Decoupled Weight Decay Regularization. ICLR.",
        ),
    ),
    Question(
        id="Q05",
        title="Autoencoders and their uses",
        question="What are autoencoders used for?",
        answer=(
            "An autoencoder is an encoder that compresses the input into a code and a decoder that "
            "rebuilds the input from it, trained on reconstruction error alone, so it needs no "
            "labels. A bottleneck, added noise, masking or a sparsity penalty stops it from "
            "learning the identity, so the code has to capture the structure of the data. That "
            "code serves as non-linear dimensionality reduction (a linear autoencoder with squared "
            "error spans the same subspace as PCA) and as features for another model; masked "
            "autoencoders, which hide most image patches and rebuild them, are a standard way to "
            "pretrain vision transformers. A denoising autoencoder maps corrupted inputs to clean "
            "ones, which also covers imputing missing values, and a variational autoencoder pulls "
            "the code towards a prior so that new samples can be drawn. Reconstruction error is a "
            "common anomaly score but not a safe one: an autoencoder often generalizes well enough "
            "to rebuild anomalies too, which memory-augmented designs try to prevent, so it must "
            "be compared with a simple baseline such as an isolation forest. Autoencoders also "
            "work inside larger systems: the VAE or VQ encoder of a latent diffusion model "
            "compresses images before generation, and sparse autoencoders trained on a language "
            "model's activations are used to find interpretable features. Recommenders rebuild a "
            "user's full ratings vector from the few known ones, and drug discovery uses SMILES "
            "autoencoders to get a continuous space of molecules to search."
        ),
        key_points=(
            "Encoder -> code -> decoder, trained on reconstruction; a bottleneck, noise, "
            "masking, sparsity or a prior stops the identity map.",
            "Uses: dimensionality reduction, features (masked-autoencoder pretraining), "
            "denoising, imputation, VAE sampling.",
            "Anomaly scores from reconstruction error can fail: anomalies may reconstruct well "
            "(MemAE); compare with a baseline.",
            "Inside other models: VAE/VQ encoders of latent diffusion; sparse autoencoders for "
            "interpretability.",
            "Recommenders (AutoRec-style) and molecule design reuse the same idea.",
        ),
        api=(
            "deepdojo.models.autoencoder.MLPAutoEncoder",
            "deepdojo.models.autoencoder.DenoisingAutoEncoder",
            "deepdojo.models.autoencoder.ConvAutoEncoder",
            "deepdojo.models.autoencoder.VAE",
            "deepdojo.models.autoencoder.MaskedAutoEncoder",
            "deepdojo.models.autoencoder.AutoRec",
            "deepdojo.models.autoencoder.SmilesAutoEncoder",
            "deepdojo.anomaly.AutoEncoderDetector",
            "deepdojo.impute.AutoEncoderImputer",
            "deepdojo.train.tasks.ReconstructionTask",
            "deepdojo.nn.losses.vae_loss",
        ),
        references=(
            "Baldi, P., Hornik, K. (1989). Neural Networks and Principal Component Analysis: "
            "Learning from Examples Without Local Minima. Neural Networks 2(1).",
            "Vincent, P., Larochelle, H., Bengio, Y., Manzagol, P.-A. (2008). Extracting and "
            "Composing Robust Features with Denoising Autoencoders. ICML.",
            "Kingma, D. P., Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.",
            "Sedhain, S., Menon, A. K., Sanner, S., Xie, L. (2015). AutoRec: Autoencoders Meet "
            "Collaborative Filtering. WWW.",
            "Gómez-Bombarelli, R. et al. (2018). Automatic Chemical Design Using a Data-Driven "
            "Continuous Representation of Molecules. ACS Central Science 4(2).",
            "Gong, D. et al. (2019). Memorizing Normality to Detect Anomaly: Memory-augmented "
            "Deep Autoencoder for Unsupervised Anomaly Detection. ICCV.",
            "He, K. et al. (2022). Masked Autoencoders Are Scalable Vision Learners. CVPR.",
            "Rombach, R. et al. (2022). High-Resolution Image Synthesis with Latent Diffusion "
            "Models. CVPR.",
            "Cunningham, H. et al. (2024). Sparse Autoencoders Find Highly Interpretable "
            "Features in Language Models. ICLR.",
        ),
    ),
)
