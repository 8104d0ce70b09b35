# Shared by script/server and script/test (sourced): find Python, install Debian packages, and keep .venv
# installed from a dependency lock (requirements/<name>.txt: exact versions with hashes, see script/lock).

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    echo "$0: Python 3.11 or newer is required; none found on PATH (set PYTHON=/path/to/python3)." >&2
    exit 1
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # Fresh images ship without package lists; refresh them only when a package is unknown.
    local package
    for package in "$@"; do
        if ! apt-cache show "$package" >/dev/null 2>&1; then
            apt-get update
            break
        fi
    done
    apt-get install -y --no-install-recommends "$@"
}

# Whether Tesseract is installed with its Lao and English data (OCR of scanned and old-font Lao texts).
tesseract_has_lao() {
    command -v tesseract >/dev/null 2>&1 &&
        tesseract --list-langs 2>/dev/null | grep -qx lao &&
        tesseract --list-langs 2>/dev/null | grep -qx eng
}

# Creates .venv when missing or broken, then installs requirements/<lock>.txt with every hash checked and the
# package itself on top (no dependency resolved outside the lock), only when the lock or the packaging
# files changed since the last install, so that later runs start in seconds.
ensure_venv() {
    local lock=requirements/$1.txt stamp=.venv/.installed-$1 python digest
    if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$(find_python)
        [[ -e .venv ]] && echo "Recreating .venv: its Python does not run or is older than 3.11."
        rm -rf .venv
        if ! "$python" -m venv .venv; then
            # Debian ships ensurepip separately, in python3-venv.
            rm -rf .venv
            if [[ $EUID -ne 0 ]]; then
                echo "$0: '$python -m venv' failed; install python3-venv (as root: apt-get install python3-venv)." >&2
                exit 1
            fi
            apt_install python3-venv
            "$python" -m venv .venv
        fi
    fi
    digest=$(cat "$lock" setup.cfg pyproject.toml | sha256sum)
    if [[ ! -f $stamp || $(cat "$stamp") != "$digest" ]]; then
        echo "Installing $lock into .venv ..."
        .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r "$lock"
        # The build dependencies come from the lock too, hence no isolated build environment.
        .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
        rm -f .venv/.installed-*
        echo "$digest" >"$stamp"
    fi
}
