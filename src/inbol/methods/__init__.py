"""The method registry: one module per evaluated method (``inbol/methods/<name>.py`` defining ``SPEC``, a
:class:`inbol.methods.spec.MethodSpec`).  What a method is (its label, kind, start model, training set, loss,
paper rows, tables) is written there once; the params schema, the report's tables and labels, the search and the
training stages read it.

- :func:`inbol.methods.spec.load` reads one method's spec (what a training stage needs: its dvc.yaml deps name
  only ``src/inbol/methods/<name>.py``);
- :func:`inbol.methods.registry.registry` reads them all (the report, the params check).

Adding a method: docs/extending.md."""
