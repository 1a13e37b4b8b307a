#!/usr/bin/env bash
# The shell steps of the classgate action (action.yml beside this file), here rather
# than inline so that they run the same on a laptop as on a runner:
#
#   gate.sh install    classgate from this action's checkout, pinned by its lock
#   gate.sh validate   the gate; the verdict and exit code become step outputs
#
# Inputs arrive as INPUT_* environment variables, never as text spliced into a script:
# a pattern or a branch name is data, not shell (GitHub's "script injection"). Nor can
# an input add a line to $GITHUB_OUTPUT (a `verdict=pass` after a fail): the outputs
# are written in GitHub's NAME<<DELIMITER form with a random delimiter, and an output
# folder whose name holds a line break, or that the upload step would read as a
# pattern, is refused. What classgate prints (file and feature names from the data
# among it) runs with workflow commands stopped.
set -euo pipefail

# A virtual environment of its own: the job's Python and packages stay as they were.
venv="${RUNNER_TEMP:?}/classgate-venv"
# Words of a command line, NUL-terminated, byte for byte as given (text that is not
# UTF-8 too); exit 2 on unbalanced quotes or a trailing backslash.
SPLIT_WORDS='import os, shlex, sys
try:
    words = shlex.split(sys.argv[1])
except ValueError:
    sys.exit(2)
sys.stdout.buffer.write(b"".join(os.fsencode(w) + b"\0" for w in words))'

install() {
  local root
  root=$(cd "${GITHUB_ACTION_PATH:?}/../.." && pwd)
  python -m venv "$venv"
  # The lock is what the test suite ran against; as constraints it pins every
  # dependency without installing the tools it also lists. pyarrow must come as a
  # wheel: building it from source fails.
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
    --only-binary pyarrow -c "$root/requirements.lock" "$root"
  # Later steps of the job (a `classgate run` of the user's trainer) find it too.
  echo "$venv/bin" >>"${GITHUB_PATH:?}"
}

validate() {
  local output=${INPUT_OUTPUT:-classgate-out}
  local classgate=classgate  # one the job installed itself, without the install step
  if [ -x "$venv/bin/classgate" ]; then classgate="$venv/bin/classgate"; fi
  # The upload and JUnit steps take the folder from the output `output`, as a list of
  # patterns, one a line (\r\n ends one on Windows): a line break would add paths, a
  # `*`, `?`, `[` or a leading `!` or `~` would make one a pattern. No folder name a
  # user means holds them; the output `output` stays empty, so nothing is uploaded.
  case $output in
    *$'\n'* | *$'\r'*)
      echo "::error::classgate: the input output holds a line break: name a folder without one"
      finish "" 2
      ;;
    *[*?[]* | '!'* | '~'*)
      echo "::error::classgate: the input output reads as a pattern (*, ?, [, or a leading ! or ~): name a plain folder"
      finish "" 2
      ;;
  esac
  local -a args=(validate --output "$output" --junit-xml "$output/junit.xml")
  local -a words
  local word

  # Whitespace separates patterns and configs; `read -a` splits without expanding
  # globs, which are classgate's to expand (gs:// ones too).
  read -r -d '' -a words <<<"${INPUT_DATA:-}" || true
  for word in "${words[@]}"; do args+=(--data "$word"); done
  read -r -d '' -a words <<<"${INPUT_SPLITS:-}" || true
  for word in "${words[@]}"; do args+=(--split "$word"); done
  read -r -d '' -a words <<<"${INPUT_MODEL_CONFIGS:-}" || true
  for word in "${words[@]}"; do args+=(--model-config "$word"); done
  case "${INPUT_LABELS_ONLY:-false}" in
    true | True | TRUE) args+=(--labels-only) ;;
  esac
  # Extra arguments are split as a POSIX shell splits words (quotes keep a JSON
  # --environment_config whole), and nothing in them is expanded or run.
  local -a extra
  mapfile -t -d '' extra < <(python3 -c "$SPLIT_WORDS" "${INPUT_BEAM_OPTIONS:-}" 2>/dev/null)
  if ! wait $!; then
    echo "::error::classgate: the input beam-options has unbalanced quotes or a trailing backslash (it is split as a shell splits words)"
    finish "$output" 2
  fi

  # classgate appends report.md to $GITHUB_STEP_SUMMARY itself: not again here.
  local code=0 has_verdict=true resume
  resume=$(token)
  echo "::stop-commands::$resume"
  "$classgate" "${args[@]}" "${extra[@]}" || code=$?
  # Exit 0 is a pass only when the gate opens on the report it wrote: a dry run or a
  # submitted job (--dry_run, --no-wait among the options) exits 0 with no verdict.
  if [ "$code" = 0 ] && ! "$classgate" run --report "$output/report.json" -- true; then
    has_verdict=false
    code=2
  fi
  echo "::$resume::"
  if [ "$has_verdict" = false ]; then
    echo "::error::classgate: exit 0 but no passing report in $output (a dry run or --no-wait?): no verdict"
  fi
  finish "$output" "$code"
}

# 128 random bits in hex: a delimiter or stop token no input can guess or hold.
token() {
  od -An -tx1 -N16 /dev/urandom | tr -d ' \n'
}

# The verdict of an exit code (2: bad input, 3: a classgate defect, 130: interrupted
# are errors) as step outputs; exits with the code, so a failing gate fails the step.
finish() {
  local verdict=error
  case $2 in
    0) verdict=pass ;;
    1) verdict=fail ;;
  esac
  put verdict "$verdict"
  put exit-code "$2"
  put output "$1"
  exit "$2"
}

# One step output in GitHub's multiline form: whatever the value holds, it stays the
# value of NAME (a line of its own, `verdict=pass`, included).
put() {
  local delimiter
  delimiter="ghadelimiter_$(token)"
  if [[ $2 == *"$delimiter"* ]]; then
    echo "::error::classgate: the value of output $1 holds its delimiter"
    exit 3
  fi
  printf '%s<<%s\n%s\n%s\n' "$1" "$delimiter" "$2" "$delimiter" >>"${GITHUB_OUTPUT:?}"
}

case "${1:-}" in
  install | validate) "$1" ;;
  *)
    echo "usage: gate.sh install|validate" >&2
    exit 2
    ;;
esac
