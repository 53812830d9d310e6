/** `import text from "file?raw"`: the file's text (vite/vitest natively; esbuild via scripts/build.mjs's raw plugin). */
declare module "*?raw" {
  const text: string;
  export default text;
}
