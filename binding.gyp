# node-gyp build of the native backend (used by scripts/install.cjs, `npm run build:gyp` and
# tools/prepack.mjs). Same sources and flags as CMakeLists.txt. OpenBLAS is linked statically when
# `gcc -print-file-name=libopenblas.a` finds the archive (set TAPEGRAD_OPENBLAS_SHARED=1 to force
# the shared library), with --exclude-libs,ALL so its symbols stay private to the addon.
# TAPEGRAD_OPENBLAS_DIR=<prefix> uses <prefix>/include and <prefix>/lib/libopenblas.a (openblas.lib on
# Windows) instead: the macOS and Windows builds of .github/workflows/native.yml.
{
  "targets": [
    {
      "target_name": "tapegrad",
      "sources": [
        "native/addon.cc", "native/args.cc", "native/gemm.cc", "native/gemm_rows.cc", "native/pair.cc", "native/elementwise.cc",
        "native/reduce.cc", "native/loss.cc", "native/optim.cc", "native/norm.cc", "native/linear.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"process.env.TAPEGRAD_OPENBLAS_DIR ? process.env.TAPEGRAD_OPENBLAS_DIR + '/include' : 'native'\")"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-O2"],
      "cflags_cc!": ["-std=gnu++1y", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fvisibility=hidden"],
      "libraries": [
        "<!@(node -e \"let d=process.env.TAPEGRAD_OPENBLAS_DIR,p='';if(d){console.log(d+(process.platform==='win32'?'/lib/openblas.lib':'/lib/libopenblas.a'));process.exit()}try{p=require('child_process').execSync('gcc -print-file-name=libopenblas.a',{stdio:['ignore','pipe','ignore']}).toString().trim()}catch(e){}console.log(p.startsWith('/')&&!process.env.TAPEGRAD_OPENBLAS_SHARED?p+' -lm -lpthread -Wl,--exclude-libs,ALL':'-lopenblas')\")"
      ],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "OTHER_CPLUSPLUSFLAGS": ["-fno-math-errno"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='win'", {
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2"] } }
        }]
      ]
    }
  ]
}
