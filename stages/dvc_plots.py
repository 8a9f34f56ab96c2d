"""Stage `dvc_plots`: the files `dvc plots show` draws (one file or column per group, no empty cells), derived
from the long CSVs of the stages that produce them; light, so `dvc repro -s dvc_plots` runs anywhere."""

from inbol.dvc_plots import write_dvc_plot_files
from inbol.errors import run_stage, stage_args


def main() -> None:
    args = stage_args(__doc__, "hist_csv", "reliability_csv", "risk_coverage_csv", "exposure_csv", "out")
    files = write_dvc_plot_files(
        hist_csv=args.hist_csv,
        reliability_csv=args.reliability_csv,
        risk_coverage_csv=args.risk_coverage_csv,
        exposure_csv=args.exposure_csv,
        out_dir=args.out,
    )
    print(f"{args.out}: {len(files)} files")


if __name__ == "__main__":
    run_stage(main)
