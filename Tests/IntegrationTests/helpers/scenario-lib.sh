# SPDX-License-Identifier: Apache-2.0
# The checks of the engine scenarios (docker-scenario.sh, buildah-scenario.sh,
# cri/pod-scenario.sh), sourced by each: one TAP line per check, `ok - …` or `not ok - …`,
# with what was expected on stderr as `# …` lines; a scenario ends with `finish`.
failures=0
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds (its stdout is dropped).
check() {
    description=$1
    shift
    if "$@" >/dev/null; then
        echo "ok - $description"
    else
        echo "not ok - $description"
        failures=$((failures + 1))
        return 1
    fi
}
# require DESCRIPTION COMMAND...: like check, but nothing after it can pass without it.
require() { check "$@" || exit 1; }
same() { [ "$1" = "$2" ] || { echo "# expected '$2', got '$1'" >&2 && false; }; }
has() { case "$1" in *"$2"*) true ;; *) echo "# '$2' not in '$1'" >&2 && false ;; esac; }
# within SECONDS COMMAND...: COMMAND succeeds within SECONDS (polled every 0.25 s).
within() {
    tries=$(($1 * 4))
    shift
    until "$@"; do
        tries=$((tries - 1))
        [ $tries -gt 0 ] || return 1
        sleep 0.25
    done
}
finish() { exit $((failures > 0)); }
