"""Model implementations in JAX + Flax NNX.

AlphaGenome: ``config`` (presets), ``layers``, ``attention``, ``heads``, ``network`` (the model),
``checkpoint`` (Orbax + model card), ``metadata`` (official track tables), ``convert`` (official
Haiku weights) and ``adapter`` (the ``SequenceModel`` plugin class). Import the submodule you need;
this package imports nothing so that light users (the CLI listing models) do not load JAX.
"""
