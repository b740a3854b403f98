# node-gyp build of the native backend (used by scripts/install.cjs, `npm run build:gyp` and
# prebuildify). Same sources and flags as CMakeLists.txt. OpenBLAS is linked statically when
# `gcc -print-file-name=libopenblas.a` finds the archive (set TAPEGRAD_OPENBLAS_SHARED=1 to force
# the shared library), with --exclude-libs,ALL so its symbols stay private to the addon.
{
  "targets": [
    {
      "target_name": "tapegrad",
      "sources": [
        "native/addon.cc", "native/args.cc", "native/gemm.cc", "native/elementwise.cc",
        "native/reduce.cc", "native/loss.cc", "native/optim.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-O2"],
      "cflags_cc!": ["-std=gnu++1y", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fvisibility=hidden"],
      "libraries": [
        "<!@(node -e \"let p='';try{p=require('child_process').execSync('gcc -print-file-name=libopenblas.a',{stdio:['ignore','pipe','ignore']}).toString().trim()}catch(e){}console.log(p.startsWith('/')&&!process.env.TAPEGRAD_OPENBLAS_SHARED?p+' -lm -lpthread -Wl,--exclude-libs,ALL':'-lopenblas')\")"
      ]
    }
  ]
}
