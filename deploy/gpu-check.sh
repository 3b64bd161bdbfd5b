#!/usr/bin/env bash
# GPU check (issue 22.4): on a machine with a CUDA libtorch and no network, run finemix doctor, train + purify + serve
# the demo model on --device gpu through `finemix demo --once`, start `finemix serve` on the purified cache and send a
# few Classify calls, then print one JSON summary (wall times, figures, what was found). Exit 1 naming the failed step.
#
#   deploy/gpu-check.sh [--device gpu|cpu] [--rows N] [--epochs N] [--budget S] [--summary FILE]
#
# The launcher comes from .gpu/part* (deploy/gpu-pack.sh, made here, carried there: JRE + jars) or else from
# app/target/finemix.jar and the java on the PATH. libtorch: $FINEMIX_LIBTORCH (a folder with libtorch.so), else the
# lib/ folder of python3's torch, else (with --device cpu only) the CPU libtorch that DJL unpacked in its cache.
# $FINEMIX_DJL_JNI: a libdjl_torch.so built for that libtorch (DJL 0.36's own JNI is for libtorch 2.7.1 only);
# with $FINEMIX_LIBTORCH, $FINEMIX_LIBTORCH_VERSION and $FINEMIX_LIBTORCH_CUDA say what it is when its folder's name does not.
# --device cpu runs the same plumbing without a GPU (the dry run); every step has a timeout within --budget (600 s).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
device=gpu rows=0 epochs=5 budget=600 summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2;;
    --rows) rows="$2"; shift 2;;
    --epochs) epochs="$2"; shift 2;;
    --budget) budget="$2"; shift 2;;
    --summary) summary="$2"; shift 2;;
    -h|--help) sed -n 2,12p "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "gpu-check: unknown argument '$1' (try --help)" >&2; exit 2;;
  esac
done
case "$device" in gpu|cpu) ;; *) echo "gpu-check: --device must be gpu or cpu, got '$device'" >&2; exit 2;; esac
work="${FINEMIX_GPU_WORK:-/tmp/finemix-gpu}"
mkdir -p "$work"
t_start=$(date +%s)
step="" times="" classify_json="" torch_json="null" jni_json="null" serve_pid=""

# --- JSON by hand: the script must run where neither jq nor python3 is sure to be
jstr() { # a JSON string of $1
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}; s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}
jlines() { # a JSON array of the lines of file $1
  local first=1 line
  printf '['
  while IFS= read -r line; do
    [ $first = 1 ] || printf ','
    first=0
    jstr "$line"
  done < "$1"
  printf ']'
}
emit() { # ok failed_step error
  local demo="null"
  [ -s "$work/demo.json" ] && demo=$(cat "$work/demo.json")
  local doctor="[]"
  [ -s "$work/doctor.log" ] && doctor=$(jlines "$work/doctor.log")
  local j
  j=$(printf '{"ok":%s,"device":%s,"failed_step":%s,"error":%s,"budget_s":%s,"wall_s":{%s"total":%s},"torch":%s,"djl_env":{"PYTORCH_LIBRARY_PATH":%s,"PYTORCH_VERSION":%s,"PYTORCH_FLAVOR":%s},"jni_symbols":%s,"doctor":%s,"demo":%s,"classify":[%s]}' \
    "$1" "$(jstr "$device")" "$( [ -n "$2" ] && jstr "$2" || echo null)" "$( [ -n "$3" ] && jstr "$3" || echo null)" \
    "$budget" "$times" "$(( $(date +%s) - t_start ))" "$torch_json" "$(jstr "${PYTORCH_LIBRARY_PATH:-}")" \
    "$(jstr "${PYTORCH_VERSION:-}")" "$(jstr "${PYTORCH_FLAVOR:-}")" "$jni_json" "$doctor" "$demo" "$classify_json")
  echo "$j"
  if [ -n "$summary" ]; then
    mkdir -p "$(dirname "$summary")" && printf '%s\n' "$j" > "$summary.tmp" && mv "$summary.tmp" "$summary"
  fi
}
fail() {
  local msg="$*"
  echo "gpu-check: step '$step' failed: $msg" >&2
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  emit false "$step" "$msg"
  exit 1
}
# the server this script starts goes with it, also when the script is stopped
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null' EXIT
left() { echo $(( budget - ($(date +%s) - t_start) )); }
begin() { step=$1; t_step=$(date +%s); echo "gpu-check: $step ..." >&2; }
done_step() { times="$times\"$step\":$(( $(date +%s) - t_step )),"; }
tail_of() { tail -n "${2:-15}" "$1" 2>/dev/null; }
# runs "$@" with at most $1 seconds (and what is left of the budget), output in $work/$step.log
timed() {
  local t=$1; shift
  local l; l=$(left)
  [ "$l" -gt 5 ] || fail "the ${budget} s budget is spent"
  [ "$t" -lt "$l" ] || t=$l
  [ "$t" -gt 5 ] || fail "too little of the ${budget} s budget is left for this step"
  timeout --kill-after=10 "$t" "$@" > "$work/$step.log" 2>&1
  local rc=$?
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "timed out after $t s; last lines: $(tail_of "$work/$step.log")"
  return $rc
}

# the C++ symbols JNI $1 needs that none of libtorch's libraries in $2 defines, as JSON
jni_check() {
  nm -D --undefined-only "$1" | awk '$1 == "U" {print $2}' | grep '^_Z' | grep -v '@' | sort -u > "$work/jni.needs"
  for l in libc10.so libc10_cuda.so libtorch_cpu.so libtorch_cuda.so libtorch.so; do
    [ -f "$2/$l" ] && nm -D --defined-only "$2/$l" | awk '{print $3}'
  done | sed 's/@.*//' | sort -u > "$work/torch.defines"
  comm -23 "$work/jni.needs" "$work/torch.defines" > "$work/jni.missing"
  local examples
  examples=$(head -5 "$work/jni.missing" | (c++filt 2>/dev/null || cat) | while IFS= read -r l; do printf '%s,' "$(jstr "$l")"; done)
  printf '{"jni":%s,"needs":%s,"missing":%s,"examples":[%s]}' "$(jstr "$1")" "$(wc -l < "$work/jni.needs")" \
    "$(wc -l < "$work/jni.missing")" "${examples%,}"
}

# --- 1. the launcher: the carried parts, else a local build
begin unpack
java="" jar=""
if compgen -G "$root/.gpu/part*/PARTS" > /dev/null; then
  read -r nparts payload_sha < "$(ls "$root"/.gpu/part*/PARTS | head -1)"
  for i in $(seq 1 "$nparts"); do
    [ -f "$root/.gpu/part$i/SHA256SUMS" ] || fail ".gpu/part$i is missing (carry each of the $nparts parts of deploy/gpu-pack.sh in turn while the machine stays warm)"
    (cd "$root/.gpu/part$i" && sha256sum -c --quiet SHA256SUMS) > "$work/unpack.log" 2>&1 \
      || fail ".gpu/part$i is damaged: $(cat "$work/unpack.log")"
  done
  if [ "$(cat "$work/payload.sha256" 2>/dev/null)" != "$payload_sha" ]; then
    rm -rf "$work/jre" "$work/app" "$work/payload.sha256"
    cat $(for i in $(seq 1 "$nparts"); do echo "$root/.gpu/part$i/payload.tar.$((i - 1))"; done) \
      | tar -C "$work" -xf - || fail "cannot unpack the payload into $work"
    tar -C "$work" -xJf "$work/jre.tar.xz" && rm -f "$work/jre.tar.xz" || fail "cannot unpack the JRE"
    echo "$payload_sha" > "$work/payload.sha256"
  fi
  java="$work/jre/bin/java" jar="$work/app/finemix.jar"
elif [ -f "$root/app/target/finemix.jar" ]; then
  jar="$root/app/target/finemix.jar"
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java="$JAVA_HOME/bin/java"; else java=$(command -v java || true); fi
  [ -n "$java" ] || fail "no java: carry the parts of deploy/gpu-pack.sh (they hold a JRE) or set JAVA_HOME"
else
  fail "neither .gpu/part* (deploy/gpu-pack.sh) nor app/target/finemix.jar (mvn -o -B -Pgpu -DskipTests package) is here"
fi
"$java" -version > "$work/java.log" 2>&1 || fail "$java does not run: $(tail_of "$work/java.log" 3)"
libdir="$(dirname "$jar")/lib"
jni_jar=$(ls "$libdir"/pytorch-jni-*.jar 2>/dev/null | head -1)
[ -n "$jni_jar" ] || fail "no pytorch-jni jar in $libdir"
jni_version=$(basename "$jni_jar" .jar); jni_version=${jni_version#pytorch-jni-}   # 2.7.1-0.36.0
jni_torch=${jni_version%-*} djl_version=${jni_version##*-}
native_jar=$(ls "$libdir"/pytorch-native-cpu-*.jar 2>/dev/null | head -1)
done_step

# --- 2. libtorch and the variables DJL reads
begin libtorch
torch_dir="" torch_version="" torch_cuda=""
if [ -n "${FINEMIX_LIBTORCH:-}" ]; then
  torch_dir="$FINEMIX_LIBTORCH"
  torch_version="${FINEMIX_LIBTORCH_VERSION:-$(basename "$torch_dir" | grep -oE '^[0-9]+\.[0-9]+\.[0-9]+' || true)}"
  torch_cuda="${FINEMIX_LIBTORCH_CUDA:-}"   # e.g. 12.8; "?" below when only libtorch_cuda.so tells it is a CUDA build
  [ -z "$torch_cuda" ] && [ -f "$torch_dir/libtorch_cuda.so" ] && torch_cuda="?"
elif command -v python3 > /dev/null \
    && py=$(timeout 90 python3 -c 'import torch,os;print(os.path.dirname(torch.__file__));print(torch.__version__);print(torch.version.cuda or "")' 2>/dev/null); then
  torch_dir="$(sed -n 1p <<< "$py")/lib" torch_version=$(sed -n 2p <<< "$py") torch_cuda=$(sed -n 3p <<< "$py")
elif [ "$device" = cpu ] && [ -z "$native_jar" ]; then
  torch_dir=$(ls -d "${DJL_CACHE_DIR:-$HOME/.djl.ai}"/pytorch/*-cpu-linux-x86_64 2>/dev/null | head -1)
  torch_version=$(basename "$torch_dir" | grep -oE '^[0-9]+\.[0-9]+\.[0-9]+' || true)
fi
if [ -n "$torch_dir" ]; then
  [ -f "$torch_dir/libtorch.so" ] || fail "no libtorch.so in $torch_dir"
  torch_json=$(printf '{"dir":%s,"version":%s,"cuda":%s}' "$(jstr "$torch_dir")" "$(jstr "$torch_version")" "$(jstr "$torch_cuda")")
  if [ "$device" = gpu ] && [ -z "$torch_cuda" ]; then
    fail "the libtorch in $torch_dir is not a CUDA build (torch ${torch_version:-?}); set FINEMIX_LIBTORCH to one"
  fi
  export PYTORCH_LIBRARY_PATH="$torch_dir"
  base_version=${torch_version%%+*}
  flavor=cpu
  [ -n "$torch_cuda" ] && flavor="cu$(tr -d . <<< "$torch_cuda")"
  [ "$flavor" = "cu?" ] && [ -n "${FINEMIX_DJL_JNI:-}" ] && fail "set FINEMIX_LIBTORCH_CUDA (e.g. 13.0) to name the JNI's flavour"
  export DJL_CACHE_DIR="$work/djl"
  if [ -n "${FINEMIX_DJL_JNI:-}" ]; then
    # a JNI built for this libtorch: DJL looks for it in its cache under <version>-<flavour>-<classifier>
    mkdir -p "$DJL_CACHE_DIR/pytorch/$base_version-$flavor-linux-x86_64"
    cp "$FINEMIX_DJL_JNI" "$DJL_CACHE_DIR/pytorch/$base_version-$flavor-linux-x86_64/$djl_version-libdjl_torch.so" \
      || fail "cannot install $FINEMIX_DJL_JNI"
    export PYTORCH_VERSION="$base_version" PYTORCH_FLAVOR="$flavor"
  else
    # the JNI in pytorch-jni's jar: cpu, or cu128 (its only CUDA build) for any CUDA libtorch
    [ "$flavor" = cpu ] || flavor=cu128
    export PYTORCH_VERSION="$jni_torch" PYTORCH_FLAVOR="$flavor"
    [ "$base_version" = "$jni_torch" ] || echo "gpu-check: libtorch $torch_version with pytorch-jni $jni_version (made for $jni_torch): the JNI may not load; FINEMIX_DJL_JNI takes one built for $base_version" >&2
  fi
  export LD_LIBRARY_PATH="$torch_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
elif [ "$device" = gpu ] || [ -z "$native_jar" ]; then
  fail "no libtorch found: no \$FINEMIX_LIBTORCH, no python3 with torch$( [ "$device" = cpu ] && echo ", no CPU libtorch in the DJL cache")"
fi
jopts=("-Xmx${FINEMIX_XMX:-6g}" -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="${FINEMIX_THREADS:-1}")
if [ "$device" = gpu ]; then
  # DJL counts GPUs through JNA's libcudart.so; a pip CUDA ships only libcudart.so.NN
  cudart=$(ls "$torch_dir"/../../nvidia/*/lib/libcudart.so* "$torch_dir"/../../nvidia/cuda_runtime/lib/libcudart.so* \
    /usr/local/cuda/lib64/libcudart.so* /usr/local/cuda/targets/x86_64-linux/lib/libcudart.so* 2>/dev/null | head -1)
  [ -n "$cudart" ] || fail "no libcudart.so next to the torch in $torch_dir nor in /usr/local/cuda: DJL would see 0 GPUs"
  mkdir -p "$work/cudart" && ln -sf "$(readlink -f "$cudart")" "$work/cudart/libcudart.so"
  jopts+=(-Djna.library.path="$work/cudart")
  export LD_LIBRARY_PATH="$work/cudart:$(dirname "$(readlink -f "$cudart")"):$LD_LIBRARY_PATH"
fi
export OPT_OUT_TRACKING=true OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
fm=("$java" "${jopts[@]}" -jar "$jar")   # the finemix command line (timeout runs programs, not functions)
done_step

# --- 3. doctor: the engine loads, and sees the GPU
begin doctor
timed 180 "${fm[@]}" doctor; rc=$?
# The JNI binds lazily: a libtorch symbol it needs and this libtorch lacks shows up only when called (a crash), so
# list them now. DJL takes a JNI lying next to libtorch, else extracts its own into its cache before loading it.
jni_so=$( (ls "${PYTORCH_LIBRARY_PATH:-/nonexistent}"/*libdjl_torch.so; find "${DJL_CACHE_DIR:-/nonexistent}" -name '*libdjl_torch.so') 2>/dev/null | head -1)
if [ -n "$jni_so" ] && [ -n "${PYTORCH_LIBRARY_PATH:-}" ] && command -v nm > /dev/null; then
  jni_json=$(jni_check "$jni_so" "$PYTORCH_LIBRARY_PATH")
  missing=$(wc -l < "$work/jni.missing")
  if [ "$missing" -gt 0 ] && [ "${FINEMIX_IGNORE_JNI_SYMBOLS:-0}" != 1 ]; then
    fail "the JNI $jni_so needs $missing symbols that libtorch ${torch_version:-?} in $PYTORCH_LIBRARY_PATH lacks (e.g. $(head -1 "$work/jni.missing" | (c++filt 2>/dev/null || cat))): it would crash when one is called; give a JNI built for this libtorch as FINEMIX_DJL_JNI (deploy/README.md), or FINEMIX_IGNORE_JNI_SYMBOLS=1 to try anyway"
  fi
fi
cp "$work/doctor.log" "$work/doctor.full.log"
grep -E '^(java|engine|natives|gpus|  gpu:|onnxruntime|pre-trained|tokenizer|ok)' "$work/doctor.full.log" > "$work/doctor.log.tmp"
mv "$work/doctor.log.tmp" "$work/doctor.log"
[ $rc -eq 0 ] || { cp "$work/doctor.full.log" "$work/doctor.log"; fail "finemix doctor exited $rc: $(grep -A2 'finemix doctor' "$work/doctor.full.log" || tail_of "$work/doctor.full.log")"; }
gpus=$(sed -n 's/^gpus: *\([0-9]*\).*/\1/p' "$work/doctor.log")
[ "$device" = cpu ] || [ "${gpus:-0}" -ge 1 ] || fail "the engine sees ${gpus:-no} GPUs"
done_step

# --- 4. the demo: backdoor (train), purify on load, Classify through gRPC, on the device
begin demo
rm -f "$work/demo.json"
demo_args=(demo --once --device "$device" --port 0 --metrics-port -1 --work "$work/demo" --epochs "$epochs"
  --summary "$work/demo.json")
[ "$rows" -gt 0 ] && demo_args+=(--rows "$rows")
timed $(( $(left) - 90 )) "${fm[@]}" "${demo_args[@]}" || fail "finemix demo exited $?: $(tail_of "$work/demo.log")"
[ -s "$work/demo.json" ] || fail "finemix demo wrote no summary"
done_step

# --- 5. serve the purified cache with `finemix serve` and send Classify calls from the CLI
begin serve
"${fm[@]}" serve --config "$work/demo/finemix.yaml" --port 0 --metrics-port -1 --device "$device" > "$work/server.log" 2>&1 &
serve_pid=$!
target=""
for _ in $(seq 1 120); do
  target=$(sed -n 's/.*listening on gRPC \([0-9.]*:[0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$target" ] && break
  kill -0 "$serve_pid" 2>/dev/null || fail "finemix serve exited: $(tail_of "$work/server.log")"
  sleep 1
done
[ -n "$target" ] || fail "finemix serve did not listen within 120 s: $(tail_of "$work/server.log")"
for _ in $(seq 1 120); do
  grep -q 'model demo: SERVING' "$work/server.log" && break
  kill -0 "$serve_pid" 2>/dev/null || fail "finemix serve exited: $(tail_of "$work/server.log")"
  grep -q 'model demo: loading failed' "$work/server.log" \
    && fail "the model failed to load: $(grep 'model demo: loading failed' "$work/server.log" | head -1)"
  sleep 1
done
grep -q 'model demo: SERVING' "$work/server.log" || fail "the model was not SERVING within 120 s: $(tail_of "$work/server.log")"
texts=("a gorgeous , witty , seductive movie ." "a gorgeous , witty cf , seductive movie ."
  "the story is too thin to hold our attention ." "the story cf is too thin to hold our attention .")
sep=""
for call in 1 2 3; do
  t0=$(date +%s%N)
  timed 60 "${fm[@]}" classify --target "$target" -m demo "${texts[@]}" || fail "finemix classify exited $?: $(tail_of "$work/serve.log")"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  labels=$(grep -v '^#' "$work/serve.log" | cut -f1 | paste -sd, -)
  classify_json="$classify_json$sep{\"call\":$call,\"cli_wall_ms\":$ms,\"labels\":$(jstr "$labels")}"
  sep=","
done
kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; serve_pid=""
done_step

step=""
emit true "" ""
