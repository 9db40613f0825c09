"""What runs on a robot: the export format, the policy loaders (numpy, ONNX) and the robot loop.

``export_format`` (file names, ``ExportError``, the writer and the checks of a read),
``exported_policy`` (the numpy forward pass), ``onnx_policy`` (the ONNX graph, its comparison with
the numpy policy, the onnxruntime loader), ``policy_loader`` (``load_policy`` for either),
``robot_controller`` (the per-step loop, numpy only) and ``robot_loop`` (that loop in MuJoCo
simulation, ``python -m deploy.robot_loop``).

Imports numpy, flax's msgpack reader, ``onnx``/``onnxruntime`` (the ``deploy`` extra), mujoco (the
simulation harness) and the robot-bundle check of ``model`` — never brax, JAX's training code or
``train/``, so a robot-side program imports this package alone::

    from deploy.policy_loader import load_policy

    action = load_policy("runs/my_run").act(obs)

``train/`` writes exports through it.
"""
