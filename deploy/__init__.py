"""What runs on a robot: the export format, the policy loaders (numpy, ONNX) and the robot loop.

Imports numpy, flax's msgpack reader, ``onnx``/``onnxruntime`` (the ``deploy`` extra) and the
robot-bundle check of ``model`` — never brax, JAX's training code or ``train/``, so a robot-side
program imports this package alone. ``train/`` writes exports through it.
"""
