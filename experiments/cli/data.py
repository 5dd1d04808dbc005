"""``langstack data export-minari`` and ``import-minari``: the episode store <-> Minari."""
from __future__ import annotations

import argparse
from pathlib import Path

from experiments.cli.util import UsageError, add_json_flag, emit
from experiments.collect_infer.rundir import check_creatable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="episode data: export/import the store as a Minari dataset",
                       description="Move a run's episode store (the lifelong buffer) to and from "
                                   "Minari, the gymnasium ecosystem's offline-RL dataset format.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    dsub.required = True

    e = dsub.add_parser(
        "export-minari", help="write an episode store as a Minari dataset",
        description="Writes OUT/<dataset id>/data/ (HDF5): observations {state, frame_embs "
                    "(if stored)}, (x, y) actions, env rewards, terminations (success), "
                    "truncations, infos['pursued'] (the sub-goal pursued at each observation) "
                    "and per-episode metadata (task, seed, detections). Load it with "
                    "MINARI_DATASETS_PATH=OUT and minari.load_dataset(ID). Nothing is written "
                    "outside OUT.")
    source = e.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path, help="a run directory (its episodes/ store)")
    source.add_argument("--store", type=Path, help="an episode store directory")
    e.add_argument("--out", type=Path, required=True,
                   help="the Minari datasets root to write into")
    e.add_argument("--dataset-id", help="Minari id (default langstack/<task>-v0, or "
                                        "langstack/lifelong-v0 for a store of several tasks)")
    add_json_flag(e)
    e.set_defaults(func=run_export)

    i = dsub.add_parser(
        "import-minari", help="append a Minari dataset's episodes to an episode store",
        description="Reads a dataset written by export-minari (PATH: the dataset directory "
                    "or its data/ directory) and appends its episodes to the store at --store "
                    "(created if missing), keeping states, actions, rewards, frame embeddings, "
                    "pursued sub-goals and episode metadata. Nothing is unpickled.")
    i.add_argument("path", type=Path, metavar="PATH", help="the Minari dataset directory")
    i.add_argument("--store", type=Path, required=True, help="the episode store to append to")
    add_json_flag(i)
    i.set_defaults(func=run_import)


def run_export(args: argparse.Namespace) -> int:
    from experiments.data.minari_io import MinariIOError, export_store

    store = args.store if args.store is not None else args.run_dir / "episodes"
    if not store.is_dir():
        what = "run directory with an episodes/ store" if args.store is None else "episode store"
        raise UsageError(f"no {what} at {args.run_dir or args.store}")
    check_creatable(args.out, "--out")
    try:
        result = export_store(store, args.out, args.dataset_id, progress=not args.json)
    except MinariIOError as exc:
        raise UsageError(str(exc)) from None
    human = (f"exported {result['episodes']} episodes ({result['steps']} steps) to "
             f"{result['path']}\nload: MINARI_DATASETS_PATH={result['datasets_root']} python -c "
             f"\"import minari; print(minari.load_dataset('{result['dataset_id']}'))\"")
    emit(result, args.json, human)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from experiments.data.minari_io import MinariIOError, dataset_data_path, import_dataset

    try:
        dataset_data_path(args.path)
    except MinariIOError as exc:
        raise UsageError(str(exc)) from None
    check_store_target(args.store)
    try:
        result = import_dataset(args.path, args.store, progress=not args.json)
    except MinariIOError as exc:
        raise UsageError(str(exc)) from None
    human = (f"imported {result['episodes']} episodes ({result['steps']} steps) into "
             f"{result['store']} (now {result['store_episodes']} episodes)")
    emit(result, args.json, human)
    return 0


def check_store_target(store: Path) -> None:
    """--store is a new or empty folder, or an episode store whose manifest reads cleanly
    (checked read-only: nothing is written before the dataset is known to be good)."""
    from policy.store import MANIFEST, EpisodeStore, StoreError

    check_creatable(store, "--store")
    if not store.exists() or not any(store.iterdir()):
        return
    if not (store / MANIFEST).is_file():
        raise UsageError(f"--store {store} is neither empty nor an episode store (no {MANIFEST})")
    try:
        EpisodeStore(store, readonly=True).close()
    except StoreError as exc:
        raise UsageError(f"--store: {exc}") from None
