#!/usr/bin/env bash
# Idempotent set-up: Debian packages, .venv on Debian's python3 with only graph_tool exposed,
# locked dependencies, editable install. Re-running when everything is present takes ~1 s.
#   scripts/setup.sh          what `make run` needs
#   scripts/setup.sh --test   plus Chromium (browser tests) and the test extras
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
want_test=0
[[ ${1:-} == --test ]] && want_test=1

log() { printf '[setup] %s\n' "$*" >&2; }

debian_packages=(python3-graph-tool python3-venv)
((want_test)) && debian_packages+=(chromium chromium-driver)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's graph-tool is built for Debian's own interpreter, so the venv must use it.
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  log "creating .venv with /usr/bin/python3"
  rm -rf .venv
  /usr/bin/python3 -m venv .venv
fi

# Expose only the graph_tool package (not --system-site-packages): Debian's numpy/scipy
# would otherwise shadow the locked versions.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p .venv/debian-graph-tool
ln -sfn /usr/lib/python3/dist-packages/graph_tool .venv/debian-graph-tool/graph_tool
echo "$root/.venv/debian-graph-tool" > "$site/debian-graph-tool.pth"

uv_version=0.13.9
if [[ ! -x .venv/bin/uv ]] || [[ $(.venv/bin/uv --version | cut -d' ' -f2) != "$uv_version" ]]; then
  log "installing uv $uv_version"
  .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$uv_version"
fi

stamp=.venv/.chokepoint-installed
# The recipe's version is part of the fingerprint: a venv installed by an earlier recipe is redone.
recipe=2   # 2: site-packages compiled to bytecode
fingerprint=$({ cat requirements.lock pyproject.toml; echo "recipe $recipe"; } | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp ]] || [[ $(cat "$stamp") != "$fingerprint" ]]; then
  log "installing locked dependencies (requirements.lock)"
  export VIRTUAL_ENV=$root/.venv
  # Bytecode now, not at first import: where PYTHONDONTWRITEBYTECODE is set (as on this
  # machine) every process would otherwise compile Dagster, cvxpy and the rest from source.
  .venv/bin/uv pip sync -q --compile-bytecode --python .venv/bin/python requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  .venv/bin/python -c 'import graph_tool, numpy, cvxpy, dagster, polars, duckdb' \
    || { log "import check failed after install"; exit 1; }
  echo "$fingerprint" > "$stamp"
fi
# The project's own modules too (only files changed since their last compile are redone).
.venv/bin/python -m compileall -q chokepoint graph optimization pipelines bench tests >/dev/null
