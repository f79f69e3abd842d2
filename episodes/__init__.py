"""Episodic training and evaluation on Omniglot, built on ``fewshot`` (which never imports it).

Modules, in the order data flows through them (each imports only those above it, and fewshot):

* ``config``: ``TrainConfig`` and the evaluation defaults; the one source of defaults.
* ``sampler``: ``Episode`` and the seeded ``EpisodeSampler``; ``manifest``: episodes on disk.
* ``splits``: which examples a run trains and validates on; ``images``: them on the device.
* ``augment``: batched random affine distortions.
* ``transfer`` and ``network``: the network to train, its forward pass, its export.
* ``state``: training-state checkpoints; ``train``: the training loop.
* ``lake``: Lake et al.'s drawer-pair runs; ``scoring``: one episode's scores (prototypes,
  siamese pairs, transductive); ``head_files``: a trained head on disk.
* ``evaluate``: scoring an encoder on episodes; ``report``: printing and writing the result;
  ``protocols``: drawing the episodes of a setting, and the published Omniglot settings;
  ``evaluate_data``: any encoder on any data (``fewshot evaluate --data``).
* ``learn2learn`` and ``maml``: the optional learn2learn interop and MAML baseline.
* ``cli``: ``fewshot train`` / ``fewshot evaluate`` (also ``python -m episodes``); the
  evaluate half in ``evaluate_cli``.
"""
