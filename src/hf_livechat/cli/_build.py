"""What the two dataset-build commands share: the multi-process launch, --overwrite, the summary, the exit status."""

from __future__ import annotations


def run_build(args, build, options, unit: str) -> None:
    """Runs `build(manifest, out, options, on_error=..., processes=...)` as one of the launched processes (under
    `torchrun` / `accelerate launch` they share the VODs); the main process prints the summary. A build that built
    nothing exits non-zero."""
    from ..data.builders.vod_builder import clear_out_dir
    from ..distributed import launched_processes

    processes = launched_processes()
    if args.overwrite:
        clear_out_dir(args.out, processes)
    summary = build(args.manifest, args.out, options, on_error=args.on_error, processes=processes)
    if processes is not None and processes.process_index != 0:
        return
    print(summary.format())
    if not sum(summary.examples.values()):
        raise SystemExit(f"hf-livechat {args.command}: error: no {unit} was built from {args.manifest} (see the skipped VODs above)")
    print(f"dataset: {args.out} (load with datasets.load_dataset({str(args.out)!r}))")
