#!/usr/bin/env bash
# Builds the linux-arm64 addon on an x86-64 Debian 12 machine and tests it under qemu:
#   1. (root) installs the aarch64 cross compiler, multiarch libopenblas-dev:arm64 and qemu-user-static,
#      and unpacks Debian's arm64 nodejs (18.x) with its libraries into $WORK/sysroot;
#   2. compiles native/*.cc with OpenBLAS linked statically (no libopenblas.so needed at run time);
#   3. packs @tapegrad/linux-arm64-gnu (npm/linux-arm64-gnu) and the main package, installs both
#      into an empty project for linux-arm64 with --ignore-scripts;
#   4. runs tools/native-check.mjs there with the arm64 node under qemu (native loads from the
#      platform package, gemm matches the JS backend, 20 SGD steps match JS) and compares the losses
#      with the same run on this machine.
# Usage: tools/cross-arm64.sh [WORK_DIR]   (default build/arm64; needs `npm run build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mkdir -p "${1:-build/arm64}" && cd "${1:-build/arm64}" && pwd)
SYSROOT=$WORK/sysroot
step() { echo "cross-arm64: $* ($SECONDS s)"; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! dpkg -s libopenblas-dev:arm64 g++-aarch64-linux-gnu qemu-user-static >/dev/null 2>&1; then
  step "installing the arm64 toolchain"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    g++-aarch64-linux-gnu libopenblas-dev:arm64 qemu-user-static >/dev/null
fi
if [ ! -x "$SYSROOT/usr/bin/node" ]; then
  step "unpacking Debian's arm64 node into $SYSROOT"
  mkdir -p "$WORK/debs" "$SYSROOT"
  # nodejs:arm64 and what it loads (libraries and the JS modules Debian unbundled)
  (cd "$WORK/debs" && apt-get download -qq nodejs:arm64 libnode108:arm64 libc6:arm64 libstdc++6:arm64 \
    libgcc-s1:arm64 libbrotli1:arm64 libc-ares2:arm64 libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 \
    libuv1:arm64 zlib1g:arm64 node-acorn node-cjs-module-lexer node-undici 2>/dev/null)
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
fi
QEMU_NODE=(qemu-aarch64-static -L "$SYSROOT" "$SYSROOT/usr/bin/node")

step "cross-compiling the addon"
OPENBLAS=/usr/lib/aarch64-linux-gnu/libopenblas.a
aarch64-linux-gnu-g++ -std=c++17 -O3 -fno-math-errno -fvisibility=hidden -fPIC -shared \
  -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_CPP_EXCEPTIONS \
  -I node_modules/node-addon-api -I node_modules/node-api-headers/include -I /usr/include/aarch64-linux-gnu \
  native/*.cc "$OPENBLAS" -lm -lpthread -Wl,--exclude-libs,ALL -o "$WORK/tapegrad.node"
aarch64-linux-gnu-strip --strip-unneeded "$WORK/tapegrad.node"
if aarch64-linux-gnu-readelf -d "$WORK/tapegrad.node" | grep -E 'NEEDED.*(openblas|gfortran)'; then
  echo "cross-arm64: the addon links a shared OpenBLAS" >&2; exit 1
fi
step "built $(du -m "$WORK/tapegrad.node" | cut -f1) MB $WORK/tapegrad.node"

step "packing and installing into an empty linux-arm64 project"
PLATFORM_TGZ=$(node tools/platform-package.mjs "$WORK/tapegrad.node" npm/linux-arm64-gnu "$WORK")
MAIN_TGZ=$WORK/$(npm pack --ignore-scripts --json --pack-destination "$WORK" 2>/dev/null | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename')
rm -rf "$WORK/app" && mkdir -p "$WORK/app"
echo '{"name":"app","version":"1.0.0","private":true}' > "$WORK/app/package.json"
# --force: npm refuses an explicitly named package of another cpu otherwise
(cd "$WORK/app" && npm install --ignore-scripts --force --os=linux --cpu=arm64 --libc=glibc --prefer-offline \
  --no-audit --no-fund --loglevel=error "$MAIN_TGZ" "$PLATFORM_TGZ" >/dev/null)

step "running tools/native-check.mjs under qemu-aarch64"
ARM=$(cd "$WORK/app" && "${QEMU_NODE[@]}" "$ROOT/tools/native-check.mjs")
echo "$ARM"
X64=$(node tools/native-check.mjs)
node -e '
  const [arm, x64] = process.argv.slice(1).map((s) => JSON.parse(s));
  if (arm.arch !== "arm64" || !/platform package/.test(arm.reason)) throw new Error(`not the arm64 platform package: ${arm.reason}`);
  const d = Math.max(...arm.losses.map((l, i) => Math.abs(l - x64.losses[i])));
  console.log(`cross-arm64: 20 steps on arm64 vs x64: max loss difference ${d.toExponential(2)}`);
  if (!(d < 1e-4)) process.exit(1);' "$ARM" "$X64"
step "done"
