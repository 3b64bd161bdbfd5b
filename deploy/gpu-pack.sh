#!/usr/bin/env bash
# Packs what deploy/gpu-check.sh needs on a GPU machine that has no network, no Maven and maybe no Java into parts
# small enough for the device tool's 64 MiB carry (the working tree travels too, ~2 MB): one tar of a jlink'd JRE
# (jre.tar.xz, 30 MB) and the launcher with its jars (app/: less the CPU libtorch, the other bases and the int8 twin,
# with ONNX Runtime, the tokenizers and the JNI cut to their linux-x86_64 natives; the MiniLM jar alone is 83 MB), split
# into .gpu/part1, part2, ... of at most 54 MiB, each with a SHA256SUMS that gpu-check.sh verifies. Run here, from the
# repo root, after
#   mvn -o -B -Pgpu -DskipTests package
# Then carry one part per device call, in order, while the machine stays warm (deploy/README.md, "GPU check").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$root/app/target"
out="$root/.gpu"
die() { echo "gpu-pack: $*" >&2; exit 1; }
[ -f "$app/finemix.jar" ] || die "no $app/finemix.jar: run mvn -o -B -Pgpu -DskipTests package first"
command -v jlink >/dev/null || die "jlink (a JDK 17) is needed to make the JRE"
command -v zip >/dev/null || die "zip is needed to cut the natives of other platforms out of the jars"
# the jars the launcher's manifest names (target/lib may hold stale ones from another build)
mapfile -t jars < <(unzip -p "$app/finemix.jar" META-INF/MANIFEST.MF | tr -d '\r' \
  | awk '/^Class-Path: /{on=1; printf "%s", substr($0, 13); next} on && /^ /{printf "%s", substr($0, 2); next} {on=0}' \
  | tr ' ' '\n' | grep '\.jar$')
[ "${#jars[@]}" -gt 0 ] || die "the manifest of $app/finemix.jar names no jars"
for j in "${jars[@]}"; do
  case "$j" in *pytorch-native-cpu*) die "$app/finemix.jar was built with the CPU natives: rebuild with -Pgpu";; esac
done
rm -rf "$out"
mkdir -p "$out/stage/app/lib"
trap 'rm -rf "$out/stage"' EXIT
cp "$app/finemix.jar" "$out/stage/app/"
for j in "${jars[@]}"; do
  f="$app/$j"
  case "$j" in
    *embeddings-bge-*|*embeddings-e5-*|*minilm-l6-v2-q-*) continue;;  # other bases and the int8 twin: not in the check
  esac
  [ -f "$f" ] || die "missing $f"
  cp "$f" "$out/stage/app/lib/"
done
[ -n "$(ls "$out/stage/app/lib" | grep embeddings-all-minilm-l6-v2-1)" ] || die "the MiniLM jar is not on the class path"
# other platforms' natives (and ORT's debug symbols) are most of these jars' size
(cd "$out/stage/app/lib" && zip -q -d onnxruntime-*.jar 'ai/onnxruntime/native/osx-*' 'ai/onnxruntime/native/win-*' \
  'ai/onnxruntime/native/linux-aarch64/*' '_manifest/*' \
  && zip -q -d tokenizers-*.jar 'native/lib/osx-*' 'native/lib/win-*' 'native/lib/linux-aarch64/*' \
  && zip -q -d pytorch-jni-*.jar 'jnilib/osx-*' 'jnilib/win-*' 'jnilib/linux-aarch64/*')
# the modules jdeps finds in the jars, plus logging/TLS/zipfs that they load reflectively; with include/ (jni.h), for
# building a JNI against the machine's libtorch there (deploy/README.md)
jlink --add-modules java.base,java.compiler,java.desktop,java.logging,java.management,java.naming,java.sql,java.xml,\
jdk.httpserver,jdk.jfr,jdk.management,jdk.unsupported,jdk.crypto.ec,jdk.zipfs \
  --strip-debug --no-man-pages --compress=2 --output "$out/stage/jre"
tar -C "$out/stage" -cJf "$out/stage/jre.tar.xz" jre
tar -C "$out/stage" -cf "$out/stage/payload.tar" jre.tar.xz app
split -b 54M -d -a 1 "$out/stage/payload.tar" "$out/stage/payload.tar."
n=0
for piece in "$out"/stage/payload.tar.?; do
  n=$((n + 1))
  mkdir -p "$out/part$n"
  mv "$piece" "$out/part$n/"
  (cd "$out/part$n" && sha256sum -- payload.tar.* > SHA256SUMS)
done
# every part knows how many there are and the whole payload's hash: gpu-check.sh can tell which are missing
total=$(sha256sum "$out/stage/payload.tar" | cut -d' ' -f1)
for p in "$out"/part?; do
  echo "$n $total" > "$p/PARTS"
done
du -sb "$out"/part? | awk '{printf "gpu-pack: %s %.1f MiB\n", $2, $1 / 1048576}'
for p in "$out"/part?; do
  [ "$(du -sb "$p" | cut -f1)" -le $((55 * 1048576)) ] || die "$p is over 55 MiB: it would not fit one carry"
done
echo "gpu-pack: $n parts: carry .gpu/part1 in the first device call, ... .gpu/part$n in the one that runs deploy/gpu-check.sh"
