# Sourced by the study scripts beside it (which set $root to the repository): training a study's configs
# into its results folder and drawing its figures.

# check_device SCRIPT DEVICE: "", cpu or cuda, else a one-line error and exit 2.
check_device() {
  case "$2" in ""|cpu|cuda) ;; *) echo "$1: --device must be cpu or cuda, got '$2'" >&2; exit 2 ;; esac
}

# train_runs STUDY_DIR DEVICE CONFIG_PREFIX RUN...: trains configs/<CONFIG_PREFIX><RUN>.json into
# STUDY_DIR/<RUN> for each RUN, with --resume (an interrupted reproduction continues, finished runs stay).
train_runs() {
  local study="$1" device="$2" prefix="$3"
  shift 3
  "$root/scripts/setup"
  "$root/scripts/build" --target mechlab
  local mechlab="${MECHLAB_BUILD_DIR:-$root/build}/mechlab" run
  for run in "$@"; do
    echo "== $prefix$run" >&2
    "$mechlab" run "$root/configs/$prefix$run.json" --resume --out "$study/$run" ${device:+--device "$device"}
  done
}

# draw_figures FIGURE_SCRIPT STUDY_DIR: scripts/figures/FIGURE_SCRIPT over the study's runs.
draw_figures() {
  "$root/scripts/setup" --figures
  /usr/bin/python3 "$root/scripts/figures/$1" "$2"
}
