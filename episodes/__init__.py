"""Episodic training and evaluation on Omniglot, built on ``fewshot`` (which never imports it).

Modules, in the order data flows through them (each imports only those above it, and fewshot):

* ``config``: ``TrainConfig`` and the evaluation defaults; the one source of defaults.
* ``sampler``: ``Episode`` and the seeded ``EpisodeSampler``; ``manifest``: episodes on disk.
* ``splits``: which examples a run trains and validates on; ``images``: them on the device.
* ``augment``: batched random affine distortions.
* ``transfer`` and ``network``: the network to train, its forward pass, its export.
* ``state``: training-state checkpoints; ``train``: the training loop.
* ``evaluate``: scoring an encoder on episodes; ``report``: printing and writing the result;
  ``protocols``: the published Omniglot settings.
* ``learn2learn`` and ``maml``: the optional learn2learn interop and MAML baseline.
* ``cli``: ``fewshot train`` / ``fewshot evaluate`` (also ``python -m episodes``).
"""
