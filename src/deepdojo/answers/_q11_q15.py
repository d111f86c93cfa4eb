"""Question bank, Q11..Q15: frameworks, one-shot learning, skip connections, hyperparameters."""

from __future__ import annotations

from deepdojo.answers.bank import Question

_FEWSHOT_API = (
    "deepdojo.models.fewshot.SiameseNet",
    "deepdojo.models.fewshot.PrototypicalNet",
    "deepdojo.models.fewshot.fit_supervised_embedding",
    "deepdojo.data.episodes.EpisodeSampler",
    "deepdojo.data.episodes.episode_loader",
    "deepdojo.train.tasks.EpisodicTask",
)
_BROWN = ("Brown, T. B. et al. (2020). Language Models are Few-Shot Learners. NeurIPS.")
_SNELL = ("Snell, J., Swersky, K., Zemel, R. (2017). Prototypical Networks for Few-shot "
          "Learning. NeurIPS.")  # fmt: skip
_HE_RESNET = ("He, K., Zhang, X., Ren, S., Sun, J. (2016). Deep Residual Learning for Image "
              "Recognition. CVPR.")  # fmt: skip

ENTRIES: tuple[Question, ...] = (
    Question(
        id="Q11",
        title="Deep-learning frameworks",
        question="Which deep-learning frameworks are widely used, and how do you move between "
        "them?",
        answer=(
            "PyTorch is the default in research and much of industry: eager execution that reads "
            "like Python, torch.compile for speed, and ExecuTorch for phones and embedded devices. "
            "TensorFlow remains common in production, with TF Serving and LiteRT (the name of TF "
            "Lite since 2024) on devices, and Keras 3 is a high-level API that runs the same model "
            "code on JAX, TensorFlow or PyTorch. JAX offers composable function transforms (grad, "
            "jit, vmap) compiled by XLA and is strong on TPUs; PaddlePaddle is Baidu's framework, "
            "widely used in China, and Deeplearning4j serves the JVM. Several once-popular "
            "frameworks are no longer developed: Theano ended with its 1.0 release in 2017, "
            "Berkeley's Caffe saw its last release the same year, CNTK stopped at version 2.7 in "
            "2019, and Apache MXNet was retired to the Apache Attic in 2023. Caffe2 merged into "
            "PyTorch in 2018, and its remaining code was removed from the PyTorch repository in "
            "2024. Rather than bet on one framework, export the trained model to ONNX, an open "
            "graph format, and run it in ONNX Runtime, TensorRT or OpenVINO, or convert it for "
            "another framework where a maintained importer exists. Always check that the exported "
            "model's outputs match the original within a tolerance, because operator coverage and "
            "numerics differ between runtimes."
        ),
        key_points=(
            "PyTorch: research default, eager plus torch.compile; ExecuTorch on devices.",
            "TensorFlow: production tooling; TF Lite is now LiteRT; Keras 3 runs on JAX, "
            "TensorFlow or PyTorch.",
            "JAX: functional transforms and XLA; PaddlePaddle (Baidu); DL4J (JVM).",
            "Discontinued: Theano (2017), BVLC Caffe (2017), CNTK (2.7, 2019), MXNet (Apache "
            "Attic, 2023); Caffe2 merged into PyTorch (2018), code removed (2024).",
            "ONNX is the bridge: export once, run in ONNX Runtime, verify outputs match.",
        ),
        api=(
            "deepdojo.export.to_onnx",
            "deepdojo.export.run_onnx",
            "deepdojo.answers.frameworks.FRAMEWORKS",
            "deepdojo.models.create",
        ),
        references=(
            "Paszke, A. et al. (2019). PyTorch: An Imperative Style, High-Performance Deep "
            "Learning Library. NeurIPS.",
            "Abadi, M. et al. (2016). TensorFlow: A System for Large-Scale Machine Learning. "
            "OSDI.",
            "Bradbury, J. et al. (2018). JAX: composable transformations of Python+NumPy "
            "programs. Software. https://github.com/jax-ml/jax",
            "Bengio, Y., Lamblin, P. (2017). MILA and the future of Theano. theano-users "
            "mailing list. https://groups.google.com/g/theano-users/c/7Poq8BZutbY",
            "Microsoft (2019). CNTK v2.7 release notes. "
            "https://github.com/microsoft/CNTK/releases/tag/v2.7",
            "Caffe2 team (2018). Caffe2 and PyTorch join forces to create a Research + "
            "Production platform PyTorch 1.0. Caffe2 blog. "
            "https://caffe2.ai/blog/2018/05/02/Caffe2_PyTorch_1_0.html",
            "PyTorch contributors (2024). Remove Caffe2 python (pull request 125143) and "
            "follow-ups. https://github.com/pytorch/pytorch/pull/125143",
            "Apache Software Foundation (2023). Apache MXNet moved to the Attic. "
            "https://attic.apache.org/projects/mxnet.html",
            "Google AI Edge (2024). TensorFlow Lite is now LiteRT. "
            "https://ai.google.dev/edge/litert",
            "Keras team (2023). Introducing Keras 3. https://keras.io/keras_3/",
            "ONNX Runtime developers (2021). ONNX Runtime. https://onnxruntime.ai",
        ),
    ),
    Question(
        id="Q12",
        title="One-shot learning",
        question="What is one-shot learning?",
        answer=(
            "One-shot learning means recognising a new class from a single labelled example, and "
            "few-shot learning from K examples, without training a classifier for that class. The "
            "labelled examples of the new classes form the support set; the inputs to classify are "
            "the queries. The usual route is to learn, on many base classes, an embedding in which "
            "examples of one class lie close together, and then to label a query by comparing it "
            "with the support set. A Siamese network runs two inputs through one shared encoder "
            "and learns whether they belong to the same class, while a prototypical network "
            "averages each class's support embeddings into a prototype and picks the nearest one. "
            "Such models are often trained on episodes that mimic the test, N classes with K "
            "examples each plus queries, and they are always evaluated on classes never seen in "
            "training. Careful comparisons found episodic meta-learning unnecessary: an encoder "
            "pretrained by ordinary classification on the base classes, followed by a "
            "nearest-centroid or linear classifier fitted on the support set, matches or beats it. "
            "Large pretrained models go further, with zero-shot classification from a text "
            "description of each class and in-context learning, where a language model reads a few "
            "labelled examples in its prompt and labels the next one without any weight update."
        ),
        key_points=(
            "Support set: the few labelled examples of the new classes; queries: the inputs to "
            "classify.",
            "Siamese network (pairs, shared encoder) and prototypical network (nearest class "
            "mean) learn a metric, not a fixed set of classes.",
            "N-way K-shot episodes; evaluate on held-out classes only.",
            "A pretrained encoder plus nearest-centroid or linear head matches or beats "
            "episodic meta-learning (Chen et al. 2019; Tian et al. 2020).",
            "Foundation models add zero-shot and in-context learning.",
        ),
        api=_FEWSHOT_API,
        references=(
            "Koch, G., Zemel, R., Salakhutdinov, R. (2015). Siamese Neural Networks for "
            "One-shot Image Recognition. ICML Deep Learning Workshop.",
            "Vinyals, O. et al. (2016). Matching Networks for One Shot Learning. NeurIPS.",
            _SNELL,
            "Finn, C., Abbeel, P., Levine, S. (2017). Model-Agnostic Meta-Learning for Fast "
            "Adaptation of Deep Networks. ICML.",
            "Chen, W.-Y., Liu, Y.-C., Kira, Z., Wang, Y.-C. F., Huang, J.-B. (2019). A Closer "
            "Look at Few-shot Classification. ICLR.",
            "Tian, Y., Wang, Y., Krishnan, D., Tenenbaum, J. B., Isola, P. (2020). Rethinking "
            "Few-Shot Image Classification: a Good Embedding Is All You Need? ECCV.",
            _BROWN,
            "Radford, A. et al. (2021). Learning Transferable Visual Models From Natural "
            "Language Supervision (CLIP). ICML.",
        ),
    ),
    Question(
        id="Q13",
        title="Where one-shot learning is used",
        question="Where is one-shot learning used in practice?",
        answer=(
            "It fits any problem where new classes keep appearing and collecting many labelled "
            "examples per class is impossible or expensive. Face recognition is the classic case: "
            "a person is enrolled with one photo and later matched by embedding distance, and the "
            "same verification pattern serves signatures, voices and other biometrics. Handwritten "
            "characters of new alphabets, new products on a shelf and new gestures are recognised "
            "from a handful of examples, and in language tasks a pretrained sentence encoder lets "
            "a system add a new intent or topic from a few sentences. Medical imaging uses it for "
            "rare conditions with few confirmed cases, recommenders for cold-start users and "
            "items, and drug discovery for assays with few measurements. In all of these the "
            "system stores a few reference examples, compares a query in embedding space, and "
            "picks a distance threshold that trades false accepts against false rejects. Large "
            "language and vision-language models now cover many of these cases without a dedicated "
            "model: shown a few labelled examples in the prompt, they label new inputs by "
            "in-context learning. A small embedding model stays the cheaper choice where latency, "
            "cost, privacy or auditability matter."
        ),
        key_points=(
            "Fits open-ended class sets with few labels per class.",
            "Face and biometric verification: enrol one example, compare embeddings.",
            "Characters, objects, gestures; few-shot text classes with a sentence encoder.",
            "Medical imaging of rare conditions; recommender cold start; drug discovery.",
            "In-context few-shot learning with large models; a verification threshold trades "
            "false accepts against false rejects.",
        ),
        api=_FEWSHOT_API,
        references=(
            "Schroff, F., Kalenichenko, D., Philbin, J. (2015). FaceNet: A Unified Embedding "
            "for Face Recognition and Clustering. CVPR.",
            "Lake, B. M., Salakhutdinov, R., Tenenbaum, J. B. (2015). Human-level Concept "
            "Learning through Probabilistic Program Induction (Omniglot). Science 350.",
            "Altae-Tran, H., Ramsundar, B., Pappu, A. S., Pande, V. (2017). Low Data Drug "
            "Discovery with One-Shot Learning. ACS Central Science 3(4).",
            "Vartak, M. et al. (2017). A Meta-Learning Perspective on Cold-Start "
            "Recommendations for Items. NeurIPS.",
            "Reimers, N., Gurevych, I. (2019). Sentence-BERT: Sentence Embeddings using "
            "Siamese BERT-Networks. EMNLP.",
            _BROWN,
        ),
    ),
    Question(
        id="Q14",
        title="Skip (residual) connections",
        question="What are skip (residual) connections, and why do they help?",
        answer=(
            "A skip connection adds a block's input to its output, y = x + F(x), so the block only "
            "has to learn the residual F, and doing nothing is as easy as driving F to zero. In "
            "the backward pass the Jacobian is the identity plus the derivative of F, so part of "
            "the gradient reaches earlier layers through the identity term, unchanged only if the "
            "path between blocks is a clean identity: an activation, normalization or scaling "
            "applied after the addition, as in the original ResNet, alters it at every block. He "
            "and colleagues introduced residual networks against degradation: deeper plain "
            "networks reached higher training error than shallower ones, and since those plain "
            "networks used batch norm and showed healthy gradient norms, the authors blamed "
            "optimization difficulty rather than vanishing gradients. With skips, ResNets of a "
            "hundred layers and more train well, and every Transformer wraps its attention and "
            "feed-forward blocks in residual connections. When the shapes differ, the shortcut "
            "uses a projection, a linear layer or 1x1 convolution. DenseNet concatenates instead "
            "of adding, and U-Net's encoder-to-decoder skips serve another purpose: carrying fine "
            "spatial detail to the output."
        ),
        key_points=(
            "y = x + F(x): the block learns a residual; identity is the easy default.",
            "Backward: dy/dx = I + dF/dx; the gradient passes unchanged only along a clean "
            "identity path (pre-activation blocks).",
            "ResNets fixed degradation, which He et al. attributed to optimization difficulty, "
            "not vanishing gradients.",
            "Projection shortcut when shapes change; zero-init of the branch starts each block "
            "as the identity.",
            "Everywhere today: ResNets, Transformers; DenseNet and U-Net are variants.",
        ),
        api=(
            "deepdojo.nn.ResidualBlock",
            "deepdojo.models.ResNetMLP",
            "deepdojo.models.ResNetCNN",
            "deepdojo.nn.init.zero_residual_branches",
            "deepdojo.models.create",
        ),
        references=(
            "Srivastava, R. K., Greff, K., Schmidhuber, J. (2015). Training Very Deep "
            "Networks. NeurIPS.",
            _HE_RESNET,
            "He, K., Zhang, X., Ren, S., Sun, J. (2016). Identity Mappings in Deep Residual "
            "Networks. ECCV.",
            "Veit, A., Wilber, M., Belongie, S. (2016). Residual Networks Behave Like "
            "Ensembles of Relatively Shallow Networks. NeurIPS.",
            "Balduzzi, D. et al. (2017). The Shattered Gradients Problem: If resnets are the "
            "answer, then what is the question? ICML.",
            "Huang, G., Liu, Z., van der Maaten, L., Weinberger, K. Q. (2017). Densely "
            "Connected Convolutional Networks. CVPR.",
            "Ronneberger, O., Fischer, P., Brox, T. (2015). U-Net: Convolutional Networks for "
            "Biomedical Image Segmentation. MICCAI.",
        ),
    ),
    Question(
        id="Q15",
        title="Hyperparameters",
        question="How do hyperparameters affect a model?",
        answer=(
            "Hyperparameters are the settings fixed before training, such as the learning rate, "
            "batch size, epochs, depth and width, dropout, weight decay and the optimizer, and "
            "each one moves the result in a measurable way. The learning rate controls whether and "
            "how fast training converges. Dropout, weight decay and the number of epochs trade "
            "underfitting against overfitting, visible as the gap between training and validation "
            "scores, while depth and width set the capacity, what the model can represent at all. "
            "Batch size mainly sets cost and speed: the generalization advantage often claimed for "
            "small batches largely disappears once the learning rate and schedule are retuned for "
            "each batch size, and past a problem-dependent critical batch size, larger batches "
            "stop cutting the number of steps. The optimizer changes how sensitive training is to "
            "the learning rate, and in transfer learning a smaller rate for the pretrained layers "
            "than for the new head protects useful features, which pays off only when those "
            "features suit the new task. Because hyperparameters interact, compare settings only "
            "after tuning the learning rate of each, choose them on a validation set and report "
            "the test score once. Random search beats a grid in many dimensions, and Bayesian "
            "methods such as TPE with early pruning of bad trials find good settings with less "
            "compute."
        ),
        key_points=(
            "Learning rate: convergence speed and stability.",
            "Dropout, weight decay, epochs: the under/overfitting trade-off; depth and width: "
            "capacity.",
            "Batch size: time and memory; its generalization effect largely vanishes once the "
            "learning rate is retuned (Shallue et al. 2019).",
            "Optimizer choice and per-layer learning rates in transfer learning.",
            "Select on validation, report test once; random or TPE search with pruning.",
        ),
        api=(
            "deepdojo.search.tune",
            "deepdojo.search.PruningCallback",
            "deepdojo.train.make_optimizer",
            "deepdojo.train.lr_find",
        ),
        references=(
            "Bergstra, J., Bardenet, R., Bengio, Y., Kégl, B. (2011). Algorithms for "
            "Hyper-Parameter Optimization (TPE). NeurIPS.",
            "Bergstra, J., Bengio, Y. (2012). Random Search for Hyper-Parameter Optimization. "
            "JMLR 13.",
            "Keskar, N. S. et al. (2017). On Large-Batch Training for Deep Learning: "
            "Generalization Gap and Sharp Minima. ICLR.",
            "Howard, J., Ruder, S. (2018). Universal Language Model Fine-tuning for Text "
            "Classification. ACL.",
            "Shallue, C. J. et al. (2019). Measuring the Effects of Data Parallelism on Neural "
            "Network Training. JMLR 20.",
            "Akiba, T., Sano, S., Yanase, T., Ohta, T., Koyama, M. (2019). Optuna: A "
            "Next-generation Hyperparameter Optimization Framework. KDD.",
        ),
    ),
)
