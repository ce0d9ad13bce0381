# Sourced by the study scripts beside it (which set $root to the repository): training a study's configs
# into its results folder and drawing its figures.

# The Python that draws figures and runs the NumPy analyses: Debian's, where scripts/setup --figures installs
# NumPy and matplotlib; $PYTHON names another (a machine whose system Python lacks them).
python="${PYTHON:-/usr/bin/python3}"

# check_device SCRIPT DEVICE: "", cpu or cuda, else a one-line error and exit 2.
check_device() {
  case "$2" in ""|cpu|cuda) ;; *) echo "$1: --device must be cpu or cuda, got '$2'" >&2; exit 2 ;; esac
}

# print_usage SCRIPT: the script's header comment (the lines after #! up to the first that is not a comment),
# without the leading "# ", for --help.
print_usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1' "$1" | sed 's/^# \{0,1\}//'
}

# mechlab_binary: prints the mechlab to use: $MECHLAB_BINARY when set (one built elsewhere, e.g. for a GPU machine
# without the build tools), else ours, installed and built first.
mechlab_binary() {
  if [ -n "${MECHLAB_BINARY:-}" ]; then echo "$MECHLAB_BINARY"; return; fi
  "$root/scripts/setup" >&2
  "$root/scripts/build" --target mechlab >&2
  echo "${MECHLAB_BUILD_DIR:-$root/build}/mechlab"
}

# train_runs STUDY_DIR DEVICE CONFIG_PREFIX RUN...: trains configs/<CONFIG_PREFIX><RUN>.json into
# STUDY_DIR/<RUN> for each RUN, with --resume (an interrupted reproduction continues, finished runs stay).
train_runs() {
  local study="$1" device="$2" prefix="$3"
  shift 3
  local mechlab run
  mechlab="$(mechlab_binary)"
  for run in "$@"; do
    echo "== $prefix$run" >&2
    "$mechlab" run "$root/configs/$prefix$run.json" --resume --out "$study/$run" ${device:+--device "$device"}
  done
}

# draw_figures FIGURE_SCRIPT STUDY_DIR: scripts/figures/FIGURE_SCRIPT over the study's runs.
draw_figures() {
  [ -n "${PYTHON:-}" ] || "$root/scripts/setup" --figures
  "$python" "$root/scripts/figures/$1" "$2"
}
