// node-gyp-build ships no types (and there is no @types package).
declare module 'node-gyp-build' {
  /** Loads the addon of the package at `dir`: build/Release, build/Debug, then prebuilds/<platform>-<arch>. */
  function load(dir: string): unknown;
  namespace load {
    /** The path load(dir) would require; throws "No native build was found for ..." when there is none. */
    function resolve(dir: string): string;
    function path(dir: string): string;
  }
  export = load;
}
