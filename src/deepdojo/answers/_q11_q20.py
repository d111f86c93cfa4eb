"""Question bank, Q11..Q20: frameworks, few-shot, residuals, tuning, SSL, attention, GRU."""

from __future__ import annotations

from deepdojo.answers.bank import Question

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q11",
        title="Deep-learning frameworks",
        question="Which deep-learning frameworks are widely used, and how do you move between "
        "them?",
        answer=(
            "PyTorch dominates research and much of industry: eager execution that reads like "
            "Python, with torch.compile for speed. TensorFlow with Keras is strong in production "
            "and on mobile (TF Serving, TF Lite), and Keras 3 can run on TensorFlow, JAX or "
            "PyTorch. JAX offers composable function transforms (grad, jit, vmap) compiled by XLA "
            "and is popular on TPUs. Older or more specialised frameworks include MXNet (now "
            "retired), Caffe and Caffe2 (merged into PyTorch), CNTK (no longer developed), "
            "PaddlePaddle (Baidu) and Deeplearning4j for the JVM. Rather than bet on one, export "
            "the trained model to ONNX, an open graph format, and run it with ONNX Runtime, "
            "TensorRT or OpenVINO, or import it into another framework; always check that the "
            "exported model's outputs match the original within a tolerance."
        ),
        key_points=(
            "PyTorch: research default, eager plus torch.compile.",
            "TensorFlow/Keras: production and mobile tooling; Keras 3 is multi-backend.",
            "JAX: functional transforms and XLA, strong on TPUs.",
            "Legacy or niche: MXNet, Caffe/Caffe2, CNTK, PaddlePaddle, DL4J.",
            "ONNX is the bridge: export once, run in ONNX Runtime, verify outputs match.",
        ),
        api=("deepdojo.models.create",),
    ),
    Question(
        id="Q12",
        title="One-shot learning",
        question="What is one-shot learning?",
        answer=(
            "One-shot learning means recognising a new class from a single labelled example "
            "(few-shot: from K examples), without retraining a classifier for that class. The "
            "trick is to learn, on many base classes, an embedding in which examples of the same "
            "class lie close together, and then to classify new classes by comparison. A Siamese "
            "network runs two inputs through the same encoder and learns whether they belong to "
            "the same class; a query then takes the label of its most similar support example. A "
            "prototypical network averages the embeddings of each class's support examples into "
            "a prototype and classifies a query by a softmax over negative distances to the "
            "prototypes. Training uses episodes that mimic the test: N classes, K examples each, "
            "and a few queries, and evaluation uses classes never seen in training. Meta-learning "
            "methods such as MAML, and nearest neighbours on a large pretrained encoder, are "
            "other routes to the same goal."
        ),
        key_points=(
            "Learn a similarity or embedding, not a fixed set of classes.",
            "Siamese network: shared encoder, pairs, same-or-different.",
            "Prototypical network: class prototype = mean support embedding; nearest prototype "
            "wins.",
            "Episodic training: N-way K-shot tasks.",
            "Evaluate on held-out classes, never on classes seen in training.",
        ),
        api=("deepdojo.models.fewshot",),
    ),
    Question(
        id="Q13",
        title="Where one-shot learning is used",
        question="Where is one-shot learning used in practice?",
        answer=(
            "It fits any problem where new classes keep appearing and collecting many labelled "
            "examples per class is impossible or expensive. Face recognition is the classic "
            "case: a person is enrolled with one photo and later matched by embedding distance, "
            "and the same verification pattern serves signatures, voices and other biometrics. "
            "Handwritten characters of new alphabets, new products on a shelf and new gestures "
            "are recognised from a handful of examples. In language tasks, a pretrained sentence "
            "encoder lets a system add a new intent or topic from a few sentences. Medical "
            "imaging uses it for rare conditions with few confirmed cases, recommenders use it "
            "for cold-start users and items, and drug discovery for assays with few "
            "measurements. In all of these the system stores a few reference examples, compares "
            "a query in embedding space, and picks a distance threshold that trades false "
            "accepts against false rejects."
        ),
        key_points=(
            "Fits open-ended class sets with few labels per class.",
            "Face and biometric verification: enrol one example, compare embeddings.",
            "Characters, objects, gestures; few-shot text classes with a sentence encoder.",
            "Medical imaging of rare conditions; recommender cold start; drug discovery.",
            "A verification threshold trades false accepts against false rejects.",
        ),
        api=("deepdojo.models.fewshot",),
    ),
    Question(
        id="Q14",
        title="Skip (residual) connections",
        question="What are skip (residual) connections, and why do they help?",
        answer=(
            "A skip connection adds a block's input to its output, y = x + F(x), so the block "
            "only has to learn the residual F, and doing nothing is as easy as driving F to zero. "
            "In the backward pass the Jacobian is the identity plus the derivative of F, so part "
            "of the gradient reaches early layers unchanged however deep the network is. Without "
            "skips, very deep plain networks train worse than shallower ones, even on the "
            "training set; with them, ResNets of a hundred layers and more train well, and every "
            "Transformer wraps its attention and feed-forward blocks in residual connections. "
            "When the shapes differ, the shortcut uses a projection, a linear layer or 1x1 "
            "convolution. DenseNet concatenates instead of adding, and U-Net's encoder-to-decoder "
            "skips serve a different purpose: carrying fine spatial detail to the output."
        ),
        key_points=(
            "y = x + F(x): the block learns a residual; identity is the easy default.",
            "Backward: dy/dx = I + dF/dx, a direct gradient path to early layers.",
            "Fixes the degradation of deep plain networks (higher training error with depth).",
            "Projection shortcut when shapes change.",
            "Everywhere today: ResNets, Transformers; DenseNet and U-Net are variants.",
        ),
        api=(
            "deepdojo.nn.ResidualBlock",
            "deepdojo.models.create",
        ),
    ),
    Question(
        id="Q15",
        title="Hyperparameters",
        question="How do hyperparameters affect a model?",
        answer=(
            "Hyperparameters are the settings fixed before training, such as the learning rate, "
            "batch size, epochs, depth and width, dropout, weight decay and the optimizer, and "
            "each one moves the result in a measurable way. The learning rate controls whether "
            "and how fast training converges. Dropout, weight decay, epochs and batch size trade "
            "underfitting against overfitting, visible as the gap between training and "
            "validation scores. Depth and width set the capacity, what the model can represent at "
            "all. Batch size and epochs also set the cost in time and memory. The optimizer "
            "changes how sensitive training is to the learning rate, and in transfer learning a "
            "smaller rate for the pretrained layers than for the new head protects the useful "
            "features, which pays off only when those features suit the new task. Choose them "
            "on a validation set and report the test score once; "
            "random search beats a grid in many dimensions, and Bayesian methods such as TPE with "
            "early pruning of bad trials find good settings with less compute."
        ),
        key_points=(
            "Learning rate: convergence speed and stability.",
            "Dropout, weight decay, batch size, epochs: the under/overfitting trade-off.",
            "Depth and width: capacity.",
            "Batch size and epochs: time and memory cost.",
            "Optimizer choice and per-layer learning rates in transfer learning.",
            "Select on validation, report test once; random or TPE search with pruning.",
        ),
        api=(
            "deepdojo.search.tune",
            "deepdojo.train.make_optimizer",
        ),
    ),
    Question(
        id="Q16",
        title="Self-supervised learning",
        question="What is self-supervised learning?",
        answer=(
            "Self-supervised learning trains on unlabelled data by inventing a task whose labels "
            "come from the data itself, then reuses the learned representation for the task you "
            "actually care about. Contrastive methods such as SimCLR make two augmented views of "
            "the same input and train the encoder to map them close together and away from other "
            "inputs. Reconstruction methods mask or corrupt part of the input and predict it "
            "back, as in BERT's masked words or masked image autoencoders; predicting an image's "
            "rotation, the order of shuffled patches, or the next token, as language models do, "
            "are other pretext tasks. The representation is judged with a linear probe on frozen "
            "features or by fine-tuning with few labels, and the gain over a purely supervised "
            "model is largest when labels are scarce. The chosen augmentations decide which "
            "invariances are learned, and methods need negatives, a stop-gradient or a variance "
            "term to avoid collapsing every input onto the same point."
        ),
        key_points=(
            "Labels are made from the data: a pretext task.",
            "Contrastive (SimCLR), masked/denoising reconstruction, rotation or order "
            "prediction, next-token prediction.",
            "Evaluate with a linear probe and with few-label fine-tuning.",
            "Biggest gain when labelled data is scarce.",
            "Must avoid representation collapse.",
        ),
        api=("deepdojo.models.ssl",),
    ),
    Question(
        id="Q17",
        title="Attention in Transformers",
        question="What role does attention play in Transformers?",
        answer=(
            "In a Transformer, attention is the only place where positions exchange information. "
            "In self-attention every token builds a query, compares it with the keys of all "
            "tokens, and takes a weighted mix of their values: softmax(Q K^T / sqrt(d)) V, where "
            "the square root keeps the softmax from saturating. Several heads run in parallel on "
            "separate projections so that each can follow a different kind of relation. The "
            "encoder uses full self-attention, the decoder uses causally masked self-attention "
            "plus cross-attention to the encoder's outputs. Compared with a recurrent network, "
            "any two positions are one step apart instead of many, and the whole sequence is "
            "processed in parallel, which trains much faster on modern hardware; the price is "
            "time and memory quadratic in the sequence length. Attention itself ignores order, so "
            "positional encodings are added to the inputs, and each attention block sits inside "
            "a residual connection with layer normalization and a feed-forward layer."
        ),
        key_points=(
            "Scaled dot-product: softmax(Q K^T / sqrt(d_k)) V.",
            "Multi-head: parallel attention on separate projections.",
            "Encoder self-attention, decoder causal self-attention, cross-attention.",
            "Constant path length between positions and parallel training vs RNNs; "
            "quadratic cost in length.",
            "Needs positional encodings; wrapped in residual + layer norm + feed-forward.",
        ),
        api=(
            "deepdojo.nn.MultiHeadAttention",
            "deepdojo.nn.Transformer",
        ),
    ),
    Question(
        id="Q18",
        title="Parts of an attention mechanism",
        question="What are the core elements of an attention mechanism?",
        answer=(
            "Take a sequence-to-sequence model. The encoder reads the input and produces one "
            "hidden state per input position; these act as the keys and values. At each output "
            "step the decoder's state is the query. A score function compares the query with "
            "every encoder state: additive (Bahdanau) scores use a small network, "
            "v^T tanh(W q + U k), while multiplicative (Luong) scores use a dot product, q^T k, "
            "or a bilinear form, q^T W k, optionally scaled by 1/sqrt(d). A softmax turns the "
            "scores into attention weights that sum to one, and stacking them over all output "
            "steps gives the attention matrix, which shows which inputs each output looked at. "
            "The context vector is the weighted sum of the encoder states; the decoder combines "
            "it with its own state to predict the next output. Score, softmax and weighted sum "
            "together form the attention function, and they remove the fixed-size bottleneck of "
            "a plain encoder-decoder."
        ),
        key_points=(
            "Encoder states (keys/values) and decoder state (query).",
            "Scores: additive v^T tanh(W q + U k), dot q^T k, general q^T W k, scaled dot.",
            "Softmax -> weights; over all steps -> the attention (alignment) matrix.",
            "Context vector = weighted sum of encoder states.",
            "Removes the single fixed-size vector bottleneck of plain seq2seq.",
        ),
        api=(
            "deepdojo.nn.AdditiveAttention",
            "deepdojo.nn.DotProductAttention",
            "deepdojo.nn.GeneralAttention",
            "deepdojo.models.Seq2Seq",
        ),
    ),
    Question(
        id="Q19",
        title="The GRU",
        question="What is a GRU?",
        answer=(
            "A gated recurrent unit is a recurrent cell, introduced by Cho and colleagues in "
            "2014, that uses two learned gates to decide how much of its previous state to keep "
            "and how much to replace with new content. Because the new state is a gated blend, "
            "h_t = z * h_{t-1} + (1 - z) * h_tilde, a unit whose update gate is near one copies "
            "its memory almost unchanged, and the gradient flows back through many steps instead "
            "of vanishing as in a vanilla RNN. It is simpler than an LSTM: no separate cell state "
            "and no output gate, so three weight blocks instead of four and about a quarter fewer "
            "parameters. On most tasks GRUs and LSTMs perform similarly, so the choice is "
            "empirical. GRUs are used for sequence modelling, time series, and as encoders and "
            "decoders in sequence-to-sequence models."
        ),
        key_points=(
            "Recurrent cell with an update gate and a reset gate.",
            "Gated blend of old state and candidate keeps memory over long spans.",
            "Mitigates vanishing gradients compared with a vanilla RNN.",
            "Lighter than an LSTM: 3 weight blocks vs 4, no cell state or output gate.",
            "Performance usually comparable to an LSTM.",
        ),
        api=(
            "deepdojo.nn.GRU",
            "deepdojo.nn.GRUCell",
        ),
    ),
    Question(
        id="Q20",
        title="Inside a GRU",
        question="What are the components of a GRU?",
        answer=(
            "A GRU has two gates, a candidate state and the final state, each computed from the "
            "current input x_t and the previous state h_{t-1}. The reset gate, "
            "r = sigmoid(W_ir x + W_hr h + b_r), decides how much of the previous state enters "
            "the candidate. The update gate, z = sigmoid(W_iz x + W_hz h + b_z), decides how much "
            "of the previous state is kept. The candidate state, "
            "h_tilde = tanh(W_in x + b_in + r * (W_hn h + b_hn)), is the proposed new content; "
            "this is PyTorch's variant, which applies r after the matrix product, while the "
            "original paper applies it to h first. The final state is "
            "h_t = z * h_{t-1} + (1 - z) * h_tilde. When z is near one the unit holds its memory, "
            "and when r is near zero the candidate ignores the past and the unit can reset."
        ),
        key_points=(
            "Reset gate r: how much past state feeds the candidate.",
            "Update gate z: how much past state is kept.",
            "Candidate h_tilde = tanh(W_in x + b_in + r * (W_hn h + b_hn)) (PyTorch variant).",
            "Final h_t = z * h_{t-1} + (1 - z) * h_tilde.",
            "Weights: 3 input blocks (3H x I) and 3 hidden blocks (3H x H), plus biases.",
        ),
        api=(
            "deepdojo.nn.GRU",
            "deepdojo.nn.GRUCell",
        ),
    ),
)
