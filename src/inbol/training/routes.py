"""The training routes: ``sft`` (LoRA supervised tuning on prompt/completion records: IDK-IT, the SFT baseline;
:func:`inbol.training.sft.train_sft`) and ``preference`` (CA-DPO, ``kind='ca_dpo'``, or plain DPO, ``kind='dpo'``,
from the IDK-IT model, the frozen reference, whose log-probs come from a shared ``reference`` table of
:func:`inbol.training.ca_dpo.write_reference` or are computed by the trainer; :func:`inbol.training.ca_dpo.
train_preference`).

Each training stage calls its own route's function (so that it depends on that route's code only); the sweep
cells and the search, which train by both routes, call :func:`train_method`, which hands the same arguments to
the same functions.  A route trains on a JSONL file (:func:`inbol.training.runtime.write_training_set` writes
a set built in memory).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ParamError

ROUTES = ("sft", "preference")


def train_method(
    route: str,
    data: str | Path,
    start_model: str | Path,
    out_dir: str | Path,
    *,
    lora,
    train,
    seed: int,
    work_dir: str | Path,
    system: str | None = None,
    name: str,
    kind: str | None = None,
    dpo=None,
    ca_dpo=None,
    reference: str | Path | None = None,
    live_dir: str | Path | None = None,
    diagnostics_n: int = 300,
    callbacks=(),
) -> dict:
    """Train method ``name`` by ``route`` (``sft`` or ``preference``; ``kind`` the preference loss, ``ca_dpo``
    or ``dpo``) from ``start_model`` on the records of ``data``; write the adapter and the merged model to
    ``out_dir`` and return the training metrics.  ``train`` (and ``dpo``) are the sections as the caller
    budgets them (a sweep cell's are the sweep budget's); ``ca_dpo``, CA-DPO's loss options
    (``ca_dpo.sft_weight``), is needed for ``kind='ca_dpo'`` and handed on as the training stage hands it."""
    if route == "sft":
        from .sft import train_sft

        return train_sft(
            data,
            start_model,
            out_dir,
            lora=lora,
            train=train,
            seed=seed,
            work_dir=work_dir,
            system=system,
            live_dir=live_dir,
            name=name,
            callbacks=callbacks,
        )
    if route == "preference":
        from .ca_dpo import train_preference

        if dpo is None or kind is None:
            raise ParamError(f"training {name!r} by preference: needs the dpo section and a kind (ca_dpo or dpo)")
        if kind == "ca_dpo" and ca_dpo is None:
            raise ParamError(
                f"training {name!r} by preference kind ca_dpo: needs the ca_dpo section (its loss options)"
            )
        return train_preference(
            data,
            start_model,
            out_dir,
            kind=kind,
            lora=lora,
            train=train,
            dpo=dpo,
            seed=seed,
            work_dir=work_dir,
            system=system,
            reference=reference,
            live_dir=live_dir,
            name=name,
            diagnostics_n=diagnostics_n,
            callbacks=callbacks,
            sft_weight=ca_dpo.sft_weight if kind == "ca_dpo" else 0.0,
        )
    raise ParamError(f"training route {route!r}: must be one of {', '.join(ROUTES)}")


__all__ = ["ROUTES", "train_method"]
