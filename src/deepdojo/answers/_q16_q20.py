"""Question bank, Q16..Q20: self-supervised learning, attention, the GRU."""

from __future__ import annotations

from deepdojo.answers.bank import Question

_VASWANI = "Vaswani, A. et al. (2017). Attention Is All You Need. NeurIPS."
_BAHDANAU = ("Bahdanau, D., Cho, K., Bengio, Y. (2015). Neural Machine Translation by Jointly "
             "Learning to Align and Translate. ICLR.")  # fmt: skip
_CHO = ("Cho, K. et al. (2014). Learning Phrase Representations using RNN Encoder-Decoder for "
        "Statistical Machine Translation. EMNLP.")  # fmt: skip
_CHUNG = ("Chung, J., Gulcehre, C., Cho, K., Bengio, Y. (2014). Empirical Evaluation of "
          "Gated Recurrent Neural Networks on Sequence Modeling. NeurIPS Deep Learning "
          "Workshop.")  # fmt: skip
_GRU_DOCS = ("PyTorch contributors (2026). torch.nn.GRU. PyTorch documentation. "
             "https://pytorch.org/docs/stable/generated/torch.nn.GRU.html")  # fmt: skip

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q16",
        title="Self-supervised learning",
        question="What is self-supervised learning?",
        answer=(
            "Self-supervised learning trains on unlabelled data by inventing a task whose labels "
            "come from the data itself, then reuses the learned representation for the task you "
            "care about. Contrastive methods such as SimCLR make two augmented views of each input "
            "and train the encoder to map them close together and away from the other inputs in "
            "the batch. BYOL and DINO need no negatives: a student network predicts the output of "
            "a teacher whose weights are a moving average of the student's, and a stop-gradient, "
            "which treats the teacher's output as a fixed target so that no gradient flows into "
            "it, together with an asymmetry (BYOL's extra predictor, DINO's centering and "
            "sharpening) keeps the two from collapsing onto a constant. Masked prediction is the "
            "other main family: BERT masks words, masked autoencoders hide image patches, and a "
            "language model's next-token prediction is self-supervision too. Early pretext tasks "
            "such as predicting an image's rotation or solving a jigsaw of shuffled patches are "
            "mostly of historical interest now, because these methods learn far better features. A "
            "representation is judged with a linear probe, a single linear classifier trained on "
            "the frozen features, and by fine-tuning with few labels; the gain over a purely "
            "supervised model is largest when labels are scarce. The augmentations decide which "
            "invariances are learned."
        ),
        key_points=(
            "Labels are made from the data: a pretext task.",
            "Contrastive (SimCLR) uses negatives; BYOL and DINO use a moving-average teacher "
            "and a stop-gradient instead.",
            "Masked prediction (BERT, masked autoencoders) and next-token prediction; rotation "
            "and jigsaw tasks are historical.",
            "Linear probe: a linear classifier on frozen features; plus few-label fine-tuning.",
            "Stop-gradient: the target is treated as a constant, so no gradient flows into it; "
            "it helps avoid representation collapse.",
            "VICReg prevents collapse with variance and covariance terms instead; watch the "
            "embedding's per-dimension std and effective rank.",
        ),
        api=(
            "deepdojo.models.ssl.SimCLR",
            "deepdojo.models.ssl.rotate_batch",
            "deepdojo.ssl.linear_probe",
            "deepdojo.ssl.fine_tune",
            "deepdojo.ssl.VICRegTask",
            "deepdojo.nn.losses.nt_xent",
            "deepdojo.nn.losses.vicreg_loss",
            "deepdojo.diagnose.check_collapse",
            "deepdojo.train.tasks.ContrastiveTask",
            "deepdojo.data.augment.two_views",
            "deepdojo.models.autoencoder.MaskedAutoEncoder",
            "deepdojo.diagnose.effective_rank",
        ),
        references=(
            "Noroozi, M., Favaro, P. (2016). Unsupervised Learning of Visual Representations by "
            "Solving Jigsaw Puzzles. ECCV.",
            "Gidaris, S., Singh, P., Komodakis, N. (2018). Unsupervised Representation Learning "
            "by Predicting Image Rotations. ICLR.",
            "Devlin, J., Chang, M.-W., Lee, K., Toutanova, K. (2019). BERT: Pre-training of "
            "Deep Bidirectional Transformers for Language Understanding. NAACL.",
            "Chen, T., Kornblith, S., Norouzi, M., Hinton, G. (2020). A Simple Framework for "
            "Contrastive Learning of Visual Representations. ICML.",
            "Grill, J.-B. et al. (2020). Bootstrap Your Own Latent: A New Approach to "
            "Self-Supervised Learning. NeurIPS.",
            "Chen, X., He, K. (2021). Exploring Simple Siamese Representation Learning. CVPR.",
            "Caron, M. et al. (2021). Emerging Properties in Self-Supervised Vision "
            "Transformers (DINO). ICCV.",
            "Bardes, A., Ponce, J., LeCun, Y. (2022). VICReg: Variance-Invariance-Covariance "
            "Regularization for Self-Supervised Learning. ICLR.",
            "He, K. et al. (2022). Masked Autoencoders Are Scalable Vision Learners. CVPR.",
        ),
    ),
    Question(
        id="Q17",
        title="Attention in Transformers",
        question="What role does attention play in Transformers?",
        answer=(
            "In a Transformer, attention is the only place where positions exchange information. "
            "In self-attention every token builds a query, compares it with the keys of all "
            "tokens, and takes a weighted mix of their values, softmax(Q K^T / sqrt(d)) V, where "
            "the square root keeps the softmax from saturating; several heads run in parallel on "
            "separate projections so that each can follow a different relation. The encoder uses "
            "full self-attention, and the decoder uses causally masked self-attention plus "
            "cross-attention to the encoder's outputs. Compared with a recurrent network, any two "
            "positions are one step apart instead of many, and the whole sequence is processed in "
            "parallel, which trains much faster on modern hardware. The price is compute that "
            "grows quadratically with sequence length; memory need not, because fused kernels such "
            "as FlashAttention, which PyTorch's scaled_dot_product_attention can dispatch to, "
            "compute the softmax block by block and never store the n by n attention matrix. "
            "Attention itself ignores order: the original Transformer adds positional encodings to "
            "the inputs, while many current models instead rotate each query and key by a "
            "position-dependent angle (rotary embeddings, RoPE), so that scores depend on relative "
            "position. Each attention block sits inside a residual connection with layer "
            "normalization and a feed-forward layer."
        ),
        key_points=(
            "Scaled dot-product: softmax(Q K^T / sqrt(d_k)) V; multi-head on separate "
            "projections.",
            "Encoder self-attention, decoder causal self-attention, cross-attention.",
            "Constant path length between positions and parallel training vs RNNs.",
            "Compute is quadratic in length; memory need not be (FlashAttention behind "
            "scaled_dot_product_attention never stores the n x n matrix).",
            "Order comes from added positional encodings or, in many current models, rotary "
            "embeddings (RoPE) on Q and K.",
        ),
        api=(
            "deepdojo.nn.MultiHeadAttention",
            "deepdojo.nn.attention.attention_mask",
            "deepdojo.nn.Transformer",
            "deepdojo.nn.transformer.SinusoidalPositionalEncoding",
            "deepdojo.nn.transformer.LearnedPositionalEncoding",
        ),
        references=(
            _BAHDANAU,
            _VASWANI,
            "Xiong, R. et al. (2020). On Layer Normalization in the Transformer Architecture. "
            "ICML.",
            "Su, J. et al. (2021). RoFormer: Enhanced Transformer with Rotary Position "
            "Embedding. arXiv:2104.09864 (Neurocomputing, 2024).",
            "Rabe, M. N., Staats, C. (2021). Self-attention Does Not Need O(n^2) Memory. "
            "arXiv:2112.05682.",
            "Dao, T., Fu, D. Y., Ermon, S., Rudra, A., Ré, C. (2022). FlashAttention: Fast and "
            "Memory-Efficient Exact Attention with IO-Awareness. NeurIPS.",
            "PyTorch contributors (2026). torch.nn.functional.scaled_dot_product_attention. "
            "PyTorch documentation. "
            "https://pytorch.org/docs/stable/generated/"
            "torch.nn.functional.scaled_dot_product_attention.html",
        ),
    ),
    Question(
        id="Q18",
        title="Parts of an attention mechanism",
        question="What are the core elements of an attention mechanism?",
        answer=(
            "Take a sequence-to-sequence model. The encoder reads the input and produces one "
            "hidden state per position, which act as keys and values, and at each output step the "
            "decoder's state is the query. A score function compares the query with every encoder "
            "state: additive (Bahdanau) scores use a small network, v^T tanh(W q + U k), while "
            "multiplicative (Luong) scores use a dot product q^T k or a bilinear form q^T W k, "
            "optionally scaled by 1/sqrt(d). Before the softmax, a padding mask sets the scores of "
            "padded positions to minus infinity, so that in a batch of sequences of different "
            "lengths the padding gets zero weight. The softmax turns the scores into attention "
            "weights that sum to one, and stacking them over all output steps gives the attention "
            "matrix. The context vector is the weighted sum of the encoder states, which the "
            "decoder combines with its own state to predict the next output; score, mask, softmax "
            "and weighted sum together form the attention function, which removes the fixed-size "
            "bottleneck of a plain encoder-decoder. The attention matrix shows which inputs each "
            "output mixed, a good debugging view, but it is not a faithful explanation of the "
            "decision: quite different weights can give the same prediction, so claims about why a "
            "model decided need other tests."
        ),
        key_points=(
            "Encoder states (keys/values) and decoder state (query).",
            "Scores: additive v^T tanh(W q + U k), dot q^T k, general q^T W k, scaled dot.",
            "Padding mask: padded keys get score -inf, hence weight 0.",
            "Softmax -> weights; over all steps -> the attention matrix; context vector = "
            "weighted sum of encoder states.",
            "Attention weights are not explanations (Jain & Wallace 2019).",
        ),
        api=(
            "deepdojo.nn.AdditiveAttention",
            "deepdojo.nn.DotProductAttention",
            "deepdojo.nn.GeneralAttention",
            "deepdojo.nn.attention.attention_mask",
            "deepdojo.models.Seq2Seq",
            "deepdojo.models.seq2seq.Seq2SeqTrace",
        ),
        references=(
            _BAHDANAU,
            "Luong, M.-T., Pham, H., Manning, C. D. (2015). Effective Approaches to "
            "Attention-based Neural Machine Translation. EMNLP.",
            _VASWANI,
            "Jain, S., Wallace, B. C. (2019). Attention is not Explanation. NAACL.",
            "Wiegreffe, S., Pinter, Y. (2019). Attention is not not Explanation. EMNLP.",
        ),
    ),
    Question(
        id="Q19",
        title="The GRU",
        question="What is a GRU?",
        answer=(
            "A gated recurrent unit is a recurrent cell, introduced by Cho and colleagues in 2014, "
            "that uses two learned gates to decide how much of its previous state to keep and how "
            "much to replace with new content. Because the new state is a gated blend, h_t = z * "
            "h_{t-1} + (1 - z) * h_tilde, a unit whose update gate is near one copies its memory "
            "almost unchanged, and the gradient flows back through many steps instead of vanishing "
            "as in a vanilla RNN. It is simpler than an LSTM: no separate cell state and no output "
            "gate, so three weight blocks instead of four and about a quarter fewer parameters. On "
            "most benchmarks GRUs and LSTMs perform similarly, so the choice is empirical, but "
            "they are not equivalent. An LSTM's cell state is unbounded and can act as a counter, "
            "so LSTMs learn languages such as a^n b^n, whereas a GRU's state is a blend of values "
            "between -1 and 1 that cannot count that way. GRUs are used for sequence modelling, "
            "time series, and as encoders and decoders in sequence-to-sequence models."
        ),
        key_points=(
            "Recurrent cell with an update gate and a reset gate.",
            "Gated blend of old state and candidate keeps memory over long spans and mitigates "
            "vanishing gradients compared with a vanilla RNN.",
            "Lighter than an LSTM: 3 weight blocks vs 4, no cell state or output gate.",
            "Usually comparable to an LSTM in accuracy.",
            "Not equivalent: LSTMs can count (a^n b^n), GRUs cannot (Weiss et al. 2018).",
        ),
        api=(
            "deepdojo.nn.GRU",
            "deepdojo.nn.GRUCell",
            "deepdojo.models.sequence",
        ),
        references=(
            "Hochreiter, S., Schmidhuber, J. (1997). Long Short-Term Memory. Neural "
            "Computation 9(8).",
            _CHO,
            _CHUNG,
            "Jozefowicz, R., Zaremba, W., Sutskever, I. (2015). An Empirical Exploration of "
            "Recurrent Network Architectures. ICML.",
            "Weiss, G., Goldberg, Y., Yahav, E. (2018). On the Practical Computational Power "
            "of Finite Precision RNNs for Language Recognition. ACL.",
        ),
    ),
    Question(
        id="Q20",
        title="Inside a GRU",
        question="What are the components of a GRU?",
        answer=(
            "A GRU has two gates, a candidate state and the final state, each computed from the "
            "current input x_t and the previous state h_{t-1}. The reset gate, r = sigmoid(W_ir x "
            "+ b_ir + W_hr h + b_hr), decides how much of the previous state enters the candidate. "
            "The update gate, z = sigmoid(W_iz x + b_iz + W_hz h + b_hz), decides how much of the "
            "previous state is kept. The candidate state, h_tilde = tanh(W_in x + b_in + r * (W_hn "
            "h + b_hn)), is the proposed new content; this is PyTorch's variant, which applies r "
            "after the matrix product, while the original paper applies it to h first. PyTorch "
            "keeps two bias vectors per gate, one on the input side and one on the hidden side: "
            "for r and z they simply add up, but b_hn sits inside the reset product, so for the "
            "candidate the two are not interchangeable. The final state is h_t = z * h_{t-1} + (1 "
            "- z) * h_tilde. When z is near one the unit holds its memory, and when r is near zero "
            "the candidate ignores the past and the unit can reset."
        ),
        key_points=(
            "Reset gate r: how much past state feeds the candidate.",
            "Update gate z: how much past state is kept.",
            "Candidate h_tilde = tanh(W_in x + b_in + r * (W_hn h + b_hn)) (PyTorch variant).",
            "Final h_t = z * h_{t-1} + (1 - z) * h_tilde.",
            "Weights: 3 input blocks (3H x I) and 3 hidden blocks (3H x H); biases: two "
            "vectors of 3H (b_ih, b_hh), one pair per gate.",
        ),
        api=(
            "deepdojo.nn.GRU",
            "deepdojo.nn.GRUCell",
        ),
        references=(
            _CHO,
            _CHUNG,
            _GRU_DOCS,
            "Zhang, A., Lipton, Z. C., Li, M., Smola, A. J. (2023). Dive into Deep Learning, "
            "section Gated Recurrent Units (GRU). Cambridge University Press. https://d2l.ai",
        ),
    ),
)
